using Grpc.Core;
using Grpc.Net.Client;
using Integration.Campaigns.Goals;
using Integration.Campaigns.Tests.Support;
using Integration.Campaigns.V1;
using Integration.Common.V1;
using StackExchange.Redis;

namespace Integration.Campaigns.Tests;

/// <summary>
/// Conversion goals end to end: a business-event campaign delivered by the real delivery engine to the Heap
/// emulator, goal events stored through ingestion and read from the stream by the runner, conversions counted in
/// the campaign's stats on real Redis. The clock runs with real time and jumps where the window matters.
/// </summary>
public sealed class ConversionGoalTests(CampaignsFixture fixture) : IClassFixture<CampaignsFixture>, IAsyncLifetime
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(20);
    private readonly RunningClock _clock = new();
    private CampaignsHost _host = null!;
    private GrpcChannel? _channel;

    public Task InitializeAsync()
    {
        _host = fixture.StartCampaigns(_clock.Time, queue: null, runner: true);
        return Task.CompletedTask;
    }

    public async Task DisposeAsync()
    {
        _channel?.Dispose();
        await _host.DisposeAsync();
        await _clock.DisposeAsync();
    }

    private static ConversionGoals Goals(long windowMs, params GoalEvent[] events)
    {
        var goals = new ConversionGoals { WindowMs = windowMs };
        goals.Events.AddRange(events);
        return goals;
    }

    private static GoalEvent Goal(string eventName, params AttributeFilter[] filters)
    {
        var goal = new GoalEvent { EventName = eventName };
        goal.Filters.AddRange(filters);
        return goal;
    }

    private CampaignSpec Spec(string name, ConversionGoals? goals)
    {
        var spec = new CampaignSpec
        {
            Name = name,
            BusinessEvent = new BusinessEventDelivery { BusinessEventName = name },
            ConversionGoals = goals,
        };
        spec.Steps.Add(Specs.HeapTrack(fixture.HeapTrackUrl, Specs.TrackBody("Sale Announced")));
        return spec;
    }

    private async Task<DeliveryStats> StatsAsync(string ws, Campaign campaign) =>
        await new V1.Deliveries.DeliveriesClient(_channel ??= _host.CreateGrpcChannel())
            .GetDeliveryStatsAsync(new GetDeliveryStatsRequest { WorkspaceId = ws, CampaignId = campaign.CampaignId }, CampaignsHost.Call);

    private static string Id(string name) => $"{name}-{Guid.NewGuid().ToString("N")[..8]}";

    [Fact]
    public async Task AGoalEventAfterASuccessfulDeliveryWithinTheWindowConvertsItOnce()
    {
        var ws = Specs.NewWorkspace();
        var (ada, bob, cy, dee) = (Id("ada"), Id("bob"), Id("cy"), Id("dee"));
        foreach (var user in new[] { ada, bob, cy, dee })
        {
            await fixture.IngestUserAsync(ws, user, ("plan", "free"));
        }
        var bigOrder = new AttributeFilter { Attribute = "amount", Operator = AttributeOperator.GreaterThan, Value = CampaignsFixture.Value(10) };
        var campaign = await _host.Client.CreateCampaignAsync(new CreateCampaignRequest
        {
            WorkspaceId = ws, Activate = true,
            Spec = Spec("sale", Goals((long)TimeSpan.FromHours(1).TotalMilliseconds, Goal("Order Completed", bigOrder), Goal("Plan Upgraded"))),
        }, CampaignsHost.Call);
        var beforeDelivery = DateTimeOffset.UtcNow.AddSeconds(-1);

        await _host.Client.TriggerBusinessEventAsync(new TriggerBusinessEventRequest { WorkspaceId = ws, Name = "sale", EventId = "s-1" }, CampaignsHost.Call);
        await Eventually.HoldsAsync(() => StatsAsync(ws, campaign), s => s.Succeeded == 4, Wait, "four deliveries to succeed");

        // ada: a big order, then another one (a delivery converts once); bob: a backfilled order dated before the
        // delivery and a small one today (the filter); cy: a goal event after the window; dee: the second goal event.
        await fixture.IngestEventAsync(ws, ada, "Order Completed", DateTimeOffset.UtcNow, ("amount", 20));
        await fixture.IngestEventAsync(ws, ada, "Order Completed", DateTimeOffset.UtcNow.AddSeconds(1), ("amount", 30));
        await fixture.IngestEventAsync(ws, bob, "Order Completed", beforeDelivery.AddMinutes(-5), ("amount", 50));
        await fixture.IngestEventAsync(ws, bob, "Order Completed", DateTimeOffset.UtcNow, ("amount", 5));
        await fixture.IngestEventAsync(ws, cy, "Order Completed", DateTimeOffset.UtcNow.AddHours(2), ("amount", 50));
        await fixture.IngestEventAsync(ws, dee, "Plan Upgraded", DateTimeOffset.UtcNow);

        var stats = await Eventually.HoldsAsync(() => StatsAsync(ws, campaign), s => s.Converted >= 2, Wait, "ada's and dee's conversions");
        await Task.Delay(500);
        stats = await StatsAsync(ws, campaign);
        Assert.Equal(2, stats.Converted);
        Assert.Equal(0.5, stats.ConversionRate, 3);
        var db = (await ConnectionMultiplexer.ConnectAsync(fixture.Redis.ConnectionString)).GetDatabase();
        // What a goal event can still convert is kept for the window, no longer: bob's and cy's deliveries.
        var ttl = await db.KeyTimeToLiveAsync(ConversionTracker.DeliveriesKey(ws, campaign.CampaignId, bob));
        Assert.InRange(ttl!.Value, TimeSpan.FromMinutes(55), TimeSpan.FromHours(1));
        Assert.False(await db.KeyExistsAsync(ConversionTracker.DeliveriesKey(ws, campaign.CampaignId, ada)));
    }

    [Fact]
    public async Task ACampaignWithoutGoalsCountsNoConversionsAndKeepsNoDeliveriesForThem()
    {
        var ws = Specs.NewWorkspace();
        var ada = Id("ada");
        await fixture.IngestUserAsync(ws, ada);
        var campaign = await _host.Client.CreateCampaignAsync(new CreateCampaignRequest { WorkspaceId = ws, Activate = true, Spec = Spec("plain", null) },
            CampaignsHost.Call);

        await _host.Client.TriggerBusinessEventAsync(new TriggerBusinessEventRequest { WorkspaceId = ws, Name = "plain", EventId = "p-1" }, CampaignsHost.Call);
        await Eventually.HoldsAsync(() => StatsAsync(ws, campaign), s => s.Succeeded == 1, Wait, "the delivery to succeed");
        await fixture.IngestEventAsync(ws, ada, "Order Completed", DateTimeOffset.UtcNow, ("amount", 20));
        await Task.Delay(500);

        var db = (await ConnectionMultiplexer.ConnectAsync(fixture.Redis.ConnectionString)).GetDatabase();
        Assert.Equal(0, (await StatsAsync(ws, campaign)).Converted);
        Assert.False(await db.KeyExistsAsync(ConversionTracker.DeliveriesKey(ws, campaign.CampaignId, ada)));
    }

    public static TheoryData<string, ConversionGoals> InvalidGoals => new()
    {
        { "spec.conversion_goals.events", Goals(0) },
        { "spec.conversion_goals.events", Goals(0, Goal("a"), Goal("b"), Goal("c"), Goal("d")) },
        { "spec.conversion_goals.window_ms", Goals((long)TimeSpan.FromMinutes(10).TotalMilliseconds, Goal("a")) },
        { "spec.conversion_goals.window_ms", Goals((long)TimeSpan.FromDays(31).TotalMilliseconds, Goal("a")) },
        { "spec.conversion_goals.events[1].event_name", Goals(0, Goal("a"), Goal(" ")) },
        { "spec.conversion_goals.events[0].filters[0]", Goals(0, Goal("a", new AttributeFilter { Attribute = "amount", Operator = AttributeOperator.GreaterThan, Value = CampaignsFixture.Value("many") })) },
    };

    [Theory]
    [MemberData(nameof(InvalidGoals))]
    public async Task InvalidGoalsAreRefusedNamingTheField(string field, ConversionGoals goals)
    {
        var ex = await Assert.ThrowsAsync<RpcException>(async () => await _host.Client.CreateCampaignAsync(
            new CreateCampaignRequest { WorkspaceId = Specs.NewWorkspace(), Spec = Spec("bad", goals) }, CampaignsHost.Call));

        Assert.Equal(StatusCode.InvalidArgument, ex.StatusCode);
        Assert.StartsWith(field, ex.Status.Detail);
    }
}
