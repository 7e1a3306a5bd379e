extern alias ingestion;

using Integration.Domain;
using Integration.Ingestion.V1;
using Integration.Testing;
using StackExchange.Redis;

namespace Integration.Ingestion.Tests;

/// <summary>Data stored in the layout before partitioning keeps working after the upgrade (docs/keyspace.md).</summary>
public sealed class LegacyMigrationTests(RedisServer redis) : IClassFixture<RedisServer>
{
    private sealed class Host(string redis) : IAsyncDisposable
    {
        private readonly KestrelServiceFactory<ingestion::Program> _service =
            new(new Dictionary<string, string?> { ["ConnectionStrings:redis"] = redis }, grpc: true);
        private Grpc.Net.Client.GrpcChannel? _channel;

        public Ingestion.V1.Ingestion.IngestionClient Ingestion => new(_channel ??= _service.CreateGrpcChannel());

        public async ValueTask DisposeAsync()
        {
            _channel?.Dispose();
            await _service.DisposeAsync();
        }
    }

    private static async Task GoneAsync(IDatabase db, RedisKey key)
    {
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (await db.KeyExistsAsync(key))
        {
            Assert.True(DateTime.UtcNow < deadline, $"{key} still exists after 30 s");
            await Task.Delay(100);
        }
    }

