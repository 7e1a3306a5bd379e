using Integration.Testing;
using Integration.Campaigns.Runner;
using Integration.Campaigns.Storage;
using Integration.Campaigns.Tests.Support;
using Integration.Campaigns.V1;
using Integration.Common.V1;
using Integration.Segments.V1;
using Microsoft.Extensions.Time.Testing;
using StackExchange.Redis;

namespace Integration.Campaigns.Tests;

/// <summary>Event-triggered campaigns, driven step by step: stream → consumer → pending steps, on a fake clock.</summary>
public sealed class EventTriggerTests(CampaignsFixture fixture) : IClassFixture<CampaignsFixture>
{
    private static readonly TimeSpan Hour = TimeSpan.FromHours(1);

    private CampaignSpec Spec(string trigger, string exit = "", bool firstTimeOnly = false, params RequestStep[] steps)
    {
        var spec = new CampaignSpec
        {
            Name = trigger,
            EventTriggered = new EventTriggeredDelivery { EventName = trigger, ExitEventName = exit, FirstTimeOnly = firstTimeOnly },
        };
        spec.Steps.AddRange(steps.Length > 0 ? steps : [Specs.HeapTrack(fixture.HeapTrackUrl, Specs.TrackBody("Sent"))]);
        return spec;
    }

    private static async Task<Campaign> CreateAsync(CampaignsHost host, string ws, CampaignSpec spec) =>
        await host.Client.CreateCampaignAsync(new CreateCampaignRequest { WorkspaceId = ws, Spec = spec, Activate = true }, CampaignsHost.Call);

    [Fact]
    public async Task AnEventThatMatchesSendsAtOnceWithItsAttributesAndTraceContext()
    {
        var queue = new RecordingDeliveryQueue();
        await using var host = fixture.StartCampaigns(new FakeTimeProvider(DateTimeOffset.UtcNow), queue);
        var ws = Specs.NewWorkspace();
        var spec = Spec("Checkout Started", steps: Specs.HeapTrack(fixture.HeapTrackUrl, Specs.TrackBody("Nudge", "{\"order\":\"{{EventAttribute['order_id']}}\"}")));
        spec.EventTriggered.EventFilters.Add(new AttributeFilter { Attribute = "total", Operator = AttributeOperator.GreaterThan, Value = CampaignsFixture.Value(50) });
        var campaign = await CreateAsync(host, ws, spec);

        await fixture.IngestEventAsync(ws, "u1", "Checkout Started", DateTimeOffset.UtcNow, ("order_id", "o-1"), ("total", 80));
        await fixture.IngestEventAsync(ws, "u2", "Checkout Started", DateTimeOffset.UtcNow, ("order_id", "o-2"), ("total", 10));
        await fixture.IngestEventAsync(ws, "u3", "Page Viewed", DateTimeOffset.UtcNow);
        await host.Get<TriggerConsumer>().PollOnceAsync(CancellationToken.None);

        var delivery = Assert.Single(queue.For(ws));
        Assert.Equal("u1", delivery.CustomerId);
        Assert.Equal(campaign.CampaignId, delivery.CampaignId);
        Assert.Contains("\"order\":\"o-1\"", delivery.Body);
        var entry = (await EventStreams.ReadAllAsync(Db(), ws)).Single(e => e.CustomerId == "u1");
        Assert.Equal(entry.EventId, delivery.TriggerId);
        // The delivery continues the webhook's trace under the 'campaign trigger' span: same trace id, a span of its own.
        var stored = entry.TraceParent.Split('-');
        var sent = (delivery.TraceParent ?? "").Split('-');
        Assert.Equal(4, stored.Length);
        Assert.Equal(stored[1], sent[1]);
        Assert.NotEqual(stored[2], sent[2]);
        Assert.Equal(0, await EventStreams.PendingAsync(Db(), ws, "campaigns-triggers"));
        Assert.Equal(3, await EventStreams.EntriesReadAsync(Db(), ws, "campaigns-triggers"));
    }

