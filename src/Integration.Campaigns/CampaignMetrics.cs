using System.Diagnostics;
using System.Diagnostics.Metrics;
using Integration.Campaigns.V1;

namespace Integration.Campaigns;

/// <summary>The campaign side's telemetry: what was handed to the delivery engine and what was skipped.</summary>
internal sealed class CampaignMetrics
{
    public const string Name = "Integration.Campaigns";

    public static readonly ActivitySource Source = new(Name);

    private readonly Counter<long> _enqueued;
    private readonly Counter<long> _skipped;
    private readonly Counter<long> _triggers;
    private readonly Counter<long> _frequencyCapped;
    private readonly Counter<long> _quietHours;
    private readonly Counter<long> _staleEvents;
    private readonly Counter<long> _conversions;
    private readonly Counter<long> _zoneTurns;
    private long _streamLag;
    private long _streamPending;
    private long _ownedPartitions;

    public CampaignMetrics(IMeterFactory meterFactory)
    {
        var meter = meterFactory.Create(Name);
        _enqueued = meter.CreateCounter<long>("integration.campaigns.enqueued", "{request}", "Rendered requests handed to the delivery engine.");
        _skipped = meter.CreateCounter<long>("integration.campaigns.users.skipped", "{user}", "Users skipped (null values without a default, invalid output, duplicates).");
        _frequencyCapped = meter.CreateCounter<long>("integration.campaigns.frequency_capped", "{user}",
            "Users' sends not made because the user reached the frequency cap (also skipped:frequency_cap in the campaign's counters).");
        _quietHours = meter.CreateCounter<long>("integration.campaigns.quiet_hours", "{user}",
            "Users' sends that fell in a campaign's quiet hours, by outcome: held until the window ends, or dropped.");
        _triggers = meter.CreateCounter<long>("integration.campaigns.triggers", "{event}", "Stream events that triggered an event-triggered campaign.");
        _staleEvents = meter.CreateCounter<long>("integration.campaigns.triggers.stale", "{event}",
            "Events that matched an event-triggered campaign but were dated before its activation or older than its max_event_age (backfill); never delivered.");
        _conversions = meter.CreateCounter<long>("integration.campaigns.conversions", "{delivery}",
            "Successful deliveries a goal event of their campaign converted within the attribution window (also converted in the campaign's counters).");
        _zoneTurns = meter.CreateCounter<long>("integration.campaigns.time_zone.users", "{user}",
            "Users of a campaign sent in users' time zones whose turn came in a pass, by outcome: local (their zone's time came), " +
            "passed_sent (their zone had passed when the occurrence started; sent at the campaign's zone time), passed_skipped.");
        meter.CreateObservableGauge("integration.campaigns.trigger_stream.lag", () => Interlocked.Read(ref _streamLag), "{event}",
            "Events in the ingestion streams not yet read by the trigger consumer (sampled every 5 s).");
        meter.CreateObservableGauge("integration.campaigns.trigger_stream.pending", () => Interlocked.Read(ref _streamPending), "{event}",
            "Events read by the trigger consumer but not yet acknowledged (sampled every 5 s).");
        meter.CreateObservableGauge("integration.campaigns.trigger_partitions.owned", () => Interlocked.Read(ref _ownedPartitions), "{partition}",
            "Event stream partitions (of every workspace with triggers) this replica holds the lease on and reads.");
    }

    public void Enqueued(Campaign campaign) => _enqueued.Add(1, new KeyValuePair<string, object?>("campaign.delivery", campaign.Spec.DeliveryCase.ToString()));

    public void Skipped(Campaign campaign) => _skipped.Add(1, new KeyValuePair<string, object?>("campaign.delivery", campaign.Spec.DeliveryCase.ToString()));

    public void Triggered() => _triggers.Add(1);

    public void FrequencyCapped() => _frequencyCapped.Add(1);

    public void QuietHours(bool held) => _quietHours.Add(1, new KeyValuePair<string, object?>("outcome", held ? "held" : "dropped"));

    /// <param name="reason"><c>before_activation</c> or <c>too_old</c> (see <see cref="Model.TriggerFreshness"/>).</param>
    public void StaleEvents(long count, string reason) => _staleEvents.Add(count, new KeyValuePair<string, object?>("reason", reason));

    public void Converted(long count) => _conversions.Add(count);

    public void ZoneTurn(Model.ZoneTurnKind kind) => _zoneTurns.Add(1, new KeyValuePair<string, object?>("outcome", kind switch
    {
        Model.ZoneTurnKind.SendPassed => "passed_sent",
        Model.ZoneTurnKind.SkipPassed => "passed_skipped",
        _ => "local",
    }));

    public void SetOwnedTriggerPartitions(long count) => Interlocked.Exchange(ref _ownedPartitions, count);

    public void SetTriggerStreamBacklog(long lag, long pending)
    {
        Interlocked.Exchange(ref _streamLag, lag);
        Interlocked.Exchange(ref _streamPending, pending);
    }
}
