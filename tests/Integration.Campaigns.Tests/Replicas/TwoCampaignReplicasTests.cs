using Integration.Testing;
using Integration.Campaigns.Tests.Cluster;
using Integration.Campaigns.Tests.Delivery;
using Integration.Campaigns.Tests.Support;
using Integration.Campaigns.V1;
using StackExchange.Redis;
using Deliveries = Integration.Campaigns.Tests.Delivery.Deliveries;

namespace Integration.Campaigns.Tests.Replicas;

/// <summary>
/// Two replicas of the whole campaigns service (API, runner loops, delivery engine) against one Redis, as the AppHost
/// runs them with Replicas:Campaigns=2: every triggered delivery reaches Heap once, and a replica's work survives it.
/// </summary>
public sealed class TwoCampaignReplicasTests(CampaignsFixture fixture) : IClassFixture<CampaignsFixture>
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(60);
    private const string Group = "campaigns-triggers";

    private static Dictionary<string, string?> Replica(string name, IDictionary<string, string?>? more = null)
    {
        var settings = new Dictionary<string, string?>
        {
            ["Campaigns:ConsumerName"] = name,
            ["Campaigns:ClaimIdleSeconds"] = "1",
            ["Delivery:ClaimAfter"] = "00:00:03",
            ["Delivery:MaxAttemptTimeout"] = "00:00:02",
        };
        foreach (var (key, value) in more ?? new Dictionary<string, string?>())
        {
            settings[key] = value;
        }
        return settings;
    }

    private async Task CreateAsync(CampaignsHost host, string ws, string trigger, string sent)
    {
        var spec = new CampaignSpec { Name = trigger, EventTriggered = new EventTriggeredDelivery { EventName = trigger } };
        spec.Steps.Add(Specs.HeapTrack(fixture.HeapTrackUrl, Specs.TrackBody(sent)));
        await host.Client.CreateCampaignAsync(new CreateCampaignRequest { WorkspaceId = ws, Spec = spec, Activate = true }, CampaignsHost.Call);
    }

    [Fact]
    public async Task TwoReplicasSendEveryTriggeredDeliveryExactlyOnce()
    {
        await using var clock = new FollowingClock();
        await using var a = fixture.StartCampaigns(clock.Time, runner: true, settings: Replica("a"));
        await using var b = fixture.StartCampaigns(clock.Time, runner: true, settings: Replica("b"));
        var before = await fixture.HeapHttp.StatsAsync();
        var ws = Specs.NewWorkspace();
        var users = Enumerable.Range(0, 40).Select(i => $"twice-{i}-{Guid.NewGuid():N}").ToList();
        await CreateAsync(a, ws, "Signed Up", "Welcome");

        foreach (var user in users)
        {
            await fixture.IngestEventAsync(ws, user, "Signed Up", DateTimeOffset.UtcNow);
        }
        await Deliveries.EventuallyAsync(fixture.HeapHttp.StatsAsync, s => s.EventsRecorded - before.EventsRecorded >= users.Count, Wait,
            "every welcome in Heap");
        await Task.Delay(TimeSpan.FromSeconds(1));

        var after = await fixture.HeapHttp.StatsAsync();
        Assert.Equal(users.Count, after.EventsRecorded - before.EventsRecorded);
        Assert.Equal(before.IdempotentRepeats, after.IdempotentRepeats);
        foreach (var user in users)
        {
            Assert.Single(await fixture.HeapEventsAsync(user, "Welcome"));
        }
    }

    [Fact]
    public async Task WhenAReplicaDiesOrStopsTheOtherFinishesItsWorkWithoutDoubleSends()
    {
        await using var clock = new FollowingClock();
        var ws = Specs.NewWorkspace();
        var users = Enumerable.Range(0, 30).Select(i => $"takeover-{i}-{Guid.NewGuid():N}").ToList();
        await using (var api = fixture.StartCampaigns(clock.Time, runner: false))
        {
            await CreateAsync(api, ws, "Trial Ended", "Upgrade Offer");
        }
        foreach (var user in users)
        {
            await fixture.IngestEventAsync(ws, user, "Trial Ended", DateTimeOffset.UtcNow);
        }
        // A replica that died right after reading: its entries stay pending in the group until another claims them.
        await using var redis = await ConnectionMultiplexer.ConnectAsync(fixture.Redis.ConnectionString);
        var held = await EventStreams.ReadGroupAsync(redis.GetDatabase(), ws, Group, "dead-replica", 10);
        Assert.Equal(10, held);

        var before = await fixture.HeapHttp.StatsAsync();
        // A slow Heap, so replica A is stopped with work left.
        await fixture.HeapHttp.FaultAsync(new { LatencyMs = 500 });
        try
        {
            var slow = new Dictionary<string, string?> { ["Delivery:MaxConcurrencyPerDestination"] = "2" };
            await using var a = fixture.StartCampaigns(clock.Time, runner: true, settings: Replica("a", slow));
            await using var b = fixture.StartCampaigns(clock.Time, runner: true, settings: Replica("b", slow));
            await Deliveries.EventuallyAsync(fixture.HeapHttp.StatsAsync, s => s.EventsRecorded - before.EventsRecorded >= 4, Wait,
                "the first offers in Heap");
            await a.DisposeAsync();
            var whenAStopped = (await fixture.HeapHttp.StatsAsync()).EventsRecorded - before.EventsRecorded;

            await Deliveries.EventuallyAsync(fixture.HeapHttp.StatsAsync, s => s.EventsRecorded - before.EventsRecorded >= users.Count, Wait,
                "every offer in Heap");
            await Task.Delay(TimeSpan.FromSeconds(1));
            var after = await fixture.HeapHttp.StatsAsync();
            var pending = await EventStreams.PendingAsync(redis.GetDatabase(), ws, Group);

            Assert.InRange(whenAStopped, 4, users.Count - 1);
            Assert.Equal(users.Count, after.EventsRecorded - before.EventsRecorded);
            Assert.Equal(before.IdempotentRepeats, after.IdempotentRepeats);
            Assert.Equal(0, pending);
            foreach (var user in users)
            {
                Assert.Single(await fixture.HeapEventsAsync(user, "Upgrade Offer"));
            }
        }
        finally
        {
            await fixture.HeapHttp.ClearFaultsAsync();
        }
    }
}