    [Fact]
    public async Task AnExitEventCancelsThePendingSendOnlyForThatUser()
    {
        var queue = new RecordingDeliveryQueue();
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var host = fixture.StartCampaigns(time, queue);
        var ws = Specs.NewWorkspace();
        await CreateAsync(host, ws, Spec("Checkout Started", exit: "Order Completed", steps: Specs.HeapTrack(fixture.HeapTrackUrl, Specs.TrackBody("Come back"), delayMs: (long)Hour.TotalMilliseconds)));
        var consumer = host.Get<TriggerConsumer>();
        var steps = host.Get<PendingStepRunner>();

        await fixture.IngestEventAsync(ws, "buyer", "Checkout Started", DateTimeOffset.UtcNow);
        await fixture.IngestEventAsync(ws, "leaver", "Checkout Started", DateTimeOffset.UtcNow);
        await consumer.PollOnceAsync(CancellationToken.None);
        var pendingBefore = await host.Get<IPendingSendStore>().CountAsync(ws);
        await fixture.IngestEventAsync(ws, "buyer", "Order Completed", DateTimeOffset.UtcNow.AddSeconds(1));
        await consumer.PollOnceAsync(CancellationToken.None);
        var pendingAfterExit = await host.Get<IPendingSendStore>().CountAsync(ws);
        await steps.RunDueAsync(CancellationToken.None);
        var sentBeforeDelay = queue.For(ws).Count;
        time.Advance(Hour);
        await steps.RunDueAsync(CancellationToken.None);

        Assert.Equal(2, pendingBefore);
        Assert.Equal(1, pendingAfterExit);
        Assert.Equal(0, sentBeforeDelay);
        Assert.Equal("leaver", Assert.Single(queue.For(ws)).CustomerId);
        Assert.Equal(0, await host.Get<IPendingSendStore>().CountAsync(ws));
    }

    [Fact]
    public async Task AnExitEventNotYetConsumedStillCancelsWhenTheStepFallsDue()
    {
        var queue = new RecordingDeliveryQueue();
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var host = fixture.StartCampaigns(time, queue);
        var ws = Specs.NewWorkspace();
        await CreateAsync(host, ws, Spec("Checkout Started", exit: "Order Completed", steps: Specs.HeapTrack(fixture.HeapTrackUrl, Specs.TrackBody("Come back"), delayMs: (long)Hour.TotalMilliseconds)));

        await fixture.IngestEventAsync(ws, "buyer", "Checkout Started", DateTimeOffset.UtcNow);
        await host.Get<TriggerConsumer>().PollOnceAsync(CancellationToken.None);
        await fixture.IngestEventAsync(ws, "buyer", "Order Completed", DateTimeOffset.UtcNow.AddSeconds(1));
        time.Advance(Hour);
        var processed = await host.Get<PendingStepRunner>().RunDueAsync(CancellationToken.None);

        Assert.Equal(1, processed);
        Assert.Empty(queue.For(ws));
    }

    [Fact]
    public async Task FirstTimeOnlyTriggersOnTheFirstEverOccurrenceAndRunsEveryStepAfterItsDelay()
    {
        var queue = new RecordingDeliveryQueue();
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var host = fixture.StartCampaigns(time, queue);
        var ws = Specs.NewWorkspace();
        // The veteran used the feature last month: retroactive history stored before the campaign existed.
        await fixture.IngestEventAsync(ws, "veteran", "Feature Used", DateTimeOffset.UtcNow.AddDays(-30));
        await CreateAsync(host, ws, Spec("Feature Used", firstTimeOnly: true, steps:
        [
            Specs.HeapTrack(fixture.HeapTrackUrl, Specs.TrackBody("Tip 1")),
            Specs.HeapTrack(fixture.HeapTrackUrl, Specs.TrackBody("Tip 2"), delayMs: (long)TimeSpan.FromDays(2).TotalMilliseconds),
        ]));
        var consumer = host.Get<TriggerConsumer>();

        await fixture.IngestEventAsync(ws, "newbie", "Feature Used", DateTimeOffset.UtcNow);
        await fixture.IngestEventAsync(ws, "veteran", "Feature Used", DateTimeOffset.UtcNow);
        await consumer.PollOnceAsync(CancellationToken.None);
        await fixture.IngestEventAsync(ws, "newbie", "Feature Used", DateTimeOffset.UtcNow.AddSeconds(5));
        await consumer.PollOnceAsync(CancellationToken.None);
        var afterTrigger = queue.For(ws).ToList();
        time.Advance(TimeSpan.FromDays(1));
        await host.Get<PendingStepRunner>().RunDueAsync(CancellationToken.None);
        var afterOneDay = queue.For(ws).Count;
        time.Advance(TimeSpan.FromDays(1));
        await host.Get<PendingStepRunner>().RunDueAsync(CancellationToken.None);

        var first = Assert.Single(afterTrigger);
        Assert.Equal(("newbie", 0), (first.CustomerId, first.StepIndex));
        Assert.Equal(1, afterOneDay);
        Assert.Equal([0, 1], queue.For(ws).Select(d => d.StepIndex).ToArray());
        Assert.All(queue.For(ws), d => Assert.Equal("newbie", d.CustomerId));
        Assert.Equal(first.TriggerId, queue.For(ws)[1].TriggerId);
    }

