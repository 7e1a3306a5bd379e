using Integration.Campaigns.Storage;
using Integration.Domain;
using Microsoft.Extensions.Options;
using StackExchange.Redis;

namespace Integration.Campaigns.Runner;

/// <summary>
/// Samples the event streams' consumer group every few seconds (XINFO GROUPS: entries not yet read, and
/// read but not acknowledged), so the dashboard shows whether the trigger consumer keeps up.
/// </summary>
internal sealed partial class TriggerStreamSampler(
    IConnectionMultiplexer redis,
    ICampaignStore store,
    CampaignMetrics metrics,
    IOptions<CampaignsOptions> options,
    TimeProvider time,
    ILogger<TriggerStreamSampler> logger) : BackgroundService
{
    private static readonly TimeSpan Interval = TimeSpan.FromSeconds(5);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(Interval, time);
        while (await timer.WaitForNextTickAsync(stoppingToken))
        {
            try
            {
                long lag = 0, pending = 0;
                var db = redis.GetDatabase();
                foreach (var stream in (await store.TriggerWorkspacesAsync()).SelectMany(ws => EventStream.Keys(ws).Append(EventStream.LegacyKey(ws))))
                {
                    if (!await db.KeyExistsAsync(stream))
                    {
                        continue;
                    }
                    foreach (var group in await db.StreamGroupInfoAsync(stream))
                    {
                        if (group.Name == options.Value.ConsumerGroup)
                        {
                            lag += group.Lag ?? 0;
                            pending += group.PendingMessageCount;
                        }
                    }
                }
                metrics.SetTriggerStreamBacklog(lag, pending);
            }
            catch (Exception ex) when (ex is RedisException or TimeoutException)
            {
                LogSampleFailed(logger, ex);
            }
        }
    }

    [LoggerMessage(Level = LogLevel.Debug, Message = "Could not sample the trigger streams.")]
    private static partial void LogSampleFailed(ILogger logger, Exception exception);
}
