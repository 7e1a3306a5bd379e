using System.Collections.Concurrent;
using Integration.Campaigns.Storage;
using Integration.Campaigns.V1;

namespace Integration.Campaigns.Runner;

/// <summary>
/// A workspace's active event-triggered campaigns, by the event that triggers them and by their exit event, and its
/// active campaigns with conversion goals, by goal event.
/// </summary>
internal sealed class WorkspaceTriggers
{
    public static readonly WorkspaceTriggers Empty = new(-1, [], []);

    public WorkspaceTriggers(long version, IReadOnlyList<Campaign> campaigns, IReadOnlyList<Campaign> withGoals)
    {
        Version = version;
        Campaigns = campaigns;
        ByEvent = campaigns.GroupBy(c => c.Spec.EventTriggered.EventName, StringComparer.Ordinal)
            .ToDictionary(g => g.Key, g => g.ToArray(), StringComparer.Ordinal);
        ByExitEvent = campaigns.Where(c => c.Spec.EventTriggered.ExitEventName.Length > 0)
            .GroupBy(c => c.Spec.EventTriggered.ExitEventName, StringComparer.Ordinal)
            .ToDictionary(g => g.Key, g => g.ToArray(), StringComparer.Ordinal);
        ByGoalEvent = withGoals.SelectMany(c => c.Spec.ConversionGoals.Events.Select(g => (g.EventName, Campaign: c)))
            .DistinctBy(x => (x.EventName, x.Campaign.CampaignId))
            .GroupBy(x => x.EventName, StringComparer.Ordinal)
            .ToDictionary(g => g.Key, g => g.Select(x => x.Campaign).ToArray(), StringComparer.Ordinal);
    }

    public long Version { get; }

    public IReadOnlyList<Campaign> Campaigns { get; }

    public IReadOnlyDictionary<string, Campaign[]> ByEvent { get; }

    public IReadOnlyDictionary<string, Campaign[]> ByExitEvent { get; }

    /// <summary>Campaigns with conversion goals, by goal event name.</summary>
    public IReadOnlyDictionary<string, Campaign[]> ByGoalEvent { get; }

    /// <summary>Nothing in the workspace's stream matters: no triggers and no goals.</summary>
    public bool IsEmpty => Campaigns.Count == 0 && ByGoalEvent.Count == 0;
}

/// <summary>
/// The active event-triggered campaigns of each workspace, parsed once and kept in memory. Every replica asks
/// Redis for the workspace's change counter (one GET) and re-reads the campaigns only when it moved, so a campaign
/// activated, paused or edited through any replica is seen by all of them at their next look.
/// </summary>
internal sealed class TriggerIndex(ICampaignStore store)
{
    private readonly ConcurrentDictionary<string, (WorkspaceTriggers Triggers, long CheckedAtMs)> _byWorkspace = new(StringComparer.Ordinal);

    /// <summary>The current campaigns: checked against the change counter now.</summary>
    public Task<WorkspaceTriggers> CurrentAsync(string workspaceId) => GetAsync(workspaceId, TimeSpan.Zero);

    /// <summary>
    /// The campaigns as checked at most <paramref name="maxAge"/> ago (on the real clock, as the polling runs) if
    /// there were any, else as they are now. Good enough to decide whether a stream needs reading at all; what the
    /// read entries are matched against comes from <see cref="CurrentAsync"/>, asked after the read, so an event
    /// stored after an activation always meets the activated campaign.
    /// </summary>
    public async Task<WorkspaceTriggers> GetAsync(string workspaceId, TimeSpan maxAge)
    {
        var now = Environment.TickCount64;
        if (maxAge > TimeSpan.Zero && _byWorkspace.TryGetValue(workspaceId, out var cached) && !cached.Triggers.IsEmpty
            && now - cached.CheckedAtMs <= maxAge.TotalMilliseconds)
        {
            return cached.Triggers;
        }
        var version = await store.ChangeVersionAsync(workspaceId);
        if (_byWorkspace.TryGetValue(workspaceId, out cached) && cached.Triggers.Version == version)
        {
            _byWorkspace[workspaceId] = (cached.Triggers, now);
            return cached.Triggers;
        }
        var triggers = new WorkspaceTriggers(version, await store.ActiveEventTriggeredAsync(workspaceId), await store.ActiveWithGoalsAsync(workspaceId));
        _byWorkspace[workspaceId] = (triggers, now);
        return triggers;
    }
}