    [Fact]
    public async Task TwoReplicasNeverBothSendADueStep()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        var queueA = new RecordingDeliveryQueue();
        var queueB = new RecordingDeliveryQueue();
        await using var a = fixture.StartCampaigns(time, queueA, settings: new Dictionary<string, string?> { ["Campaigns:ConsumerName"] = "a" });
        await using var b = fixture.StartCampaigns(time, queueB, settings: new Dictionary<string, string?> { ["Campaigns:ConsumerName"] = "b" });
        var ws = Specs.NewWorkspace();
        await CreateAsync(a, ws, Spec("Signed Up", steps: Specs.HeapTrack(fixture.HeapTrackUrl, Specs.TrackBody("Welcome"), delayMs: 60_000)));
        for (var i = 0; i < 40; i++)
        {
            await fixture.IngestEventAsync(ws, $"user-{i}", "Signed Up", DateTimeOffset.UtcNow);
        }

        await Task.WhenAll(a.Get<TriggerConsumer>().PollOnceAsync(CancellationToken.None), b.Get<TriggerConsumer>().PollOnceAsync(CancellationToken.None));
        time.Advance(TimeSpan.FromMinutes(1));
        await Task.WhenAll(
            a.Get<PendingStepRunner>().RunDueAsync(CancellationToken.None),
            b.Get<PendingStepRunner>().RunDueAsync(CancellationToken.None),
            a.Get<PendingStepRunner>().RunDueAsync(CancellationToken.None));

