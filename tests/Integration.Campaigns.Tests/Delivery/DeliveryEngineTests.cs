using Integration.Campaigns.Delivery;

namespace Integration.Campaigns.Tests.Delivery;

/// <summary>The engine against the Heap emulator's fault injection (faults are emulator-wide: these tests run one at a time).</summary>
public sealed class DeliveryEngineTests(EmulatorFixture fixture) : IClassFixture<EmulatorFixture>, IAsyncLifetime
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(20);
    private readonly string _workspace = "ws-" + Guid.NewGuid().ToString("N")[..8];

    public Task InitializeAsync() => fixture.Http.ClearFaultsAsync();

    public Task DisposeAsync() => fixture.Http.ClearFaultsAsync();

    private Task<DeliveryTestHost> StartHostAsync(IDictionary<string, string?>? settings = null) =>
        DeliveryTestHost.StartAsync(fixture.Redis.ConnectionString, settings);

    private static string NewIdentity() => "user-" + Guid.NewGuid().ToString("N")[..10];

    [Fact]
    public async Task DeliversToHeapOnceWithTheDeliveryIdAsIdempotencyKeyEvenWhenEnqueuedTwice()
    {
        await using var host = await StartHostAsync();
        var identity = NewIdentity();
        var request = Deliveries.HeapTrack(fixture.EmulatorAddress, _workspace, "c-once", identity);

        await host.Queue.EnqueueAsync(request, CancellationToken.None);
        await host.Queue.EnqueueAsync(request, CancellationToken.None);
        var record = await host.RecordWhenAsync(request, DeliveryRecord.Succeeded, Wait);

        var events = await fixture.Http.EventsAsync(identity);
        Assert.Equal(1, events.Count);
        Assert.Equal(request.DeliveryId, events.Events[0].IdempotencyKey);
        Assert.Equal(1, record!.Attempts);
        var counters = await host.Store.GetCountersAsync(_workspace, "c-once");
        Assert.Equal(1, counters[DeliveryCounterNames.Enqueued]);
        Assert.Equal(1, counters[DeliveryCounterNames.Succeeded]);
    }

    [Fact]
    public async Task HonoursRetryAfterOnA429AndMakesNoAttemptBeforeIt()
    {
        await using var host = await StartHostAsync();
        await fixture.Http.FaultAsync(new { Status = 429, Count = 1, RetryAfterSeconds = 2 });
        var identity = NewIdentity();
        var request = Deliveries.HeapTrack(fixture.EmulatorAddress, _workspace, "c-429", identity);

        await host.Queue.EnqueueAsync(request, CancellationToken.None);
        var record = await host.RecordWhenAsync(request, DeliveryRecord.Succeeded, Wait);

        Assert.Equal(2, record!.History.Count);
        var (first, second) = (record.History[0], record.History[1]);
        Assert.Equal(429, first.Status);
        Assert.Equal(RetryDecision.Retry, first.Outcome);
        // Backoff alone would be at most 200 ms here: the gap is the server's Retry-After.
        Assert.True(second.StartedMs >= first.StartedMs + first.DurationMs + 2000,
            $"second attempt {second.StartedMs - first.StartedMs - first.DurationMs} ms after the 429, before Retry-After (2 s)");
        Assert.Equal(1, (await fixture.Http.EventsAsync(identity)).Count);
    }

    [Fact]
    public async Task RecoversFromABurstOf5xx()
    {
        await using var host = await StartHostAsync();
        await fixture.Http.FaultAsync(new { Status = 503, Count = 3 });
        var identity = NewIdentity();
        var request = Deliveries.HeapTrack(fixture.EmulatorAddress, _workspace, "c-5xx", identity);

        await host.Queue.EnqueueAsync(request, CancellationToken.None);
        var record = await host.RecordWhenAsync(request, DeliveryRecord.Succeeded, Wait);

        Assert.Equal([503, 503, 503, 200], record!.History.Select(a => a.Status));
        Assert.Equal(1, (await fixture.Http.EventsAsync(identity)).Count);
        var counters = await host.Store.GetCountersAsync(_workspace, "c-5xx");
        Assert.Equal(3, counters[DeliveryCounterNames.Retried]);
        Assert.Equal(4, counters[DeliveryCounterNames.Sent]);
    }

    [Fact]
    public async Task RetriesADroppedConnection()
    {
        await using var host = await StartHostAsync();
        await fixture.Http.FaultAsync(new { DropConnection = true, Count = 2 });
        var identity = NewIdentity();
        var request = Deliveries.HeapTrack(fixture.EmulatorAddress, _workspace, "c-drop", identity);

        await host.Queue.EnqueueAsync(request, CancellationToken.None);
        var record = await host.RecordWhenAsync(request, DeliveryRecord.Succeeded, Wait);

        Assert.Equal([0, 0, 200], record!.History.Select(a => a.Status));
        Assert.All(record.History.Take(2), a => Assert.StartsWith("connection failure", a.Error));
        Assert.Equal(1, (await fixture.Http.EventsAsync(identity)).Count);
    }

    [Fact]
    public async Task RetriesAnAttemptThatTimedOut()
    {
        await using var host = await StartHostAsync();
        // The first answer would take 5 s; the attempt must be cut at its 500 ms timeout, well before that
        // (the upper bound leaves room for a loaded machine's scheduling, not for the 5 s answer).
        await fixture.Http.FaultAsync(new { LatencyMs = 5000, Count = 1 });
        var identity = NewIdentity();
        var request = Deliveries.HeapTrack(fixture.EmulatorAddress, _workspace, "c-slow", identity,
            options: new DeliveryOptions { Timeout = TimeSpan.FromMilliseconds(500) });

        await host.Queue.EnqueueAsync(request, CancellationToken.None);
        var record = await host.RecordWhenAsync(request, DeliveryRecord.Succeeded, Wait);

        Assert.Equal([0, 200], record!.History.Select(a => a.Status));
        Assert.StartsWith("timeout", record.History[0].Error);
        Assert.InRange(record.History[0].DurationMs, 400, 3000);
        Assert.Equal(1, (await fixture.Http.EventsAsync(identity)).Count);
    }

    [Fact]
    public async Task DeadLettersAPermanent400AtOnceWithItsResponse()
    {
        await using var host = await StartHostAsync();
        var identity = NewIdentity();
        // An app id the emulator does not know: Heap answers 400.
        var request = Deliveries.HeapTrack(fixture.EmulatorAddress, _workspace, "c-400", identity, app: "no-such-app");

        await host.Queue.EnqueueAsync(request, CancellationToken.None);
        var record = await host.RecordWhenAsync(request, DeliveryRecord.Dead, Wait);

        Assert.Equal(1, record!.Attempts);
        Assert.Equal(400, record.LastStatus);
        Assert.Equal(RetryDecision.PermanentFailure, record.Reason);
        Assert.False(string.IsNullOrEmpty(record.LastExcerpt));
        Assert.Equal(0, (await fixture.Http.EventsAsync(identity)).Count);
        Assert.Equal(1, (await host.Store.GetCountersAsync(_workspace, "c-400"))[DeliveryCounterNames.DeadLettered]);
    }

    [Fact]
    public async Task ExhaustedDeliveryIsDeadLetteredAndItsReplayRecordsExactlyOneEvent()
    {
        await using var host = await StartHostAsync();
        await fixture.Http.FaultAsync(new { Status = 502 });
        var identity = NewIdentity();
        var request = Deliveries.HeapTrack(fixture.EmulatorAddress, _workspace, "c-exhaust", identity,
            options: new DeliveryOptions { MaxAttempts = 3 });

        await host.Queue.EnqueueAsync(request, CancellationToken.None);
        var dead = await host.RecordWhenAsync(request, DeliveryRecord.Dead, Wait);
        Assert.Equal(RetryDecision.AttemptsExhausted, dead!.Reason);
        Assert.Equal(3, dead.Attempts);
        Assert.Equal(0, (await fixture.Http.EventsAsync(identity)).Count);

        await fixture.Http.ClearFaultsAsync();
        var client = host.CreateClient(out var channel);
        using (channel)
        {
            var replay = await client.ReplayDeadLetterAsync(
                new V1.ReplayDeadLetterRequest { WorkspaceId = _workspace, DeliveryId = request.DeliveryId },
                DeliveryTestHost.Auth, deadline: DateTime.UtcNow.AddSeconds(60));
            Assert.Equal(1, replay.Replayed);
        }
        var replayed = await host.RecordWhenAsync(request, DeliveryRecord.Succeeded, Wait);

        var events = await fixture.Http.EventsAsync(identity);
        Assert.Equal(1, events.Count);
        Assert.Equal(request.DeliveryId, events.Events[0].IdempotencyKey);
        Assert.Equal(1, replayed!.Replays);
        Assert.Equal(4, replayed.History.Count);
    }

    [Fact]
    public async Task ExpiresADeliveryOlderThanItsMaximumAgeInsteadOfRetryingForever()
    {
        await using var host = await StartHostAsync();
        await fixture.Http.FaultAsync(new { Status = 429, Count = 1, RetryAfterSeconds = 5 });
        var request = Deliveries.HeapTrack(fixture.EmulatorAddress, _workspace, "c-age", NewIdentity(),
            options: new DeliveryOptions { MaxAge = TimeSpan.FromSeconds(2) });

        await host.Queue.EnqueueAsync(request, CancellationToken.None);
        var dead = await host.RecordWhenAsync(request, DeliveryRecord.Dead, Wait);

        Assert.Equal(RetryDecision.Expired, dead!.Reason);
        Assert.Equal(1, dead.Attempts);
    }

    [Fact]
    public async Task MakesNoAttemptBeforeNotBefore()
    {
        await using var host = await StartHostAsync();
        var identity = NewIdentity();
        var notBefore = DateTimeOffset.UtcNow.AddSeconds(1.5);
        var request = Deliveries.HeapTrack(fixture.EmulatorAddress, _workspace, "c-later", identity, notBefore: notBefore);

        await host.Queue.EnqueueAsync(request, CancellationToken.None);
        Assert.Equal(DeliveryRecord.Scheduled, (await host.Store.GetAsync(_workspace, request.DeliveryId))!.State);
        var record = await host.RecordWhenAsync(request, DeliveryRecord.Succeeded, Wait);

        Assert.True(record!.History[0].StartedMs >= notBefore.ToUnixTimeMilliseconds(), "attempted before NotBefore");
    }
}
