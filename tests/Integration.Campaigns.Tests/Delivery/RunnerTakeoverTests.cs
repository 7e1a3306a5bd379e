using Integration.Campaigns.Delivery;
using Microsoft.Extensions.DependencyInjection;

namespace Integration.Campaigns.Tests.Delivery;

public sealed class RunnerTakeoverTests(EmulatorFixture fixture) : IClassFixture<EmulatorFixture>
{
    /// <summary>A runner that dies right after the destination answered, before it could record the outcome.</summary>
    private sealed class DiesBeforeRecordingStore(IDeliveryStore inner, TaskCompletionSource sent) : IDeliveryStore
    {
        public Task<IReadOnlyList<string>> GetWorkspacesAsync() => inner.GetWorkspacesAsync();
        public Task<IReadOnlyDictionary<string, string>> GetLanesAsync(string workspaceId) => inner.GetLanesAsync(workspaceId);
        public Task<IReadOnlyList<QueuedDelivery>> ReadAsync(string workspaceId, string lane, string consumer, int count) =>
            inner.ReadAsync(workspaceId, lane, consumer, count);
        public Task<IReadOnlyList<QueuedDelivery>> ClaimAsync(string workspaceId, string lane, string consumer, TimeSpan minIdle, int count) =>
            inner.ClaimAsync(workspaceId, lane, consumer, minIdle, count);
        public Task<DeliveryRecord?> GetAsync(string workspaceId, string deliveryId) => inner.GetAsync(workspaceId, deliveryId);
        public Task<DeliveryRecord?> GetAsync(string workspaceId, QueuedDelivery entry) => inner.GetAsync(workspaceId, entry);
        public Task<int> MoveDueAsync(string workspaceId, long nowMs, int limit) => inner.MoveDueAsync(workspaceId, nowMs, limit);
        public Task<long> CountPendingAsync(string workspaceId) => inner.CountPendingAsync(workspaceId);

        public Task<bool> FinishAsync(string workspaceId, string lane, QueuedDelivery entry, string campaignId, DeliveryFinish finish)
        {
            sent.TrySetResult();
            throw new InvalidOperationException("the runner died here");
        }
    }

    [Fact]
    public async Task AnotherRunnerCompletesADeliveryWhoseRunnerDiedMidDeliveryWithoutADuplicateEvent()
    {
        var workspace = "ws-" + Guid.NewGuid().ToString("N")[..8];
        var identity = "user-" + Guid.NewGuid().ToString("N")[..10];
        var request = Deliveries.HeapTrack(fixture.EmulatorAddress, workspace, "c-takeover", identity);
        var repeatsBefore = (await fixture.Http.StatsAsync()).IdempotentRepeats;
        var sent = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);

        await using (var dying = await DeliveryTestHost.StartAsync(fixture.Redis.ConnectionString, services: s =>
            s.AddSingleton<IDeliveryStore>(sp => new DiesBeforeRecordingStore(sp.GetRequiredService<RedisDeliveryStore>(), sent))))
        {
            await dying.Queue.EnqueueAsync(request, CancellationToken.None);
            await sent.Task.WaitAsync(TimeSpan.FromSeconds(15));
        }
        Assert.Equal(1, (await fixture.Http.EventsAsync(identity)).Count);
        Assert.Equal(DeliveryRecord.Queued, (await new RedisStoreProbe(fixture.Redis.ConnectionString).GetAsync(workspace, request.DeliveryId))!.State);

        await using var survivor = await DeliveryTestHost.StartAsync(fixture.Redis.ConnectionString);
        var record = await survivor.RecordWhenAsync(request, DeliveryRecord.Succeeded, TimeSpan.FromSeconds(20));