        var all = queueA.For(ws).Concat(queueB.For(ws)).ToList();
        Assert.Equal(40, all.Count);
        Assert.Equal(40, queueA.Calls + queueB.Calls - CallsOutside(ws, queueA, queueB));
        Assert.Equal(40, all.Select(d => d.CustomerId).Distinct().Count());
    }

    [Fact]
    public async Task TheNextReaderOfAPartitionFirstHandlesWhatADeadReplicaLeftPending()
    {
        var queue = new RecordingDeliveryQueue();
        await using var host = fixture.StartCampaigns(new FakeTimeProvider(DateTimeOffset.UtcNow), queue,
            settings: new Dictionary<string, string?> { ["Campaigns:ConsumerName"] = "survivor" });
        var ws = Specs.NewWorkspace();
        await CreateAsync(host, ws, Spec("Signed Up"));
        await fixture.IngestEventAsync(ws, "u1", "Signed Up", DateTimeOffset.UtcNow);

        // A replica read the entry and died before acknowledging it; its partition leases are gone with it.
        var taken = await EventStreams.ReadGroupAsync(Db(), ws, "campaigns-triggers", "dead-replica", 10);
        await fixture.IngestEventAsync(ws, "u1", "Signed Up", DateTimeOffset.UtcNow.AddSeconds(1));
        await host.Get<TriggerConsumer>().PollOnceAsync(CancellationToken.None);
        var pending = await EventStreams.PendingAsync(Db(), ws, "campaigns-triggers");

        Assert.Equal(1, taken);
        Assert.Equal(2, queue.For(ws).Count);
        Assert.All(queue.For(ws), d => Assert.Equal("u1", d.CustomerId));
        Assert.Equal(0, pending);
    }

    [Fact]
    public async Task APausedCampaignDropsItsPendingSteps()
    {
        var queue = new RecordingDeliveryQueue();
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var host = fixture.StartCampaigns(time, queue);
        var ws = Specs.NewWorkspace();
        var campaign = await CreateAsync(host, ws, Spec("Signed Up", steps: Specs.HeapTrack(fixture.HeapTrackUrl, Specs.TrackBody("Welcome"), delayMs: 60_000)));
        await fixture.IngestEventAsync(ws, "u1", "Signed Up", DateTimeOffset.UtcNow);
        await host.Get<TriggerConsumer>().PollOnceAsync(CancellationToken.None);

        await host.Client.PauseCampaignAsync(new CampaignStateRequest { WorkspaceId = ws, CampaignId = campaign.CampaignId }, CampaignsHost.Call);
        time.Advance(TimeSpan.FromMinutes(1));
        await host.Get<PendingStepRunner>().RunDueAsync(CancellationToken.None);

        Assert.Empty(queue.For(ws));
        Assert.Equal(0, await host.Get<IPendingSendStore>().CountAsync(ws));
    }

    [Fact]
    public async Task AnEventStoredCompressedTriggersLikeAnyOther()
    {
        var queue = new RecordingDeliveryQueue();
        await using var host = fixture.StartCampaigns(new FakeTimeProvider(DateTimeOffset.UtcNow), queue);
        var ws = Specs.NewWorkspace();
        // The workspace's first 50 entries (the fixture's setting) train its dictionary; the ones after are compressed
        // (when that makes them smaller: entries like those it learnt from). All before the campaign, which sees only the last.
        for (var n = 0; n < 50; n++)
        {
            await fixture.IngestEventAsync(ws, $"browser{n}", "Checkout Started", DateTimeOffset.UtcNow, ("order_id", $"o-{n}"), ("total", n), ("path", "/checkout"));
        }
        // Training runs beside the writes: more of them until one is stored compressed.
        var db = Db();
        var probe = Integration.Domain.EventStream.Key(ws, Integration.Domain.EventStream.PartitionOf("probe"));
        for (var tries = 0; ; tries++)
        {
            await fixture.IngestEventAsync(ws, "probe", "Checkout Started", DateTimeOffset.UtcNow, ("order_id", $"p-{tries}"), ("total", 5), ("path", "/checkout"));
            var last = (await db.StreamRangeAsync(probe, count: 1, messageOrder: Order.Descending)).Single();
            if (Integration.Domain.EventStream.DictionaryOf((byte[])last[Integration.Domain.EventStream.Field]!) is not null)
            {
                break;
            }
            Assert.True(tries < 100, "no entry was compressed");
            await Task.Delay(50);
        }
        await CreateAsync(host, ws, Spec("Checkout Started", steps: Specs.HeapTrack(fixture.HeapTrackUrl, Specs.TrackBody("Nudge", "{\"order\":\"{{EventAttribute['order_id']}}\"}"))));
        await fixture.IngestEventAsync(ws, "buyer", "Checkout Started", DateTimeOffset.UtcNow, ("order_id", "o-77"), ("total", 80), ("path", "/checkout"));
        var consumer = host.Get<TriggerConsumer>();
        for (var poll = 0; poll < 10 && queue.For(ws).Count == 0; poll++)
        {
            await consumer.PollOnceAsync(CancellationToken.None);
        }

        var delivery = Assert.Single(queue.For(ws));
        Assert.Equal("buyer", delivery.CustomerId);
        Assert.Contains("\"order\":\"o-77\"", delivery.Body);
        var stream = Integration.Domain.EventStream.Key(ws, Integration.Domain.EventStream.PartitionOf("buyer"));
        var stored = (await db.StreamRangeAsync(stream, count: 1, messageOrder: Order.Descending)).Single();
        Assert.NotNull(Integration.Domain.EventStream.DictionaryOf((byte[])stored[Integration.Domain.EventStream.Field]!));
        Assert.Equal(0, await EventStreams.PendingAsync(db, ws, "campaigns-triggers"));
    }

    [Fact]
    public async Task TheConsumerGoesOnWhenTheStreamFromBeforePartitioningIsDeleted()
    {
        var queue = new RecordingDeliveryQueue();
        await using var host = fixture.StartCampaigns(new FakeTimeProvider(DateTimeOffset.UtcNow), queue);
        var ws = Specs.NewWorkspace();
        var db = Db();
        var legacy = Integration.Domain.EventStream.LegacyKey(ws);
        await db.StreamAddAsync(legacy, [new("event_id", "old-1"), new("customer_id", "ada"), new("event_name", "Signed Up")]);
        await CreateAsync(host, ws, Spec("Signed Up"));
        var consumer = host.Get<TriggerConsumer>();
        await consumer.PollOnceAsync(CancellationToken.None);
        Assert.True(await db.KeyExistsAsync(legacy));

        // Ingestion deletes it once its group is done (LegacyMigration); the consumer forgets it and reads on.
        await db.KeyDeleteAsync(legacy);
        await fixture.IngestEventAsync(ws, "u1", "Signed Up", DateTimeOffset.UtcNow);
        for (var poll = 0; poll < 3 && queue.For(ws).Count == 0; poll++)
        {
            await consumer.PollOnceAsync(CancellationToken.None);
        }

        Assert.Equal("u1", Assert.Single(queue.For(ws)).CustomerId);
        Assert.False(await db.KeyExistsAsync(legacy));
    }

    private static int CallsOutside(string ws, params RecordingDeliveryQueue[] queues) =>
        queues.Sum(q => q.Requests.Count(r => r.WorkspaceId != ws));

    private IDatabase Db() => ConnectionMultiplexer.Connect(fixture.Redis.ConnectionString).GetDatabase();
}
