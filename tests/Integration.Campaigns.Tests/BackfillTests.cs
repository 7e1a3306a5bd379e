using System.Diagnostics.Metrics;
using Grpc.Core;
using Integration.Campaigns.Delivery;
using Integration.Campaigns.Runner;
using Integration.Campaigns.Tests.Support;
using Integration.Campaigns.V1;
using Integration.Common.V1;
using Microsoft.Extensions.Time.Testing;

namespace Integration.Campaigns.Tests;

/// <summary>
/// The backfill rule: Heap's retroactive events count for audiences but never fire a live event-triggered campaign
/// (dated before its activation, or older than its max_event_age when they reached ingestion).
/// </summary>
public sealed class BackfillTests(CampaignsFixture fixture) : IClassFixture<CampaignsFixture>
{
    private CampaignSpec Spec(string trigger, long maxEventAgeMs = 0)
    {
        var spec = new CampaignSpec
        {
            Name = trigger,
            EventTriggered = new EventTriggeredDelivery { EventName = trigger, MaxEventAgeMs = maxEventAgeMs },
        };
        spec.Steps.Add(Specs.HeapTrack(fixture.HeapTrackUrl, Specs.TrackBody("Reminder")));
        return spec;
    }

    private static async Task<Campaign> CreateAsync(CampaignsHost host, string ws, CampaignSpec spec) =>
        await host.Client.CreateCampaignAsync(new CreateCampaignRequest { WorkspaceId = ws, Spec = spec, Activate = true }, CampaignsHost.Call);

    [Fact]
    public async Task AnEventDatedThreeDaysAgoNeverFiresAndIsCountedAsStale()
    {
        var queue = new RecordingDeliveryQueue();
        await using var host = fixture.StartCampaigns(new FakeTimeProvider(DateTimeOffset.UtcNow), queue);
        using var stale = new StaleEventsListener(host.Get<IMeterFactory>());
        var ws = Specs.NewWorkspace();
        var campaign = await CreateAsync(host, ws, Spec("Checkout Started"));

        await fixture.IngestEventAsync(ws, "backfilled", "Checkout Started", DateTimeOffset.UtcNow.AddDays(-3));
        await fixture.IngestEventAsync(ws, "live", "Checkout Started", DateTimeOffset.UtcNow);
        await host.Get<TriggerConsumer>().PollOnceAsync(CancellationToken.None);

        Assert.Equal("live", Assert.Single(queue.For(ws)).CustomerId);
        var counters = await host.Get<IDeadLetterStore>().GetCountersAsync(ws, campaign.CampaignId);
        Assert.Equal(1, counters["skipped:stale_event"]);
        Assert.Equal(1, stale.Count("before_activation"));
    }

    [Fact]
    public async Task AnEventAfterTheActivationButOlderThanMaxEventAgeWhenStoredIsSkipped()
    {
        // The campaign was activated three hours ago (fake clock); Heap now delivers events of two hours ago and of
        // twenty minutes ago: both after the activation, one beyond the default hour, one within it.
        var queue = new RecordingDeliveryQueue();
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow.AddHours(-3));
        await using var host = fixture.StartCampaigns(time, queue);
        using var stale = new StaleEventsListener(host.Get<IMeterFactory>());
        var ws = Specs.NewWorkspace();
        var campaign = await CreateAsync(host, ws, Spec("Checkout Started"));
        time.SetUtcNow(DateTimeOffset.UtcNow);

        await fixture.IngestEventAsync(ws, "two-hours", "Checkout Started", DateTimeOffset.UtcNow.AddHours(-2));
        await fixture.IngestEventAsync(ws, "twenty-minutes", "Checkout Started", DateTimeOffset.UtcNow.AddMinutes(-20));
        await host.Get<TriggerConsumer>().PollOnceAsync(CancellationToken.None);