        var events = await fixture.Http.EventsAsync(identity);
        Assert.Equal(1, events.Count);
        Assert.Equal(request.DeliveryId, events.Events[0].IdempotencyKey);
        Assert.Equal(repeatsBefore + 1, (await fixture.Http.StatsAsync()).IdempotentRepeats);
        Assert.Single(record!.History);
    }

    [Fact]
    public async Task QueuedDeliveriesSurviveARedisCrashAndRestart()
    {
        var redis = new Integration.Testing.RedisServer { AppendOnly = true };
        await redis.InitializeAsync();
        try
        {
            var workspace = "ws-" + Guid.NewGuid().ToString("N")[..8];
            var identity = "user-" + Guid.NewGuid().ToString("N")[..10];
            var request = Deliveries.HeapTrack(fixture.EmulatorAddress, workspace, "c-crash", identity,
                notBefore: DateTimeOffset.UtcNow.AddSeconds(2));
            await using (var host = await DeliveryTestHost.StartAsync(redis.ConnectionString, new Dictionary<string, string?>
            {
                ["Delivery:RunnerEnabled"] = "false",
            }))
            {
                await host.Queue.EnqueueAsync(request, CancellationToken.None);
            }
            // AOF is fsynced every second: give it that second, then crash Redis the hard way.
            await Task.Delay(1500);
            redis.Kill();
            await redis.RestartAsync();

            await using var runner = await DeliveryTestHost.StartAsync(redis.ConnectionString);
            await runner.RecordWhenAsync(request, DeliveryRecord.Succeeded, TimeSpan.FromSeconds(20));
            Assert.Equal(1, (await fixture.Http.EventsAsync(identity)).Count);
        }
        finally
        {
            await redis.DisposeAsync();
        }
    }

    [Fact]
    public async Task AQueuedEntryCarriesItsRequestAndOneWrittenBeforeEntriesDidIsStillDelivered()
    {
        var workspace = "ws-" + Guid.NewGuid().ToString("N")[..8];
        var fresh = Deliveries.HeapTrack(fixture.EmulatorAddress, workspace, "c-layout", "user-" + Guid.NewGuid().ToString("N")[..10]);
        var older = Deliveries.HeapTrack(fixture.EmulatorAddress, workspace, "c-layout", "user-" + Guid.NewGuid().ToString("N")[..10]);
        var stopped = new Dictionary<string, string?> { ["Delivery:RunnerEnabled"] = "false" };
        await using (var host = await DeliveryTestHost.StartAsync(fixture.Redis.ConnectionString, stopped))
        {
            await host.Queue.EnqueueAsync(fresh, CancellationToken.None);
            await host.Queue.EnqueueAsync(older, CancellationToken.None);
        }
        using var redis = await StackExchange.Redis.ConnectionMultiplexer.ConnectAsync(fixture.Redis.ConnectionString);
        var db = redis.GetDatabase();
        var lane = DeliveryTarget.LaneOf(DeliveryTarget.DestinationOf(fresh.Url));
        var stream = $"dlv:{{{workspace}}}:q:{lane}";
        var entries = await db.StreamRangeAsync(stream);
        Assert.Equal(2, entries.Length);
        Assert.All(entries, e => Assert.Contains("\"deliveryId\"", e["r"].ToString(), StringComparison.Ordinal));
        // The layout before entries carried their request: the delivery id alone, the request in the record.
        var olderEntry = entries.Single(e => e["d"] == older.DeliveryId);
        await db.StreamDeleteAsync(stream, [olderEntry.Id]);
        await db.StreamAddAsync(stream, "d", older.DeliveryId);

        await using var runner = await DeliveryTestHost.StartAsync(fixture.Redis.ConnectionString);
        foreach (var request in new[] { fresh, older })
        {
            var record = await runner.RecordWhenAsync(request, DeliveryRecord.Succeeded, TimeSpan.FromSeconds(20));
            Assert.Single(record!.History);
            var events = await fixture.Http.EventsAsync(request.CustomerId);
            Assert.Equal(request.DeliveryId, Assert.Single(events.Events).IdempotencyKey);
        }
    }

    /// <summary>Reads records without running a runner.</summary>
    private sealed class RedisStoreProbe(string connectionString)
    {
        public async Task<DeliveryRecord?> GetAsync(string workspace, string deliveryId)
        {
            await using var host = await DeliveryTestHost.StartAsync(connectionString, new Dictionary<string, string?>
            {
                ["Delivery:RunnerEnabled"] = "false",
            });
            return await host.Store.GetAsync(workspace, deliveryId);
        }
    }
}
