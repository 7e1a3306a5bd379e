using System.Diagnostics;
using Integration.Campaigns.Delivery;
using Integration.Campaigns.Users;
using Integration.Campaigns.V1;
using Integration.Common.V1;
using Integration.Domain;
using Integration.Domain.Segments;
using StackExchange.Redis;

namespace Integration.Campaigns.Goals;

/// <summary>
/// Conversion goals: watches the event stream (fed by the trigger consumer, which reads it once for both) for the
/// goal events of active campaigns and counts a conversion for each successful delivery of the campaign to that user
/// that the event follows within the attribution window. Owns the <c>dlv:{ws}:cv:&lt;campaign&gt;:&lt;cid&gt;</c> keys
/// (docs/keyspace.md): the delivery engine's finish script adds a delivery there when it succeeds (one sorted set per
/// user and campaign, at most <see cref="MaxDeliveriesPerUser"/> entries, expiring with the window); a goal event takes
/// the deliveries it converts out of it.
/// </summary>
internal sealed class ConversionTracker(IConnectionMultiplexer redis, CampaignMetrics metrics)
{
    public const int MaxGoals = 3;
    public const int MaxDeliveriesPerUser = 100;
    public static readonly TimeSpan DefaultWindow = TimeSpan.FromHours(24);
    public static readonly TimeSpan MinWindow = TimeSpan.FromHours(1);
    public static readonly TimeSpan MaxWindow = TimeSpan.FromDays(30);

    private static readonly string Script = EmbeddedScripts.Read(typeof(ConversionTracker), "Goals.convert.lua");

    /// <summary>The user's successful deliveries of a campaign that a goal event can still convert.</summary>
    public static RedisKey DeliveriesKey(string ws, string campaignId, string customerId) => $"dlv:{{{ws}}}:cv:{campaignId}:{customerId}";

    /// <summary>Whether the campaign tracks conversions.</summary>
    public static bool HasGoals(Campaign campaign) => campaign.Spec?.ConversionGoals is { Events.Count: > 0 };

    /// <summary>The campaign's attribution window (zero when it has no goals).</summary>
    public static TimeSpan Window(Campaign campaign) =>
        !HasGoals(campaign) ? TimeSpan.Zero
        : campaign.Spec.ConversionGoals.WindowMs > 0 ? TimeSpan.FromMilliseconds(campaign.Spec.ConversionGoals.WindowMs)
        : DefaultWindow;

    /// <summary>The first problem of a campaign's goals, naming the field; null when they are valid (or unset).</summary>
    public static string? Problem(ConversionGoals? goals)
    {
        if (goals is null)
        {
            return null;
        }
        const string field = "spec.conversion_goals";
        if (goals.Events.Count is 0 or > MaxGoals)
        {
            return $"{field}.events: 1 to {MaxGoals} goal events.";
        }
        if (goals.WindowMs != 0 && (goals.WindowMs < MinWindow.TotalMilliseconds || goals.WindowMs > MaxWindow.TotalMilliseconds))
        {
            return $"{field}.window_ms: between {MinWindow.TotalMilliseconds:0} (1 hour) and {MaxWindow.TotalMilliseconds:0} (30 days); 0: 24 hours.";
        }
        for (var i = 0; i < goals.Events.Count; i++)
        {
            var goal = goals.Events[i];
            if (string.IsNullOrWhiteSpace(goal.EventName) || goal.EventName.Length > 200)
            {
                return $"{field}.events[{i}].event_name: required, at most 200 characters.";
            }
            for (var f = 0; f < goal.Filters.Count; f++)
            {
                if (AttributeRules.Problem(goal.Filters[f], $"{field}.events[{i}].filters[{f}]") is { } problem)
                {
                    return problem;
                }
            }
        }
        return null;
    }

    /// <summary>
    /// Counts the conversions <paramref name="events"/> (one batch of the workspace's stream, decoded) make for the
    /// campaigns in <paramref name="byGoalEvent"/>. Safe to repeat for the same events.
    /// </summary>
    public async Task ObserveAsync(string workspaceId, IReadOnlyDictionary<string, Campaign[]> byGoalEvent, IReadOnlyList<EventStreamEntry> events,
        long nowMs)
    {
        if (byGoalEvent.Count == 0)
        {
            return;
        }
        var db = redis.GetDatabase();
        var calls = new List<Task<RedisResult>>();
        foreach (var e in events)
        {
            if (!byGoalEvent.TryGetValue(e.EventName, out var campaigns))
            {
                continue;
            }
            Dictionary<string, AttributeValue>? attributes = null;
            foreach (var campaign in campaigns)
            {
                attributes ??= AttributeJson.Parse(e.AttributesJson);
                if (!campaign.Spec.ConversionGoals.Events.Any(g => g.EventName == e.EventName
                        && g.Filters.All(f => AttributeRules.Matches(f, attributes.GetValueOrDefault(f.Attribute), nowMs))))
                {
                    continue;
                }
                calls.Add(db.ScriptEvaluateAsync(Script,
                    [DeliveriesKey(workspaceId, campaign.CampaignId, e.CustomerId), RedisDeliveryStore.StatsKey(workspaceId, campaign.CampaignId)],
                    [e.EventTimeMs, (long)Window(campaign).TotalMilliseconds, DeliveryCounterNames.Converted]));
            }
        }
        if (calls.Count == 0)
        {
            return;
        }
        using var activity = CampaignMetrics.Source.StartActivity("campaign goals");
        activity?.SetTag("campaigns.workspace", workspaceId);
        activity?.SetTag("campaigns.goal_events", calls.Count);
        var converted = (await Task.WhenAll(calls)).Sum(r => (long)r);
        activity?.SetTag("campaigns.conversions", converted);
        if (converted > 0)
        {
            metrics.Converted(converted);
        }
    }
}
