using Grpc.Core;
using Integration.Campaigns.Storage;
using Integration.Campaigns.V1;

namespace Integration.Campaigns.Model;

/// <summary>State changes of campaigns and the schedule entries that follow from them.</summary>
internal sealed class CampaignLifecycle(ICampaignStore store, IScheduleStore schedule, Runner.TriggerConsumer triggers, TimeProvider time)
{
    private const int MaxConflictRetries = 10;

    /// <summary>Makes a campaign active and computes its first run (One Time, Periodic).</summary>
    public void Activate(Campaign campaign)
    {
        campaign.State = CampaignState.Active;
        campaign.ActivatedAtMs = time.GetUtcNow().ToUnixTimeMilliseconds();
        Reschedule(campaign);
    }

    /// <summary>Recomputes the next run of an active One Time or Periodic campaign from now.</summary>
    public void Reschedule(Campaign campaign)
    {
        var now = time.GetUtcNow();
        switch (campaign.Spec.DeliveryCase)
        {
            case CampaignSpec.DeliveryOneofCase.OneTime:
                campaign.NextRunMs = campaign.Runs > 0 ? 0
                    : campaign.Spec.OneTime.SendAtMs > 0 ? campaign.Spec.OneTime.SendAtMs
                    : now.ToUnixTimeMilliseconds();
                break;
            case CampaignSpec.DeliveryOneofCase.Periodic:
                // An occurrence already being sent zone by zone goes on; the next one comes after it.
                var after = campaign.ZoneRuns.Count > 0
                    ? DateTimeOffset.FromUnixTimeMilliseconds(Math.Max(now.ToUnixTimeMilliseconds() - 1, campaign.ZoneRuns.Max(r => r.OccurrenceMs)))
                    : now.AddMilliseconds(-1);
                var next = Recurrence.Next(campaign.Spec.Periodic, after,
                    DateTimeOffset.FromUnixTimeMilliseconds(campaign.ActivatedAtMs), campaign.Runs);
                campaign.NextRunMs = next?.ToUnixTimeMilliseconds() ?? 0;
                break;
            default:
                campaign.NextRunMs = 0;
                return;
        }
        if (campaign.NextRunMs == 0 && campaign.ZoneRuns.Count == 0)
        {
            campaign.State = CampaignState.Completed;
        }
    }

    /// <summary>
    /// Puts the runner's state in line with the campaign: the schedule entry present (at its next run) only
    /// while it is active, and for an active event-triggered campaign the stream's consumer group in place
    /// from now on, so events stored after activation are never missed.
    /// </summary>
    public async Task SyncScheduleAsync(Campaign campaign)
    {
        var active = campaign.State == CampaignState.Active;
        if (active && DueAt(campaign) is { } due)
        {
            await schedule.SetAsync(campaign.WorkspaceId, campaign.CampaignId, due);
        }
        else
        {
            await schedule.RemoveAsync(campaign.WorkspaceId, campaign.CampaignId);
        }
        if (active && (campaign.Spec.DeliveryCase == CampaignSpec.DeliveryOneofCase.EventTriggered || Goals.ConversionTracker.HasGoals(campaign)))
        {
            await triggers.EnsureGroupAsync(campaign.WorkspaceId);
        }
    }

    /// <summary>Counts the run of <paramref name="runAt"/> and moves the campaign's next run on (0: none left).</summary>
    public static void Advance(Campaign campaign, long runAt, DateTimeOffset now)
    {
        campaign.Runs++;
        if (campaign.Spec.DeliveryCase == CampaignSpec.DeliveryOneofCase.Periodic)
        {
            // Occurrences missed while no runner was up are not sent late; the schedule continues from now.
            var after = DateTimeOffset.FromUnixTimeMilliseconds(Math.Max(runAt, now.ToUnixTimeMilliseconds()));
            var next = Recurrence.Next(campaign.Spec.Periodic, after, DateTimeOffset.FromUnixTimeMilliseconds(campaign.ActivatedAtMs), campaign.Runs);
            campaign.NextRunMs = next?.ToUnixTimeMilliseconds() ?? 0;
        }
        else
        {
            campaign.NextRunMs = 0;
        }
    }

    /// <summary>
    /// When the runner next has work for a One Time or Periodic campaign, or null: its next run; in users' time zones
    /// the earlier of the next occurrence's opening (its UTC+14 time) and the next zone due in an occurrence being sent.
    /// </summary>
    public static DateTimeOffset? DueAt(Campaign campaign)
    {
        if (UserTimeZones.Of(campaign.Spec) is null)
        {
            return campaign.NextRunMs > 0 ? DateTimeOffset.FromUnixTimeMilliseconds(campaign.NextRunMs) : null;
        }
        DateTimeOffset? due = campaign.NextRunMs > 0 ? UserTimeZones.Opens(campaign.Spec, campaign.NextRunMs) : null;
        foreach (var run in campaign.ZoneRuns)
        {
            var next = DateTimeOffset.FromUnixTimeMilliseconds(run.NextDueMs);
            due = due is null || next < due ? next : due;
        }
        return due;
    }

    public async Task<Campaign> ChangeStateAsync((string WorkspaceId, string CampaignId) ids, CampaignState target)
    {
        var campaign = await MutateAsync(ids.WorkspaceId, ids.CampaignId, c =>
        {
            if (c.State == target)
            {
                return;
            }
            switch (target)
            {
                case CampaignState.Paused when c.State != CampaignState.Active:
                    throw Precondition($"Only an active campaign can be paused; this one is {Name(c.State)}.");
                case CampaignState.Paused:
                    c.State = CampaignState.Paused;
                    break;
                case CampaignState.Active when c.State is not (CampaignState.Draft or CampaignState.Paused):
                    throw Precondition($"Only a draft or paused campaign can be resumed; this one is {Name(c.State)}.");
                case CampaignState.Active:
                    Activate(c);
                    break;
                case CampaignState.Archived:
                    c.State = CampaignState.Archived;
                    break;
            }
        });
        await SyncScheduleAsync(campaign);
        return campaign;
    }

    /// <summary>Applies a change with optimistic concurrency (retried on a conflicting write); bumps the version.</summary>
    public async Task<Campaign> MutateAsync(string workspaceId, string campaignId, Action<Campaign> change)
    {
        for (var attempt = 0; attempt < MaxConflictRetries; attempt++)
        {
            var campaign = await store.GetAsync(workspaceId, campaignId)
                ?? throw new RpcException(new Status(StatusCode.NotFound, $"campaign_id: no campaign '{campaignId}' in workspace '{workspaceId}'."));
            var expected = campaign.Version;
            var before = campaign.Clone();
            change(campaign);
            if (campaign.Equals(before))
            {
                return campaign;
            }
            campaign.Version = expected + 1;
            campaign.UpdatedAtMs = time.GetUtcNow().ToUnixTimeMilliseconds();
            if (await store.TrySaveAsync(campaign, expected))
            {
                return campaign;
            }
        }
        throw new RpcException(new Status(StatusCode.Aborted, "The campaign is being changed concurrently; retry."));
    }

    private static RpcException Precondition(string message) => new(new Status(StatusCode.FailedPrecondition, message));

    private static string Name(CampaignState state) => state.ToString().ToLowerInvariant();
}
