extern alias ingestion;

using System.Diagnostics.Metrics;
using ingestion::Integration.Ingestion.Segments;
using ingestion::Integration.Ingestion.Storage;
using Integration.Common.V1;
using Integration.Domain;
using Integration.Testing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;
using StackExchange.Redis;
using EventRecord = ingestion::Integration.Ingestion.V1.EventRecord;
using UserRecord = ingestion::Integration.Ingestion.V1.UserRecord;

namespace Integration.Ingestion.Tests;

/// <summary>
/// One hash per user (docs/keyspace.md): the profile, the aggregates and the duplicate markers of a user in one key,
/// markers kept for the duplicate window, and users stored in the layout before (three hashes: <c>p</c>, <c>a</c>,
/// <c>k</c>, written here by that layout's own script) read, written and merged without a manual step.
/// </summary>
public sealed class UserHashTests(RedisServer redis) : IClassFixture<RedisServer>
{
    private sealed record Store(string Ws, RedisActivityStore Activity, FakeTimeProvider Clock, IOptions<StorageOptions> Storage,
        RedisWorkspaceStore Workspaces, RetentionPolicy Retention, StreamDictionaries Dictionaries);

    [Fact]
    public async Task AUserIsOneListpackHashAndAnEventCostsFourCommands()
    {
        await using var connection = await ConnectionMultiplexer.ConnectAsync(redis.ConnectionString + ",allowAdmin=true");
        var db = connection.GetDatabase();
        var s = await NewStoreAsync(connection);
        const string cid = "ada@example.com";
        Assert.Equal(WriteOutcome.Stored, Assert.Single(await s.Activity.WriteAsync([RecordWrite.ForEvent(s.Ws, "heap", Event(cid, s.Clock, 0), Id(), "")])));

        // A known user's event: HMGET, XADD, ZADD (index), HSET; nothing else (the users index only for a new user).
        var server = connection.GetServer(connection.GetEndPoints()[0]);
        await server.ExecuteAsync("CONFIG", "RESETSTAT");
        var records = Enumerable.Range(1, 19).Select(n => RecordWrite.ForEvent(s.Ws, "heap", Event(cid, s.Clock, n), Id(), "")).ToList();
        Assert.All(await s.Activity.WriteAsync(records), o => Assert.Equal(WriteOutcome.Stored, o));
        var calls = await CommandCallsAsync(server);
        Assert.Equal(19, calls.GetValueOrDefault("hmget"));
        Assert.Equal(19, calls.GetValueOrDefault("xadd"));
        Assert.Equal(19, calls.GetValueOrDefault("zadd"));
        Assert.Equal(19, calls.GetValueOrDefault("hset"));
        // (The rest is the script call itself and the test's own connection: SELECT, CONFIG RESETSTAT.)
        Assert.True(4 * 19 == calls.Where(c => c.Key is not ("evalsha" or "select") && !c.Key.StartsWith("config", StringComparison.Ordinal)).Sum(c => c.Value),
            string.Join(", ", calls));

        // Profile, aggregates and 20 markers in one hash, small enough for a listpack; no other key of the user but its index.
        var hash = UserKeyspace.User(s.Ws, cid);
        Assert.Equal("listpack", (await db.ExecuteAsync("OBJECT", "ENCODING", hash)).ToString());
        var fields = await db.HashGetAllAsync(hash);
        Assert.Equal(20, fields.Count(f => UserKeyspace.IsMarker(f.Name)));
        Assert.False(await db.KeyExistsAsync(UserKeyspace.OldAggregates(s.Ws, cid)));
        Assert.False(await db.KeyExistsAsync(UserKeyspace.OldDedup(s.Ws, cid)));
        Assert.Equal(-1, (long)await db.ExecuteAsync("TTL", hash));
        var user = await s.Activity.GetUserAsync(s.Ws, cid);
        Assert.Equal(20, user!.Events.Sum(e => e.Count));
        Assert.Equal(["Purchased", "Viewed"], user.Events.Select(e => e.EventName));
        Assert.Equal("DE", user.Attributes["country"].StringValue);
        Assert.Equal(3, user.Attributes.Count);
    }

