using System.Diagnostics;
using Integration.Campaigns.Controls;
using Integration.Campaigns.Model;
using Integration.Campaigns.Sending;
using Integration.Campaigns.V1;

namespace Integration.Campaigns.Runner;

/// <summary>
/// One Time and Periodic campaigns sent in users' time zones (docs/campaigns.md, "User time zones"). The campaign's one
/// schedule entry is due at the earliest of: its next occurrence's opening (the occurrence's local time in UTC+14) and
/// the next zone due in each occurrence being sent (<see cref="Campaign.ZoneRuns"/>). Opening an occurrence records a
/// zone run; each pass then reads the audience once and sends to the users whose local time has come since the last
/// pass, so the passes of an occurrence are as many as the distinct due instants of its users (at most one per UTC
/// offset in use), whatever the audience's size. Called under the schedule entry's lease; the deliveries' trigger id is
/// the occurrence, so a pass repeated after a crash, or a user met again, produces the same delivery ids.
/// </summary>
internal sealed partial class ZoneRunner(
    CampaignLifecycle lifecycle,
    CampaignSender sender,
    IWorkspaceSettingsStore settings,
    TimeProvider time,
    CampaignMetrics metrics,
    ILogger<ZoneRunner> logger)
{
    // Bounds the per-pass cache of zone ids (a profile attribute can hold anything).
    private const int MaxZonesKept = 1000;

    /// <summary>Opens the next occurrence if its first zone has come, then runs each due pass; true if it did either.</summary>
    public async Task<bool> RunAsync(Campaign campaign, UserTimeZoneDelivery setting, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        var nowMs = now.ToUnixTimeMilliseconds();
        var worked = false;
        if (campaign.NextRunMs > 0 && UserTimeZones.Opens(campaign.Spec, campaign.NextRunMs) <= now)
        {
            campaign = await OpenAsync(campaign, now);
            worked = true;
        }
        foreach (var run in campaign.ZoneRuns.Where(r => r.NextDueMs <= nowMs).ToList())
        {
            var next = await PassAsync(campaign, run, setting, now, cancellationToken);
            campaign = await lifecycle.MutateAsync(campaign.WorkspaceId, campaign.CampaignId, c =>
            {
                var stored = c.ZoneRuns.FirstOrDefault(r => r.OccurrenceMs == run.OccurrenceMs);
                if (stored is null)
                {
                    return;
                }
                if (next is { } due)
                {
                    stored.DoneUntilMs = nowMs;
                    stored.NextDueMs = due.ToUnixTimeMilliseconds();
                }
                else
                {
                    c.ZoneRuns.Remove(stored);
                }
                if (c.State == CampaignState.Active && c.NextRunMs == 0 && c.ZoneRuns.Count == 0)
                {
                    c.State = CampaignState.Completed;
                }
            });
            worked = true;
        }
        await lifecycle.SyncScheduleAsync(campaign);
        return worked;
    }

    private Task<Campaign> OpenAsync(Campaign campaign, DateTimeOffset now)
    {
        var occurrence = campaign.NextRunMs;
        return lifecycle.MutateAsync(campaign.WorkspaceId, campaign.CampaignId, c =>
        {
            if (c.NextRunMs != occurrence || c.State != CampaignState.Active || c.ZoneRuns.Any(r => r.OccurrenceMs == occurrence))
            {
                return;
            }
            var opens = UserTimeZones.Opens(c.Spec, occurrence).ToUnixTimeMilliseconds();
            // Zones whose local time came before the activation have passed (the passed_time_zone_action decides for them).
            c.ZoneRuns.Add(new ZoneRun { OccurrenceMs = occurrence, StartedAtMs = Math.Max(opens, c.ActivatedAtMs), NextDueMs = now.ToUnixTimeMilliseconds() });
            CampaignLifecycle.Advance(c, occurrence, now);
        });
    }

    /// <summary>Sends to the users due since the last pass; returns when the next users are due, or null when none wait.</summary>
    private async Task<DateTimeOffset?> PassAsync(Campaign campaign, ZoneRun run, UserTimeZoneDelivery setting, DateTimeOffset now,
        CancellationToken cancellationToken)
    {
        using var activity = CampaignMetrics.Source.StartActivity("campaign time zone pass");
        activity?.SetTag("campaign.id", campaign.CampaignId);
        activity?.SetTag("campaign.occurrence_ms", run.OccurrenceMs);
        var workspace = await settings.GetAsync(campaign.WorkspaceId);
        var local = UserTimeZones.LocalTime(campaign.Spec, run.OccurrenceMs);
        var campaignZone = UserTimeZones.CampaignZone(campaign.Spec);
        var campaignTime = DateTimeOffset.FromUnixTimeMilliseconds(run.OccurrenceMs);
        // Users share a handful of zones: each distinct attribute value is looked up and converted once a pass.
        var dueByZone = new Dictionary<string, DateTimeOffset>(StringComparer.Ordinal);
        DateTimeOffset LocalDue(string? zoneId)
        {
            if (zoneId is null)
            {
                return Recurrence.ToInstant(local, campaignZone);
            }
            if (!dueByZone.TryGetValue(zoneId, out var due))
            {
                due = Recurrence.ToInstant(local, Recurrence.FindZone(zoneId) ?? campaignZone);
                if (dueByZone.Count < MaxZonesKept)
                {
                    dueByZone[zoneId] = due;
                }
            }
            return due;
        }
        var pass = new ZonePass(user => UserTimeZones.Turn(run, setting, LocalDue(RedisWorkspaceSettingsStore.UserZoneId(workspace, user)), campaignTime, now),
            metrics);

        var summary = await sender.SendToAudienceAsync(campaign, new SendTrigger($"run:{run.OccurrenceMs}", SendTrigger.None, SendTrigger.None,
            activity?.Id), cancellationToken, pass);

        activity?.SetTag("campaign.enqueued", summary.Enqueued);
        activity?.SetTag("campaign.skipped", summary.Skipped);
        activity?.SetTag("campaign.waiting", pass.Waiting);
        if (pass.NextDue is { } next)
        {
            activity?.SetTag("campaign.next_due_ms", next.ToUnixTimeMilliseconds());
        }
        activity?.SetStatus(ActivityStatusCode.Ok);
        LogPassDone(campaign.CampaignId, run.OccurrenceMs, summary.Enqueued, summary.Skipped, pass.Waiting);
        return pass.NextDue;
    }

    [LoggerMessage(LogLevel.Information,
        "Campaign {CampaignId} occurrence {OccurrenceMs} in users' time zones: {Enqueued} deliveries enqueued, {Skipped} users skipped, {Waiting} users wait for their zone")]
    private partial void LogPassDone(string campaignId, long occurrenceMs, int enqueued, int skipped, int waiting);
}
