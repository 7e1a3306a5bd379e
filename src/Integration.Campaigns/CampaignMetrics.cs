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

    public CampaignMetrics(IMeterFactory meterFactory)
    {
        var meter = meterFactory.Create(Name);
        _enqueued = meter.CreateCounter<long>("campaigns.deliveries.enqueued", description: "Rendered requests handed to the delivery engine.");
        _skipped = meter.CreateCounter<long>("campaigns.users.skipped", description: "Users skipped (null values without a default, invalid output, duplicates).");
        _triggers = meter.CreateCounter<long>("campaigns.triggers", description: "Stream events that triggered an event-triggered campaign.");
    }

    public void Enqueued(Campaign campaign) => _enqueued.Add(1, new KeyValuePair<string, object?>("campaign.delivery", campaign.Spec.DeliveryCase.ToString()));

    public void Skipped(Campaign campaign) => _skipped.Add(1, new KeyValuePair<string, object?>("campaign.delivery", campaign.Spec.DeliveryCase.ToString()));

    public void Triggered() => _triggers.Add(1);
}