    [Fact]
    public async Task RepeatsAreRecognisedForTheWindowAndMarkersDoNotOutliveIt()
    {
        await using var connection = await ConnectionMultiplexer.ConnectAsync(redis.ConnectionString);
        var db = connection.GetDatabase();
        var s = await NewStoreAsync(connection, duplicateWindowDays: 2);
        const string cid = "bob@example.com";
        var first = Id();
        var payload = Id();
        var now = s.Clock.GetUtcNow().ToUnixTimeMilliseconds();
        Assert.Equal([WriteOutcome.Stored, WriteOutcome.Stored], await s.Activity.WriteAsync(
            [RecordWrite.ForEvent(s.Ws, "heap", Event(cid, s.Clock, 0), first, ""), RecordWrite.ForUser(s.Ws, Profile(cid, now + 1_000, "pro"), payload)]));
        // Within the window, the same event or payload again is a repeat and changes nothing; a new payload id with an
        // older updated_at is stored but loses to the newer profile.
        s.Clock.Advance(TimeSpan.FromDays(2) - TimeSpan.FromSeconds(1));
        Assert.Equal([WriteOutcome.Duplicate, WriteOutcome.Duplicate, WriteOutcome.StoredProfileStale], await s.Activity.WriteAsync(
            [RecordWrite.ForEvent(s.Ws, "heap", Event(cid, s.Clock, 1), first, ""), RecordWrite.ForUser(s.Ws, Profile(cid, now + 2_000, "free"), payload),
             RecordWrite.ForUser(s.Ws, Profile(cid, now - 5_000, "old"), Id())]));
        Assert.Equal(1, (await s.Activity.GetUserAsync(s.Ws, cid))!.Events.Single().Count);
        Assert.Equal("pro", (await s.Activity.GetUserAsync(s.Ws, cid))!.Attributes["plan"].StringValue);

        // Past the window the first markers are gone on the user's next write (one pass), the later one is kept.
        s.Clock.Advance(TimeSpan.FromSeconds(2));
        Assert.Equal(WriteOutcome.Stored, Assert.Single(await s.Activity.WriteAsync([RecordWrite.ForEvent(s.Ws, "heap", Event(cid, s.Clock, 2), Id(), "")])));
        Assert.Equal(2, await MarkersAsync(db, s.Ws, cid));

        // A user who stopped writing: the sweeper drops the markers once they are past the window.
        s.Clock.Advance(TimeSpan.FromDays(3));
        var swept = await Sweeper(connection, s).PassAsync(CancellationToken.None);
        Assert.True(swept.MarkersRemoved >= 2, $"removed {swept.MarkersRemoved}"); // and other tests' users'
        Assert.Equal(0, await MarkersAsync(db, s.Ws, cid));
        Assert.False(await db.HashExistsAsync(UserKeyspace.User(s.Ws, cid), "_t"));
        // Past the window an id is new again (as with the old key expiry); the aggregates were kept all along.
        Assert.Equal(WriteOutcome.Stored, Assert.Single(await s.Activity.WriteAsync([RecordWrite.ForEvent(s.Ws, "heap", Event(cid, s.Clock, 3), first, "")])));
        Assert.Equal(3, (await s.Activity.GetUserAsync(s.Ws, cid))!.Events.Sum(e => e.Count));
    }

