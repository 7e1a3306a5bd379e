extern alias ingestion;

using System.Diagnostics.Metrics;
using ingestion::Integration.Ingestion.Storage;
using Integration.Common.V1;
using Integration.Testing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;
using StackExchange.Redis;
using Xunit.Abstractions;
using EventRecord = ingestion::Integration.Ingestion.V1.EventRecord;
using UserRecord = ingestion::Integration.Ingestion.V1.UserRecord;

namespace Integration.Ingestion.Tests;

/// <summary>
/// One large workspace on the real three-master cluster: its keys spread over every master (the partition tags,
/// docs/keyspace.md), and the retention sweeper's scripts run there (one slot each, keys in KEYS).
/// </summary>
public sealed class ClusterSpreadTests(RedisCluster cluster, ITestOutputHelper output) : IClassFixture<RedisCluster>
{
    private const int Users = 30_000;

    [Fact]
    public async Task OneWorkspaceOfThirtyThousandUsersPutsAThirdOfItsKeysOnEachMaster()
    {
        await using var connection = await ConnectionMultiplexer.ConnectAsync(cluster.ConnectionString);
        var ws = "spread" + Guid.NewGuid().ToString("N")[..6];
        var start = DateTimeOffset.UtcNow;
        var clock = new FakeTimeProvider(start);
        var workspaces = new RedisWorkspaceStore(connection);
        await workspaces.CreateAsync(new WorkspaceRecord(ws, ws, 500, new byte[32], start.ToUnixTimeMilliseconds()), upsert: false);
        var storage = Options.Create(new StorageOptions());
        var retention = new RetentionPolicy(workspaces, storage, clock);
        var store = new RedisActivityStore(connection, clock, storage, retention,
            new StreamDictionaries(connection, storage, NullLogger<StreamDictionaries>.Instance));

        foreach (var chunk in Enumerable.Range(0, Users).Chunk(2_000))
        {
            var records = chunk.Select(u => RecordWrite.ForEvent(ws, "heap", Event($"user{u}@example.com", start, u), Guid.NewGuid().ToString("N"), "")).ToList();
            Assert.All(await store.WriteAsync(records), outcome => Assert.Equal(WriteOutcome.Stored, outcome));
        }

        // The test may scan each master; the product never does.
        var perMaster = new List<long>();
        foreach (var port in cluster.Ports)
        {
            var server = connection.GetServer("127.0.0.1", port);
            long keys = 0;
            await foreach (var _ in server.KeysAsync(pattern: $"*}}{ws}*", pageSize: 5_000))
            {
                keys++;
            }
            perMaster.Add(keys);
        }
        var total = perMaster.Sum();
        // Each user has a user hash (profile, aggregates, duplicate markers) and an event index; plus 32 streams and 32 users indexes.
        Assert.Equal(2L * Users + 2 * 32, total);
        output.WriteLine($"keys per master: {string.Join(", ", perMaster.Select(k => $"{k} ({k * 100.0 / total:F1} %)"))}");
        Assert.All(perMaster, keys => Assert.True(keys / (double)total is >= 0.28 and <= 0.38, $"keys per master: {string.Join(", ", perMaster)}"));

        // The sweeper's scripts run on the cluster: past the retention window it removes every user's index entries.
        clock.Advance(TimeSpan.FromDays(storage.Value.DefaultRetentionDays + 1));
        using var services = new ServiceCollection().AddMetrics().BuildServiceProvider();
        var sweeper = new RetentionSweeper(connection, retention, clock,
            Options.Create(new RetentionSweeperOptions { UsersPerCall = 200, PauseBetweenCallsMs = 0 }), storage,
            services.GetRequiredService<IMeterFactory>(), NullLogger<RetentionSweeper>.Instance);
        var swept = await sweeper.PassAsync(CancellationToken.None);
        Assert.True(swept.UsersSwept >= Users, $"swept {swept.UsersSwept}");
        Assert.False(await connection.GetDatabase().KeyExistsAsync(UserKeyspace.Events(ws, "user0@example.com")));
    }

    private static EventRecord Event(string cid, DateTimeOffset at, int n) => new()
    {
        User = new UserRecord { CustomerId = cid, UpdatedAtMs = at.ToUnixTimeMilliseconds(), Attributes = { ["country"] = new AttributeValue { StringValue = n % 3 == 0 ? "US" : "DE" } } },
        EventName = "Purchased",
        EventTimeMs = at.ToUnixTimeMilliseconds(),
        Module = 2,
        Attributes = { ["amount"] = new AttributeValue { NumberValue = n % 100 } },
    };
}
