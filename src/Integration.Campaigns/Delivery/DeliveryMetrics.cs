using System.Diagnostics.Metrics;

namespace Integration.Campaigns.Delivery;

/// <summary>Delivery metrics. Tags are bounded (outcome only): no campaign, customer or destination ids.</summary>
internal sealed class DeliveryMetrics
{
    public const string MeterName = "Integration.Campaigns.Delivery";

    private readonly Counter<long> _deliveries;
    private readonly Histogram<double> _duration;
    private long _pending;

    public DeliveryMetrics(IMeterFactory meterFactory)
    {
        var meter = meterFactory.Create(MeterName);
        _deliveries = meter.CreateCounter<long>("integration.campaigns.deliveries", "{delivery}",
            "Delivery outcomes: succeeded, failed (an attempt), retried, dead_lettered, throttled.");
        _duration = meter.CreateHistogram<double>("integration.campaigns.delivery.duration", "ms",
            "Duration of one HTTP attempt of a delivery.");
        meter.CreateObservableGauge("integration.campaigns.deliveries.pending", () => Interlocked.Read(ref _pending), "{delivery}",
            "Deliveries queued or scheduled (as last counted by this runner).");
    }

    public void Outcome(string outcome) => _deliveries.Add(1, new KeyValuePair<string, object?>("outcome", outcome));

    public void AttemptDuration(TimeSpan duration, int? status) =>
        _duration.Record(duration.TotalMilliseconds, new KeyValuePair<string, object?>("http.response.status_code", status ?? 0));

    public void Pending(long value) => Interlocked.Exchange(ref _pending, value);
}