    [Fact]
    public async Task UsersOfTheLayoutBeforeAreReadWrittenAndMergedWithNothingLostOrStoredTwice()
    {
        await using var connection = await ConnectionMultiplexer.ConnectAsync(redis.ConnectionString);
        var db = connection.GetDatabase();
        var s = await NewStoreAsync(connection);
        var old = new OldLayout(db, s);
        // The layout before: profile, aggregates and dedup markers in three hashes, written by that layout's script.
        var ids = new Dictionary<string, List<string>>();
        string[] users = ["ada", "bob", "cy", "dan"];
        foreach (var cid in users)
        {
            ids[cid] = [];
            for (var n = 0; n < 3; n++)
            {
                var id = Id();
                ids[cid].Add(id);
                // bob's events carry no profile (his profile hash never exists).
                var e = Event(cid, s.Clock, n);
                if (cid == "bob")
                {
                    e.User.UpdatedAtMs = 0;
                    e.User.Attributes.Clear();
                }
                Assert.Equal(1, await old.WriteEventAsync(e, id));
            }
        }
        var cyPayload = Id();
        Assert.Equal(1, await old.WriteUserAsync(Profile("cy", s.Clock.GetUtcNow().ToUnixTimeMilliseconds() + 1, "pro"), cyPayload));
        foreach (var cid in users)
        {
            Assert.True(await db.KeyExistsAsync(UserKeyspace.OldAggregates(s.Ws, cid)));
            Assert.True(await db.KeyExistsAsync(UserKeyspace.OldDedup(s.Ws, cid)));
        }
        var before = new Dictionary<string, ingestion::Integration.Ingestion.V1.User>();
        foreach (var cid in users)
        {
            before[cid] = (await s.Activity.GetUserAsync(s.Ws, cid))!;
        }

        // Read before any merge: the readers see them whole.
        var ada = await s.Activity.GetUserAsync(s.Ws, "ada");
        Assert.Equal(3, ada!.Events.Sum(e => e.Count));
        Assert.Equal("DE", ada.Attributes["country"].StringValue);
        Assert.Equal(3, (await s.Activity.ListUserEventsAsync(s.Ws, "ada", 0, 0, 10)).Count);
        Assert.Equal(3, (await s.Activity.GetUserAsync(s.Ws, "bob"))!.Events.Single().Count);
        Assert.Empty((await s.Activity.GetUserAsync(s.Ws, "bob"))!.Attributes);
        var segments = new RedisSegmentStore(connection, s.Activity, new RedisHeapSegmentStore(connection, s.Clock));
        var viewedTwice = Segment(new Filter
        {
            Event = new EventFilter { EventName = "Viewed", Condition = EventCondition.Count, CountOperator = CountOperator.AtLeast, Count = 2 },
        });
        var pro = Segment(new Filter { Attribute = new AttributeFilter { Attribute = "plan", Operator = AttributeOperator.Equals, Value = new AttributeValue { StringValue = "pro" } } });
        var asOf = s.Clock.GetUtcNow().ToUnixTimeMilliseconds();
        Assert.Equal(4, (await segments.ScanAsync(s.Ws, viewedTwice, asOf, null, int.MaxValue, CancellationToken.None, collect: false)).Matched);
        Assert.Equal(1, (await segments.ScanAsync(s.Ws, pro, asOf, null, int.MaxValue, CancellationToken.None, collect: false)).Matched);
        Assert.True((await segments.EvaluateAsync(s.Ws, "cy", pro, asOf))!.Value.Matches);

        // The first write that touches a user merges them: a repeat of an event or payload stored before is still a repeat.
        Assert.Equal([WriteOutcome.Duplicate, WriteOutcome.Stored, WriteOutcome.Duplicate], await s.Activity.WriteAsync(
            [RecordWrite.ForEvent(s.Ws, "heap", Event("ada", s.Clock, 0), ids["ada"][0], ""),
             RecordWrite.ForEvent(s.Ws, "heap", Event("ada", s.Clock, 3), Id(), ""),
             RecordWrite.ForUser(s.Ws, Profile("cy", 1, "free"), cyPayload)]));
        Assert.False(await db.KeyExistsAsync(UserKeyspace.OldAggregates(s.Ws, "ada")));
        Assert.False(await db.KeyExistsAsync(UserKeyspace.OldDedup(s.Ws, "ada")));
        Assert.Equal(4, (await s.Activity.GetUserAsync(s.Ws, "ada"))!.Events.Sum(e => e.Count));
        Assert.Equal(4, await MarkersAsync(db, s.Ws, "ada"));

        // The start-up pass merges the rest, reports it, and changes nothing a reader sees.
        using var services = new ServiceCollection().AddMetrics().BuildServiceProvider();
        var meters = services.GetRequiredService<IMeterFactory>();
        var merged = new List<long>();
        using var listener = new MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (instrument.Name == "integration.ingestion.user_hashes.merged" && instrument.Meter.Scope == meters)
            {
                l.EnableMeasurementEvents(instrument);
            }
        };
        listener.SetMeasurementEventCallback<long>((_, value, _, _) => merged.Add(value));
        listener.Start();
        var migration = new UserHashMigration(connection, s.Activity, s.Workspaces, meters,
            NullLogger<UserHashMigration>.Instance);
        Assert.Equal(2, await migration.PassAsync(TimeSpan.Zero, CancellationToken.None)); // bob and dan (cy was merged by its write)
        Assert.Equal(2, merged.Sum());
        foreach (var cid in users)
        {
            Assert.False(await db.KeyExistsAsync(UserKeyspace.OldAggregates(s.Ws, cid)), cid);
            Assert.False(await db.KeyExistsAsync(UserKeyspace.OldDedup(s.Ws, cid)), cid);
            Assert.True(await db.HashExistsAsync(UserKeyspace.User(s.Ws, cid), UserKeyspace.MergedField), cid);
        }
        foreach (var cid in new[] { "bob", "cy", "dan" })
        {
            Assert.Equal(before[cid], await s.Activity.GetUserAsync(s.Ws, cid));
        }
        Assert.Equal(4, (await segments.ScanAsync(s.Ws, viewedTwice, asOf, null, int.MaxValue, CancellationToken.None, collect: false)).Matched);
        // Markers merged: dan's events are still repeats, a new one is stored once.
        Assert.Equal([WriteOutcome.Duplicate, WriteOutcome.Duplicate, WriteOutcome.Duplicate, WriteOutcome.Stored],
            await s.Activity.WriteAsync([.. ids["dan"].Select(id => RecordWrite.ForEvent(s.Ws, "heap", Event("dan", s.Clock, 0), id, "")),
                RecordWrite.ForEvent(s.Ws, "heap", Event("dan", s.Clock, 5), Id(), "")]));
        Assert.Equal(4, (await s.Activity.GetUserAsync(s.Ws, "dan"))!.Events.Sum(e => e.Count));
        Assert.Equal(3 * 4 + 2, await StreamLengthAsync(db, s.Ws));