    /// <summary>Writes a user with two events the way the previous version stored them (event ids: the user's own).</summary>
    private static async Task SeedOldLayoutAsync(IDatabase db, string ws, string cid)
    {
        var prefix = Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(cid)))[..16];
        await db.SetAddAsync("workspaces", ws);
        await db.SortedSetAddAsync($"users:{{{ws}}}", cid, 1_000);
        await db.HashSetAsync($"user:{{{ws}}}:{cid}", [new("_updated_at_ms", 5_000), new("a:plan", "\"pro\""), new("a:seats", "3")]);
        await db.HashSetAsync($"ustats:{{{ws}}}:{cid}", [new("c:Purchase", 2), new("f:Purchase", 2_000), new("l:Purchase", 3_000)]);
        foreach (var (id, t) in new[] { (prefix + "0123456789abcdef", 2_000L), (prefix + "fedcba9876543210", 3_000L) })
        {
            await db.SortedSetAddAsync($"uev:{{{ws}}}:{cid}", id, t);
            await db.SortedSetAddAsync($"uevn:{{{ws}}}:{cid}:Purchase", id, t);
            await db.StringSetAsync($"ev:{{{ws}}}:{id}",
                $$$"""{"event_id":"{{{id}}}","customer_id":"{{{cid}}}","event_name":"Purchase","event_time_ms":{{{t}}},"config_name":"heap","received_ms":{{{t + 10}}},"attributes":{"amount":{{{t / 100}}},"currency":"EUR"}}""");
        }
    }

    [Fact]
    public async Task TheOldStreamIsDeletedOnceItsConsumersAreDoneOrItIsPastTheRetentionWindow()
    {
        await using var connection = await ConnectionMultiplexer.ConnectAsync(redis.ConnectionString);
        var db = connection.GetDatabase();
        var clock = new Microsoft.Extensions.Time.Testing.FakeTimeProvider(DateTimeOffset.UtcNow);
        var now = clock.GetUtcNow().ToUnixTimeMilliseconds();
        var workspaces = new ingestion::Integration.Ingestion.Storage.RedisWorkspaceStore(connection);
        var storage = Microsoft.Extensions.Options.Options.Create(new ingestion::Integration.Ingestion.Storage.StorageOptions());
        var retention = new ingestion::Integration.Ingestion.Storage.RetentionPolicy(workspaces, storage, clock);
        var store = new ingestion::Integration.Ingestion.Storage.RedisActivityStore(connection, clock, storage, retention,
            new ingestion::Integration.Ingestion.Storage.StreamDictionaries(connection, storage,
                Microsoft.Extensions.Logging.Abstractions.NullLogger<ingestion::Integration.Ingestion.Storage.StreamDictionaries>.Instance));
        var migration = new ingestion::Integration.Ingestion.Storage.LegacyMigration(connection, store, retention, clock,
            Microsoft.Extensions.Logging.Abstractions.NullLogger<ingestion::Integration.Ingestion.Storage.LegacyMigration>.Instance);
        const string group = "campaigns-triggers";
        // Four workspaces with an old stream of two entries: read and acknowledged; read, one not acknowledged; never
        // consumed (no group); a group that has not read it all.
        var (done, pending, unread, behind) = ("lsd" + Guid.NewGuid().ToString("N")[..6], "lsp" + Guid.NewGuid().ToString("N")[..6],
            "lsn" + Guid.NewGuid().ToString("N")[..6], "lsb" + Guid.NewGuid().ToString("N")[..6]);
        foreach (var ws in new[] { done, pending, unread, behind })
        {
            await workspaces.CreateAsync(new ingestion::Integration.Ingestion.Storage.WorkspaceRecord(ws, ws, 500, new byte[32], now), upsert: false);
            foreach (var n in new[] { 1, 2 })
            {
                await db.StreamAddAsync(EventStream.LegacyKey(ws), [new("event_id", $"e{n}"), new("customer_id", "ada"), new("event_name", "Purchase")],
                    $"{now - 10_000 + n}-0");
            }
            if (ws != unread)
            {
                await db.StreamCreateConsumerGroupAsync(EventStream.LegacyKey(ws), group, "0-0");
            }
        }
        var read = await db.StreamReadGroupAsync(EventStream.LegacyKey(done), group, "c1", ">");
        await db.StreamAcknowledgeAsync(EventStream.LegacyKey(done), group, read.Select(e => e.Id).ToArray());
        read = await db.StreamReadGroupAsync(EventStream.LegacyKey(pending), group, "c1", ">");
        await db.StreamAcknowledgeAsync(EventStream.LegacyKey(pending), group, read[0].Id);
        await db.StreamReadGroupAsync(EventStream.LegacyKey(behind), group, "c1", ">", count: 1);
        await db.StreamAcknowledgeAsync(EventStream.LegacyKey(behind), group, (await db.StreamRangeAsync(EventStream.LegacyKey(behind), count: 1))[0].Id);

        var remaining = await migration.DeleteDrainedLegacyStreamsAsync();

        Assert.False(await db.KeyExistsAsync(EventStream.LegacyKey(done)));
        Assert.False(await db.KeyExistsAsync(EventStream.LegacyKey(unread)));
        Assert.True(await db.KeyExistsAsync(EventStream.LegacyKey(pending)));
        Assert.True(await db.KeyExistsAsync(EventStream.LegacyKey(behind)));
        Assert.True(remaining >= 2, $"remaining {remaining}");

        // Once the last entry is acknowledged the stream goes; one nobody finishes goes when it is past the retention window.
        await db.StreamAcknowledgeAsync(EventStream.LegacyKey(pending), group, read[1].Id);
        await workspaces.SetRetentionDaysAsync(behind, 1);
        await migration.DeleteDrainedLegacyStreamsAsync();
        Assert.False(await db.KeyExistsAsync(EventStream.LegacyKey(pending)));
        Assert.True(await db.KeyExistsAsync(EventStream.LegacyKey(behind)));
        clock.Advance(TimeSpan.FromDays(2));
        await migration.DeleteDrainedLegacyStreamsAsync();
        Assert.False(await db.KeyExistsAsync(EventStream.LegacyKey(behind)));
    }

    [Fact]
    public async Task AUserOfTheOldLayoutIsMovedOnFirstReadWithProfileEventsAndAggregates()
    {
        await using var connection = await ConnectionMultiplexer.ConnectAsync(redis.ConnectionString);
        var db = connection.GetDatabase();
        var ws = "old" + Guid.NewGuid().ToString("N")[..8];
        await SeedOldLayoutAsync(db, ws, "ada");
        await using var host = new Host(redis.ConnectionString);
        var client = host.Ingestion;

        var user = await client.GetUserAsync(new GetUserRequest { WorkspaceId = ws, CustomerId = "ada" });
        var events = await client.ListUserEventsAsync(new ListUserEventsRequest { WorkspaceId = ws, CustomerId = "ada" });

        Assert.Equal("pro", user.Attributes["plan"].StringValue);
        Assert.Equal(3, user.Attributes["seats"].NumberValue);
        Assert.Equal(5_000, user.UpdatedAtMs);
        var purchase = Assert.Single(user.Events);
        Assert.Equal((2, 2_000, 3_000), (purchase.Count, purchase.FirstTimeMs, purchase.LastTimeMs));
        Assert.Equal([2_000L, 3_000L], events.Events.Select(e => e.EventTimeMs));
        Assert.EndsWith("0123456789abcdef", events.Events[0].EventId);
        Assert.Equal(20, events.Events[0].Attributes["amount"].NumberValue);
        Assert.False(await db.KeyExistsAsync($"ev:{{{ws}}}:{events.Events[0].EventId}"));
        Assert.False(await db.KeyExistsAsync($"user:{{{ws}}}:ada"));
        // The copies are marked, so event-triggered campaigns do not fire again for events of the past.
        Assert.All(await EventStreams.ReadAllAsync(db, ws), e => Assert.True(e.Replayed));
    }

    [Fact]
    public async Task TheStartUpPassMovesEveryUserAndARepeatedMoveStoresNothingTwice()
    {
        await using var connection = await ConnectionMultiplexer.ConnectAsync(redis.ConnectionString);
        var db = connection.GetDatabase();
        var ws = "old" + Guid.NewGuid().ToString("N")[..8];
        var users = Enumerable.Range(0, 40).Select(i => $"u{i}@example.com").ToList();
        foreach (var cid in users)
        {
            await SeedOldLayoutAsync(db, ws, cid);
        }
        // A move interrupted after the copy and before the old keys went: the next pass finds the user again.
        await using (var first = new Host(redis.ConnectionString))
        {
            _ = first.Ingestion; // starts the service, and with it the start-up pass
            await GoneAsync(db, $"users:{{{ws}}}");
        }
        await SeedOldLayoutAsync(db, ws, users[0]);
        await using var host = new Host(redis.ConnectionString);
        _ = host.Ingestion;
        await GoneAsync(db, $"users:{{{ws}}}");

        foreach (var cid in users)
        {
            var user = await host.Ingestion.GetUserAsync(new GetUserRequest { WorkspaceId = ws, CustomerId = cid });
            Assert.True(user.Events.Count == 1 && user.Events[0].Count == 2, $"{cid}: {user}");
        }
        Assert.Equal(users.Count * 2, await EventStreams.LengthAsync(db, ws));
        Assert.Equal(users.Count, (await Task.WhenAll(Enumerable.Range(0, EventStream.Partitions)
            .Select(p => db.SortedSetLengthAsync($"u{EventStream.Tag(ws, p)}{ws}")))).Sum());
    }
}
