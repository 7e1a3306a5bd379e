using Integration.Campaigns.V1;

namespace Integration.Campaigns.Model;

/// <summary>
/// The backfill rule of event-triggered campaigns: Heap sends retroactive data (events dated days ago), which must
/// count for audiences but must never fire a live campaign — no cart reminder for last month's cart. An event fires
/// a campaign only if it happened at or after the campaign's activation and was at most <c>max_event_age_ms</c> old
/// when it reached ingestion (its stored time, not when the runner reads it, so a runner outage or backlog never
/// turns live events stale).
/// </summary>
internal static class TriggerFreshness
{
    /// <summary>The counter and skip reason of an event the rule refused.</summary>
    public const string StaleEvent = "stale_event";

    public static readonly TimeSpan DefaultMaxEventAge = TimeSpan.FromHours(1);
    public static readonly TimeSpan MinMaxEventAge = TimeSpan.FromMinutes(1);
    public static readonly TimeSpan MaxMaxEventAge = TimeSpan.FromDays(30);

    /// <summary>Why the event may not fire the campaign (<c>before_activation</c>, <c>too_old</c>), or null when it may.</summary>
    /// <param name="receivedMs">When ingestion stored the event; 0 if unknown (then <paramref name="nowMs"/>).</param>
    public static string? Refusal(Campaign campaign, long eventTimeMs, long receivedMs, long nowMs)
    {
        if (eventTimeMs < campaign.ActivatedAtMs)
        {
            return "before_activation";
        }
        var maxAge = campaign.Spec.EventTriggered.MaxEventAgeMs > 0
            ? campaign.Spec.EventTriggered.MaxEventAgeMs
            : (long)DefaultMaxEventAge.TotalMilliseconds;
        var arrivedMs = receivedMs > 0 ? receivedMs : nowMs;
        return arrivedMs - eventTimeMs > maxAge ? "too_old" : null;
    }
}