        // Done once: the next start skips the workspace; a pass repeated anyway moves nothing.
        Assert.Equal(0, await migration.PassAsync(TimeSpan.Zero, CancellationToken.None));
        Assert.Equal(0, await s.Activity.MergeUsersAsync(s.Ws, EventStream.PartitionOf("bob"), ["bob"]));
        Assert.Equal(before["bob"], await s.Activity.GetUserAsync(s.Ws, "bob"));
    }

    [Fact]
    public async Task AnOldHashWrittenBesideAMergedUserIsAddedOnMerge()
    {
        // An older replica still running during an upgrade writes the old hashes of a user already merged: the merge adds them.
        await using var connection = await ConnectionMultiplexer.ConnectAsync(redis.ConnectionString);
        var db = connection.GetDatabase();
        var s = await NewStoreAsync(connection);
        var early = Event("eve", s.Clock, 0);
        early.EventTimeMs -= 60_000;
        Assert.Equal(WriteOutcome.Stored, Assert.Single(await s.Activity.WriteAsync([RecordWrite.ForEvent(s.Ws, "heap", early, Id(), "")])));
        var id = Id();
        var late = Event("eve", s.Clock, 2);
        late.EventTimeMs += 60_000;
        Assert.Equal(1, await new OldLayout(db, s).WriteEventAsync(late, id));
        Assert.Equal(1, await s.Activity.MergeUsersAsync(s.Ws, EventStream.PartitionOf("eve"), ["eve"]));

        var viewed = (await s.Activity.GetUserAsync(s.Ws, "eve"))!.Events.Single();
        Assert.Equal((2L, early.EventTimeMs, late.EventTimeMs), (viewed.Count, viewed.FirstTimeMs, viewed.LastTimeMs));
        Assert.Equal(WriteOutcome.Duplicate, Assert.Single(await s.Activity.WriteAsync([RecordWrite.ForEvent(s.Ws, "heap", late, id, "")])));
    }

    /// <summary>Writes records the way the layout before the user hash did: its own script text, its keys and arguments.</summary>
    private sealed class OldLayout(IDatabase db, Store s)
    {
        private static readonly string Script = File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "Layouts", "write_before_user_hash.lua"));

        private static RedisValue IdField(string id) => Convert.FromHexString(id);

        private RedisValue[] Header() =>
            [s.Clock.GetUtcNow().ToUnixTimeMilliseconds(), (long)TimeSpan.FromDays(s.Storage.Value.DuplicateWindowDays).TotalSeconds, EventStream.Field];

        public async Task<int> WriteEventAsync(EventRecord e, string id)
        {
            var (ws, cid) = (s.Ws, e.User.CustomerId);
            RedisKey[] keys = [UserKeyspace.OldDedup(ws, cid), UserKeyspace.Stream(ws, cid), UserKeyspace.Events(ws, cid),
                UserKeyspace.OldAggregates(ws, cid), UserKeyspace.User(ws, cid), UserKeyspace.Users(ws, cid)];
            var now = s.Clock.GetUtcNow().ToUnixTimeMilliseconds();
            var entry = EventStream.Encode(new EventStreamEntry(id, cid, e.EventName, e.EventTimeMs, now, "heap", "{\"n\":1}", ""));
            List<RedisValue> args = [.. Header(), "e", 0, IdField(id), e.EventTimeMs, e.EventName, UserKeyspace.EventNameKey(e.EventName), entry, cid,
                await s.Retention.FloorMsAsync(ws, now), e.User.UpdatedAtMs > 0 ? e.User.UpdatedAtMs : RedisValue.EmptyString];
            args.AddRange(e.User.Attributes.SelectMany(p => new RedisValue[] { "a:" + p.Key, AttributeJson.ToJson(p.Value) }));
            args[4] = args.Count - 5;
            return (int)((RedisResult[])(await db.ScriptEvaluateAsync(Script, keys, [.. args]))!)[0];
        }

        public async Task<int> WriteUserAsync(UserRecord user, string payloadId)
        {
            var (ws, cid) = (s.Ws, user.CustomerId);
            RedisKey[] keys = [UserKeyspace.OldDedup(ws, cid), UserKeyspace.User(ws, cid), UserKeyspace.Users(ws, cid)];
            List<RedisValue> args = [.. Header(), "u", 0, IdField(payloadId), user.UpdatedAtMs, cid];
            args.AddRange(user.Attributes.SelectMany(p => new RedisValue[] { "a:" + p.Key, AttributeJson.ToJson(p.Value) }));
            args[4] = args.Count - 5;
            return (int)((RedisResult[])(await db.ScriptEvaluateAsync(Script, keys, [.. args]))!)[0];
        }
    }

    private static SegmentDefinition Segment(Filter filter) => new() { Filters = { filter } };

    private static async Task<int> MarkersAsync(IDatabase db, string ws, string cid) =>
        (await db.HashGetAllAsync(UserKeyspace.User(ws, cid))).Count(f => UserKeyspace.IsMarker(f.Name));

    private static async Task<long> StreamLengthAsync(IDatabase db, string ws)
    {
        long n = 0;
        foreach (var key in EventStream.Keys(ws))
        {
            n += await db.StreamLengthAsync(key);
        }
        return n;
    }

    private static async Task<Dictionary<string, long>> CommandCallsAsync(IServer server)
    {
        var calls = new Dictionary<string, long>(StringComparer.Ordinal);
        foreach (var line in ((await server.InfoRawAsync("commandstats")) ?? "").Split('\n'))
        {
            // cmdstat_hmget:calls=19,usec=...
            if (line.StartsWith("cmdstat_", StringComparison.Ordinal))
            {
                var name = line["cmdstat_".Length..line.IndexOf(':', StringComparison.Ordinal)];
                var value = line[(line.IndexOf("calls=", StringComparison.Ordinal) + 6)..];
                calls[name] = long.Parse(value[..value.IndexOf(',', StringComparison.Ordinal)], System.Globalization.CultureInfo.InvariantCulture);
            }
        }
        return calls;
    }

    private RetentionSweeper Sweeper(IConnectionMultiplexer connection, Store s)
    {
        var services = new ServiceCollection().AddMetrics().BuildServiceProvider();
        return new RetentionSweeper(connection, s.Retention, s.Clock, Options.Create(new RetentionSweeperOptions { PauseBetweenCallsMs = 0 }),
            s.Storage, services.GetRequiredService<IMeterFactory>(), NullLogger<RetentionSweeper>.Instance);
    }

    private static string Id() => Guid.NewGuid().ToString("N");

    private static EventRecord Event(string cid, TimeProvider clock, int n) => new()
    {
        User = new UserRecord
        {
            CustomerId = cid,
            UpdatedAtMs = clock.GetUtcNow().ToUnixTimeMilliseconds(),
            Attributes =
            {
                ["country"] = new AttributeValue { StringValue = "DE" },
                ["email"] = new AttributeValue { StringValue = cid },
                ["first_name"] = new AttributeValue { StringValue = "Ada" },
            },
        },
        EventName = n % 4 == 3 ? "Purchased" : "Viewed",
        EventTimeMs = clock.GetUtcNow().ToUnixTimeMilliseconds() - n,
        Module = 2,
        Attributes = { ["page"] = new AttributeValue { StringValue = $"/products/{n}" } },
    };

    private static UserRecord Profile(string cid, long updatedAtMs, string plan) => new()
    {
        CustomerId = cid,
        UpdatedAtMs = updatedAtMs,
        Attributes = { ["plan"] = new AttributeValue { StringValue = plan } },
    };

    private async Task<Store> NewStoreAsync(ConnectionMultiplexer connection, int duplicateWindowDays = 7)
    {
        var ws = "uh" + Guid.NewGuid().ToString("N")[..8];
        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        var workspaces = new RedisWorkspaceStore(connection);
        await workspaces.CreateAsync(new WorkspaceRecord(ws, ws, 500, new byte[32], clock.GetUtcNow().ToUnixTimeMilliseconds()), upsert: false);
        var storage = Options.Create(new StorageOptions { DuplicateWindowDays = duplicateWindowDays, StreamDictionarySamples = 0 });
        var dictionaries = new StreamDictionaries(connection, storage, NullLogger<StreamDictionaries>.Instance);
        var retention = new RetentionPolicy(workspaces, storage, clock);
        return new Store(ws, new RedisActivityStore(connection, clock, storage, retention, dictionaries), clock, storage, workspaces, retention, dictionaries);
    }
}