        Assert.Equal("twenty-minutes", Assert.Single(queue.For(ws)).CustomerId);
        Assert.Equal(1, (await host.Get<IDeadLetterStore>().GetCountersAsync(ws, campaign.CampaignId))["skipped:stale_event"]);
        Assert.Equal(1, stale.Count("too_old"));
    }

    [Fact]
    public async Task ACampaignsOwnMaxEventAgeIsHonoured()
    {
        var queue = new RecordingDeliveryQueue();
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow.AddHours(-1));
        await using var host = fixture.StartCampaigns(time, queue);
        var ws = Specs.NewWorkspace();
        var strict = await CreateAsync(host, ws, Spec("Checkout Started", maxEventAgeMs: (long)TimeSpan.FromMinutes(5).TotalMilliseconds));
        var lenient = await CreateAsync(host, ws, Spec("Checkout Started"));
        time.SetUtcNow(DateTimeOffset.UtcNow);

        await fixture.IngestEventAsync(ws, "u1", "Checkout Started", DateTimeOffset.UtcNow.AddMinutes(-10));
        await host.Get<TriggerConsumer>().PollOnceAsync(CancellationToken.None);

        Assert.Equal(lenient.CampaignId, Assert.Single(queue.For(ws)).CampaignId);
        Assert.Equal(1, (await host.Get<IDeadLetterStore>().GetCountersAsync(ws, strict.CampaignId))["skipped:stale_event"]);
        Assert.Equal(0, (await host.Get<IDeadLetterStore>().GetCountersAsync(ws, lenient.CampaignId))["skipped:stale_event"]);
    }

    [Fact]
    public async Task RetroactiveEventsStillCountForTheAudienceOfALiveTrigger()
    {
        var queue = new RecordingDeliveryQueue();
        await using var host = fixture.StartCampaigns(new FakeTimeProvider(DateTimeOffset.UtcNow), queue);
        var ws = Specs.NewWorkspace();
        var spec = Spec("Checkout Started");
        spec.Audience = new SegmentDefinition
        {
            Filters = { new Filter { Event = new EventFilter { EventName = "Purchase", Condition = EventCondition.Did } } },
        };
        await CreateAsync(host, ws, spec);

        await fixture.IngestEventAsync(ws, "past-buyer", "Purchase", DateTimeOffset.UtcNow.AddDays(-20));
        await fixture.IngestEventAsync(ws, "past-buyer", "Checkout Started", DateTimeOffset.UtcNow);
        await fixture.IngestEventAsync(ws, "never-bought", "Checkout Started", DateTimeOffset.UtcNow);
        await host.Get<TriggerConsumer>().PollOnceAsync(CancellationToken.None);

        Assert.Equal("past-buyer", Assert.Single(queue.For(ws)).CustomerId);
    }

    [Theory]
    [InlineData(-1)]
    [InlineData(59_999)]
    [InlineData(30L * 24 * 3600 * 1000 + 1)]
    public async Task AMaxEventAgeOutOfRangeIsRefusedNamingTheField(long maxEventAgeMs)
    {
        await using var host = fixture.StartCampaigns(new FakeTimeProvider(DateTimeOffset.UtcNow));

        var error = await Assert.ThrowsAsync<RpcException>(() => CreateAsync(host, Specs.NewWorkspace(), Spec("Checkout Started", maxEventAgeMs)));

        Assert.Equal(StatusCode.InvalidArgument, error.StatusCode);
        Assert.StartsWith("spec.event_triggered.max_event_age_ms:", error.Status.Detail);
    }

    /// <summary>Sums one host's <c>integration.campaigns.triggers.stale</c> counter by reason (its meters are scoped to its factory).</summary>
    private sealed class StaleEventsListener : IDisposable
    {
        private readonly MeterListener _listener = new();
        private readonly Dictionary<string, long> _byReason = [];

        public StaleEventsListener(IMeterFactory host)
        {
            _listener.InstrumentPublished = (instrument, listener) =>
            {
                if (instrument.Name == "integration.campaigns.triggers.stale" && ReferenceEquals(instrument.Meter.Scope, host))
                {
                    listener.EnableMeasurementEvents(instrument);
                }
            };
            _listener.SetMeasurementEventCallback<long>((_, value, tags, _) =>
            {
                foreach (var tag in tags)
                {
                    if (tag.Key == "reason")
                    {
                        lock (_byReason)
                        {
                            _byReason[(string)tag.Value!] = _byReason.GetValueOrDefault((string)tag.Value!) + value;
                        }
                    }
                }
            });
            _listener.Start();
        }

        public long Count(string reason)
        {
            lock (_byReason)
            {
                return _byReason.GetValueOrDefault(reason);
            }
        }

        public void Dispose() => _listener.Dispose();
    }
}
