extern alias ingestion;

using ingestion::Integration.Ingestion.Storage;
using Integration.Common.V1;
using Integration.Testing;
using Microsoft.Extensions.DependencyInjection;
using System.Diagnostics.Metrics;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;
using StackExchange.Redis;
using EventRecord = ingestion::Integration.Ingestion.V1.EventRecord;
using UserRecord = ingestion::Integration.Ingestion.V1.UserRecord;

namespace Integration.Ingestion.Tests;

/// <summary>
/// Retention with a fake clock on a real Redis: traffic goes on for twice the window and more, and what the workspace
/// holds stops growing once the window is full (trimming on write, MINID on the streams, the sweeper for users who went quiet).
/// </summary>
public sealed class RetentionTests(RedisServer redis) : IClassFixture<RedisServer>
{
    private const int RetentionDays = 3;
    private const int Days = 12;
    private const int SteadyUsers = 200;
    private const int QuietUsers = 150;
    private const int EventsPerUserAndDay = 10;

    private sealed record Footprint(long Bytes, long Keys, long IndexEntries, long StreamEntries, long QuietIndexKeys);

    [Fact]
    public async Task MemoryStaysFlatWhileTrafficContinuesPastTheWindow()
    {
        await using var connection = await ConnectionMultiplexer.ConnectAsync(redis.ConnectionString);
        var db = connection.GetDatabase();
        var ws = "ret" + Guid.NewGuid().ToString("N")[..8];
        var start = new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);
        var clock = new FakeTimeProvider(start);
        var workspaces = new RedisWorkspaceStore(connection);
        await workspaces.CreateAsync(new WorkspaceRecord(ws, ws, 500, new byte[32], start.ToUnixTimeMilliseconds()), upsert: false);
        await workspaces.SetRetentionDaysAsync(ws, RetentionDays);
        // A duplicate window shorter than the test, so the dedup markers reach their bound too.
        var storage = Options.Create(new StorageOptions { DuplicateWindowDays = 2 });
        var retention = new RetentionPolicy(workspaces, storage, clock);
        var store = new RedisActivityStore(connection, clock, storage, retention,
            new StreamDictionaries(connection, storage, NullLogger<StreamDictionaries>.Instance));
        using var services = new ServiceCollection().AddMetrics().BuildServiceProvider();
        var sweeper = new RetentionSweeper(connection, retention, clock,
            Options.Create(new RetentionSweeperOptions { UsersPerCall = 50, PauseBetweenCallsMs = 0 }), storage,
            services.GetRequiredService<IMeterFactory>(), NullLogger<RetentionSweeper>.Instance);

        var footprints = new List<Footprint>();
        var swept = new List<SweepResult>();
        for (var day = 0; day < Days; day++)
        {
            for (var hour = 0; hour < EventsPerUserAndDay; hour++)
            {
                clock.SetUtcNow(start.AddDays(day).AddHours(8 + hour));
                var writers = Enumerable.Range(0, SteadyUsers).Select(u => $"steady{u}")
                    .Concat(day < 2 ? Enumerable.Range(0, QuietUsers).Select(u => $"quiet{u}") : []);
                var records = writers.Select(cid => RecordWrite.ForEvent(ws, "heap", Event(cid, clock, hour), Guid.NewGuid().ToString("N"), "")).ToList();
                Assert.All(await store.WriteAsync(records), outcome => Assert.Equal(WriteOutcome.Stored, outcome));
            }
            clock.SetUtcNow(start.AddDays(day).AddHours(23));
            swept.Add(await sweeper.PassAsync(CancellationToken.None));
            footprints.Add(await FootprintAsync(connection, db, ws));
        }

        var full = footprints[RetentionDays + 2];
        var last = footprints[^1];
        var windowEvents = SteadyUsers * EventsPerUserAndDay * (RetentionDays + 1);
        // The quiet users' events are gone (their next write never came: only the sweeper removed them) ...
        Assert.Equal(0, last.QuietIndexKeys);
        Assert.True(swept.Sum(s => s.EntriesRemoved) >= QuietUsers * 2 * EventsPerUserAndDay, $"removed {swept.Sum(s => s.EntriesRemoved)}");
        // ... and so is everything older than the window: the indexes and the streams hold about the window's events.
        Assert.InRange(last.IndexEntries, 1, windowEvents);
        Assert.InRange(last.StreamEntries, 1, windowEvents + 32 * 100);
        // What the workspace holds does not grow once the window is full, while the traffic goes on.
        Assert.Equal(full.Keys, last.Keys);
        Assert.True(last.Bytes <= full.Bytes * 1.05, $"day {RetentionDays + 2}: {full.Bytes} B, day {Days - 1}: {last.Bytes} B");
        Assert.True(last.IndexEntries <= full.IndexEntries * 1.05, $"index entries {full.IndexEntries} → {last.IndexEntries}");
        // Duplicate markers are kept for the duplicate window only (2 days here), those of users who went quiet too.
        Assert.True(swept.Sum(s => s.MarkersRemoved) >= QuietUsers * 2 * EventsPerUserAndDay, $"markers removed {swept.Sum(s => s.MarkersRemoved)}");
        Assert.Equal(0, await MarkersAsync(db, ws, "quiet0"));
        Assert.InRange(await MarkersAsync(db, ws, "steady0"), EventsPerUserAndDay, EventsPerUserAndDay * 3);
        // Aggregates stay for ever.
        var quiet = await store.GetUserAsync(ws, "quiet0");
        Assert.Equal(2 * EventsPerUserAndDay, Assert.Single(quiet!.Events).Count);
        Assert.Empty(await store.ListUserEventsAsync(ws, "quiet0", 0, 0, 100));
    }

    private static EventRecord Event(string cid, TimeProvider clock, int n) => new()
    {
        User = new UserRecord { CustomerId = cid },
        EventName = "Viewed",
        EventTimeMs = clock.GetUtcNow().ToUnixTimeMilliseconds(),
        Module = 2,
        Attributes =
        {
            ["page"] = new AttributeValue { StringValue = $"/products/{n}" },
            ["price"] = new AttributeValue { NumberValue = 10 + n },
            ["logged_in"] = new AttributeValue { BoolValue = n % 2 == 0 },
        },
    };

    private static async Task<int> MarkersAsync(IDatabase db, string ws, string cid) =>
        (await db.HashGetAllAsync(UserKeyspace.User(ws, cid))).Count(f => UserKeyspace.IsMarker(f.Name));

    /// <summary>The workspace's keys, counted by a SCAN in the test (the product never scans the keyspace).</summary>
    private static async Task<Footprint> FootprintAsync(IConnectionMultiplexer connection, IDatabase db, string ws)
    {
        long bytes = 0, keys = 0, index = 0, stream = 0, quietIndex = 0;
        var server = connection.GetServer(connection.GetEndPoints()[0]);
        await foreach (var key in server.KeysAsync(pattern: $"*{ws}*", pageSize: 1000))
        {
            keys++;
            bytes += (long)await db.ExecuteAsync("MEMORY", "USAGE", key, "SAMPLES", "0");
            var name = key.ToString();
            if (name.StartsWith('i'))
            {
                index += await db.SortedSetLengthAsync(key);
                quietIndex += name.Contains(":quiet", StringComparison.Ordinal) ? 1 : 0;
            }
            else if (name.StartsWith("s{", StringComparison.Ordinal))
            {
                stream += await db.StreamInfoAsync(key) is { Length: var length } ? length : 0;
            }
        }
        return new Footprint(bytes, keys, index, stream, quietIndex);
    }
}
