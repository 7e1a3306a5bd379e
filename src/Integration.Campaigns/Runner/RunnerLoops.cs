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
    private static readonly TimeSpan FirstIdleDelay = TimeSpan.FromMilliseconds(10);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        await Task.WhenAll(
            LoopAsync("event triggers", triggers.PollOnceAsync, stoppingToken, TimeSpan.FromMilliseconds(options.Value.TriggerBatchWindowMs)),
            LoopAsync("pending steps", pendingSteps.RunDueAsync, stoppingToken),
            LoopAsync("scheduled runs", scheduled.RunDueAsync, stoppingToken));
        try
        {
            // The loops have stopped, so no batch is in flight: the other replicas may read these partitions at once.
            await triggers.ReleasePartitionsAsync();
        }
        catch (Exception ex) when (ex is StackExchange.Redis.RedisException or TimeoutException)
        {
            LogReleaseFailed(ex);
        }
    }

    /// <param name="batchWindow">After work, the next iteration starts no sooner than this after the last one started.</param>
    private async Task LoopAsync(string name, Func<CancellationToken, Task<int>> iteration, CancellationToken stoppingToken,
        TimeSpan batchWindow = default)
    {
        // Polling runs on the real clock; "now" inside the iterations comes from the TimeProvider.
        // After work the loop looks again at once, then backs off (10, 20, 40 … ms) to the poll interval, as the
        // delivery lanes do: under steady traffic a new event waits milliseconds, not up to a whole interval, while
        // an idle loop still polls once an interval.
        var interval = TimeSpan.FromMilliseconds(options.Value.PollIntervalMs);
        var firstIdleDelay = TimeSpan.FromTicks(Math.Min(FirstIdleDelay.Ticks, interval.Ticks));
        var idleDelay = interval;
        while (!stoppingToken.IsCancellationRequested)
        {
            var didWork = false;
            var started = Environment.TickCount64;
            try
            {
                didWork = await iteration(stoppingToken) > 0;
            }
            catch (Exception ex) when (!stoppingToken.IsCancellationRequested)
            {
                LogIterationFailed(ex, name);
            }
            if (didWork)
            {
                idleDelay = firstIdleDelay;
                var rest = batchWindow - TimeSpan.FromMilliseconds(Environment.TickCount64 - started);
                if (rest > TimeSpan.Zero)
                {
                    // Events keep coming: let a few more arrive, so the next batch shares its fixed cost among them.
                    try
                    {
                        await Task.Delay(rest, stoppingToken);
                    }
                    catch (OperationCanceledException)
                    {
                        return;
                    }
                }
                continue;
            }
            try
            {
                await Task.Delay(idleDelay, stoppingToken);
            }
            catch (OperationCanceledException)
            {
                return;
            }
            idleDelay = TimeSpan.FromTicks(Math.Min(idleDelay.Ticks * 2, interval.Ticks));
        }
    }

    [LoggerMessage(LogLevel.Warning, "Could not give the event stream partitions back; the other replicas take them when the leases lapse")]
    private partial void LogReleaseFailed(Exception ex);

    [LoggerMessage(LogLevel.Warning, "Campaign runner loop '{Loop}' failed; it continues")]
    private partial void LogIterationFailed(Exception ex, string loop);
}
