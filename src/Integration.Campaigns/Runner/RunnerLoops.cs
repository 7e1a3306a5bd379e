using Microsoft.Extensions.Options;

namespace Integration.Campaigns.Runner;

/// <summary>
/// Hosts the runner's three loops (event triggers, pending steps, scheduled runs). Each iteration's failure is
/// logged and the loop goes on; all shared state is in Redis, so any number of replicas can run them.
/// </summary>
internal sealed partial class RunnerLoops(
    TriggerConsumer triggers,
    PendingStepRunner pendingSteps,
    ScheduledRunner scheduled,
    IOptions<CampaignsOptions> options,
    ILogger<RunnerLoops> logger) : BackgroundService
{
    protected override Task ExecuteAsync(CancellationToken stoppingToken) => Task.WhenAll(
        LoopAsync("event triggers", triggers.PollOnceAsync, stoppingToken),
        LoopAsync("pending steps", pendingSteps.RunDueAsync, stoppingToken),
        LoopAsync("scheduled runs", scheduled.RunDueAsync, stoppingToken));

    private async Task LoopAsync(string name, Func<CancellationToken, Task<int>> iteration, CancellationToken stoppingToken)
    {
        // Polling runs on the real clock; "now" inside the iterations comes from the TimeProvider.
        var interval = TimeSpan.FromMilliseconds(options.Value.PollIntervalMs);
        while (!stoppingToken.IsCancellationRequested)
        {
            var didWork = false;
            try
            {
                didWork = await iteration(stoppingToken) > 0;
            }
            catch (Exception ex) when (!stoppingToken.IsCancellationRequested)
            {
                LogIterationFailed(ex, name);
            }
            if (!didWork)
            {
                try
                {
                    await Task.Delay(interval, stoppingToken);
                }
                catch (OperationCanceledException)
                {
                    return;
                }
            }
        }
    }

    [LoggerMessage(LogLevel.Warning, "Campaign runner loop '{Loop}' failed; it continues")]
    private partial void LogIterationFailed(Exception ex, string loop);
}
