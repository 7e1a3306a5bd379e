using Integration.Campaigns.Model;
using Integration.Campaigns.Sending;
using Integration.Campaigns.Storage;
using Integration.Campaigns.V1;
using Microsoft.Extensions.Options;

namespace Integration.Campaigns.Runner;

/// <summary>
/// Runs One Time and Periodic campaigns when due. A run is claimed in Redis with a lease; its trigger id is
/// the scheduled time, so a run repeated after a crash produces the same delivery ids and never double-sends.
/// </summary>
internal sealed partial class ScheduledRunner(
    ICampaignStore store,
    IScheduleStore schedule,
    CampaignLifecycle lifecycle,
    CampaignSender sender,
    ZoneRunner zoneRuns,
    IOptions<CampaignsOptions> options,
    TimeProvider time,
    ILogger<ScheduledRunner> logger)
{
    private const int ClaimBatch = 10;

    /// <summary>Runs every due campaign once; returns how many runs were done.</summary>
    public async Task<int> RunDueAsync(CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        var claimed = await schedule.ClaimDueAsync(now, now.AddSeconds(options.Value.LeaseSeconds), ClaimBatch);
        var done = 0;
        foreach (var run in claimed)
        {
            try
            {
                if (await RunAsync(run, cancellationToken))
                {
                    done++;
                }
            }
            catch (Exception ex) when (!cancellationToken.IsCancellationRequested)
            {
                // The lease runs out and a replica (maybe this one) repeats the run with the same delivery ids.
                LogRunFailed(ex, run.WorkspaceId, run.CampaignId);
            }
        }
        return done;
    }

    private async Task<bool> RunAsync(ScheduledRun run, CancellationToken cancellationToken)
    {
        var campaign = await store.GetAsync(run.WorkspaceId, run.CampaignId);
        if (campaign is null || campaign.State != CampaignState.Active || CampaignLifecycle.DueAt(campaign) is null)
        {
            await schedule.RemoveAsync(run.WorkspaceId, run.CampaignId);
            return false;
        }
        if (UserTimeZones.Of(campaign.Spec) is { } zones)
        {
            return await zoneRuns.RunAsync(campaign, zones, cancellationToken);
        }
        var now = time.GetUtcNow();
        var runAt = campaign.NextRunMs;
        if (runAt > now.ToUnixTimeMilliseconds())
        {
            await lifecycle.SyncScheduleAsync(campaign);
            return false;
        }

        var summary = await sender.SendToAudienceAsync(campaign, new SendTrigger($"run:{runAt}", SendTrigger.None, SendTrigger.None, null), cancellationToken);
        LogRunDone(campaign.CampaignId, runAt, summary.Enqueued, summary.Skipped);

        var updated = await lifecycle.MutateAsync(campaign.WorkspaceId, campaign.CampaignId, c =>
        {
            if (c.NextRunMs != runAt || c.State != CampaignState.Active)
            {
                return;
            }
            CampaignLifecycle.Advance(c, runAt, now);
            if (c.NextRunMs == 0)
            {
                c.State = CampaignState.Completed;
            }
        });
        await lifecycle.SyncScheduleAsync(updated);
        return true;
    }

    [LoggerMessage(LogLevel.Warning, "Scheduled run of campaign {CampaignId} in workspace {WorkspaceId} failed; it is retried when its lease ends")]
    private partial void LogRunFailed(Exception ex, string workspaceId, string campaignId);

    [LoggerMessage(LogLevel.Information, "Campaign {CampaignId} run at {RunAtMs}: {Enqueued} deliveries enqueued, {Skipped} users skipped")]
    private partial void LogRunDone(string campaignId, long runAtMs, int enqueued, int skipped);
}
