using Grpc.Core;
using Integration.Campaigns.Storage;
using Integration.Campaigns.V1;

namespace Integration.Campaigns.Model;

/// <summary>State changes of campaigns and the schedule entries that follow from them.</summary>
internal sealed class CampaignLifecycle(ICampaignStore store, IScheduleStore schedule, TimeProvider time)
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
                var next = Recurrence.Next(campaign.Spec.Periodic, now.AddMilliseconds(-1),
                    DateTimeOffset.FromUnixTimeMilliseconds(campaign.ActivatedAtMs), campaign.Runs);
                campaign.NextRunMs = next?.ToUnixTimeMilliseconds() ?? 0;
                break;
            default:
                campaign.NextRunMs = 0;
                return;
        }
        if (campaign.NextRunMs == 0)
        {
            campaign.State = CampaignState.Completed;
        }
    }

    /// <summary>Puts the schedule entry in line with the campaign: present (at its next run) only while it is active.</summary>
    public Task SyncScheduleAsync(Campaign campaign) =>
        campaign.State == CampaignState.Active && campaign.NextRunMs > 0
            ? schedule.SetAsync(campaign.WorkspaceId, campaign.CampaignId, DateTimeOffset.FromUnixTimeMilliseconds(campaign.NextRunMs))
            : schedule.RemoveAsync(campaign.WorkspaceId, campaign.CampaignId);

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
