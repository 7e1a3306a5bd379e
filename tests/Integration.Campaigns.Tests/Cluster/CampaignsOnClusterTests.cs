using Integration.Campaigns.Delivery;
using Integration.Campaigns.Storage;
using Integration.Campaigns.Tests.Delivery;
using Integration.Campaigns.Tests.Support;
using Integration.Campaigns.V1;
using Deliveries = Integration.Campaigns.Tests.Delivery.Deliveries;

namespace Integration.Campaigns.Tests.Cluster;

/// <summary>The delivery engine and the campaign runner on a three-master Redis Cluster.</summary>
public sealed class CampaignsOnClusterTests(ClusterCampaignsFixture fixture) : IClassFixture<ClusterCampaignsFixture>
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(30);

    private static string Id(string name) => $"{name}-{Guid.NewGuid().ToString("N")[..8]}";

    [Fact]
    public async Task DeliveriesOfWorkspacesOnEveryMasterReachHeapExactlyOnceIncludingScheduledAndReplayed()
    {
        await using var host = await DeliveryTestHost.StartAsync(fixture.Cluster.ConnectionString,
            new Dictionary<string, string?> { ["Delivery:Throttle:Enabled"] = "true" });
        var repeatsBefore = (await fixture.HeapStatsAsync()).IdempotentRepeats;
        var workspaces = fixture.WorkspacesOnEveryMaster(2);
        Assert.Equal(6, workspaces.Count);
        var requests = new List<DeliveryRequest>();
        foreach (var ws in workspaces)
        {
            for (var i = 0; i < 5; i++)
            {
                // One in five waits for NotBefore in the workspace's schedule before its lane gets it.
                var notBefore = i == 0 ? DateTimeOffset.UtcNow.AddSeconds(1) : (DateTimeOffset?)null;
                requests.Add(Deliveries.HeapTrack(fixture.Heap.HttpAddress, ws, "c-cluster", Id("user"), notBefore: notBefore));
            }
        }

        foreach (var request in requests)
        {
            await host.Queue.EnqueueAsync(request, CancellationToken.None);
            await host.Queue.EnqueueAsync(request, CancellationToken.None);
        }
        foreach (var request in requests)
        {
            await host.RecordWhenAsync(request, DeliveryRecord.Succeeded, Wait);
        }

        foreach (var request in requests)
        {
            var events = await fixture.HeapEventsAsync(request.CustomerId);
            Assert.Equal(request.DeliveryId, Assert.Single(events).IdempotencyKey);
        }
        Assert.Equal(repeatsBefore, (await fixture.HeapStatsAsync()).IdempotentRepeats);
        foreach (var ws in workspaces)
        {
            var counters = await host.Store.GetCountersAsync(ws, "c-cluster");
            Assert.Equal(5, counters[DeliveryCounterNames.Enqueued]);
            Assert.Equal(5, counters[DeliveryCounterNames.Succeeded]);
        }
    }

    [Fact]
    public async Task ADeadLetterIsReplayedOnTheClusterAndCountedOnce()
    {
        await using var host = await DeliveryTestHost.StartAsync(fixture.Cluster.ConnectionString);
        var ws = fixture.WorkspacesOnEveryMaster(1)[2];
        var request = Deliveries.HeapTrack(fixture.Heap.HttpAddress, ws, "c-replay", Id("user"));
        await fixture.HeapHttp.FaultAsync(new { Status = 400, Count = 1 });

        await host.Queue.EnqueueAsync(request, CancellationToken.None);
        var dead = await host.RecordWhenAsync(request, DeliveryRecord.Dead, Wait);
        await fixture.HeapHttp.ClearFaultsAsync();
        var replayed = await host.Store.ReplayAsync(ws, request.DeliveryId);
        var succeeded = await host.RecordWhenAsync(request, DeliveryRecord.Succeeded, Wait);

        Assert.Equal(400, dead!.LastStatus);
        Assert.True(replayed);
        Assert.Equal(1, succeeded!.Replays);
        Assert.Single(await fixture.HeapEventsAsync(request.CustomerId));
        Assert.Empty((await host.Store.ListAsync(new DeadLetterQuery(ws, "c-replay", 0, 0, 0), 10, null)).Items);
    }

    [Fact]
    public async Task EventTriggeredCampaignsOnEveryMasterSendEachStepOnceAndHonourTheExitEvent()
    {
        await using var clock = new FollowingClock();
        await using var host = fixture.StartCampaigns(clock.Time);
        var workspaces = fixture.WorkspacesOnEveryMaster(1);
        var users = workspaces.ToDictionary(ws => ws, _ => (Leaver: Id("leaver"), Buyer: Id("buyer")));
        foreach (var ws in workspaces)
        {
            var spec = new CampaignSpec
            {
                Name = "Drop-off",
                EventTriggered = new EventTriggeredDelivery { EventName = "Checkout Started", ExitEventName = "Order Completed" },
            };
            spec.Steps.Add(Specs.HeapTrack(fixture.HeapTrackUrl, Specs.TrackBody("Checkout Nudge")));
            spec.Steps.Add(Specs.HeapTrack(fixture.HeapTrackUrl, Specs.TrackBody("Cart Reminder"), delayMs: (long)TimeSpan.FromHours(1).TotalMilliseconds));
            await host.Client.CreateCampaignAsync(new CreateCampaignRequest { WorkspaceId = ws, Spec = spec, Activate = true }, CampaignsHost.Call);
        }

        foreach (var ws in workspaces)
        {
            await fixture.IngestEventAsync(ws, users[ws].Leaver, "Checkout Started");
            await fixture.IngestEventAsync(ws, users[ws].Buyer, "Checkout Started");
        }
        var pending = host.Get<IPendingSendStore>();
        foreach (var ws in workspaces)
        {
            await Eventually.HoldsAsync(() => pending.CountAsync(ws), n => n == 2, Wait, $"two reminders waiting in {ws}");
            await fixture.IngestEventAsync(ws, users[ws].Buyer, "Order Completed");
        }
        foreach (var ws in workspaces)
        {
            await Eventually.HoldsAsync(() => pending.CountAsync(ws), n => n == 1, Wait, $"the order to cancel the buyer's reminder in {ws}");
        }
        clock.Time.Advance(TimeSpan.FromHours(1));
        foreach (var ws in workspaces)
        {
            await Eventually.HoldsAsync(() => fixture.HeapEventsAsync(users[ws].Leaver, "Cart Reminder"), e => e.Count > 0, Wait, $"the reminder of {ws}");
            await Eventually.HoldsAsync(() => pending.CountAsync(ws), n => n == 0, Wait, $"no step left in {ws}");
        }

        foreach (var ws in workspaces)
        {
            Assert.Single(await fixture.HeapEventsAsync(users[ws].Leaver, "Checkout Nudge"));
            Assert.Single(await fixture.HeapEventsAsync(users[ws].Buyer, "Checkout Nudge"));
            Assert.Single(await fixture.HeapEventsAsync(users[ws].Leaver, "Cart Reminder"));
            Assert.Empty(await fixture.HeapEventsAsync(users[ws].Buyer, "Cart Reminder"));
        }
    }
}
