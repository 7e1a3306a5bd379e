extern alias ingestion;

using ingestion::Integration.Ingestion.Storage;
using Integration.Common.V1;
using Integration.Domain;
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
/// Stream entry compression (docs/keyspace.md): a workspace's first entries train its dictionary, later entries are
/// compressed with it, every replica uses the same one, readers load it from Redis, and entries written before
/// compression (the layout of every entry already stored) still decode.
/// </summary>
public sealed class StreamCompressionTests(RedisServer redis) : IClassFixture<RedisServer>
{
    private const int Samples = 100;

    /// <summary>An entry exactly as the layout before compression wrote it (the wire bytes, not re-encoded by this code).</summary>
    private const string EntryBeforeCompression =
        "0a100123456789abcdef0123456789abcdef1a117573657237406578616d706c652e636f6d220f4f7264657220436f6d706c6574656428fb979df4ad33" +
        "30c8ebe7fcad333a0468656170422b7b227072696365223a31392e39392c22636f756e747279223a224445222c226669727374223a747275657d4a194b" +
        "f92f3577b34da6a3ce929d0e0e473600f067aa0ba902b7016002";

    [Fact]
    public void AnEntryWrittenBeforeCompressionStillDecodes()
    {
        var entry = EventStream.Decode(Convert.FromHexString(EntryBeforeCompression));

        Assert.NotNull(entry);
        Assert.Equal("0123456789abcdef0123456789abcdef", entry.EventId);
        Assert.Equal("user7@example.com", entry.CustomerId);
        Assert.Equal("Order Completed", entry.EventName);
        Assert.Equal(1764670000123, entry.EventTimeMs);
        Assert.Equal(1764688000456, entry.ReceivedMs);
        Assert.Equal("heap", entry.ConfigName);
        Assert.Equal("""{"price":19.99,"country":"DE","first":true}""", entry.AttributesJson);
        Assert.Equal("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", entry.TraceParent);
        Assert.Equal(2, entry.Module);
        Assert.False(entry.Replayed);
        Assert.Null(EventStream.DictionaryOf(Convert.FromHexString(EntryBeforeCompression)));
    }

    [Fact]
    public async Task TheFirstEntriesTrainTheDictionaryAndLaterOnesAreCompressedWithIt()
    {
        await using var connection = await ConnectionMultiplexer.ConnectAsync(redis.ConnectionString);
        var db = connection.GetDatabase();
        var (ws, store, dictionaries, storage, _, _) = await NewStoreAsync(connection);

        await WriteAsync(store, ws, 0, Samples);
        await dictionaries.TrainedAsync(ws);
        var pointer = (string?)await db.StringGetAsync(EventStream.WorkspaceDictionaryKey(ws));
        Assert.NotNull(pointer);
        await WriteAsync(store, ws, Samples, 200);

        var raw = new List<byte[]>();
        foreach (var key in EventStream.Keys(ws))
        {
            raw.AddRange((await db.StreamRangeAsync(key)).Select(e => (byte[])e[EventStream.Field]!));
        }
        Assert.Equal(Samples + 200, raw.Count);
        var compressed = raw.Where(v => EventStream.DictionaryOf(v) is not null).ToList();
        var plain = raw.Where(v => EventStream.DictionaryOf(v) is null).ToList();
        // The samples stay as they were written; everything written once the dictionary was chosen is compressed with it.
        Assert.Equal(Samples, plain.Count);
        Assert.Equal(200, compressed.Count);
        Assert.All(compressed, v => Assert.Equal(pointer, EventStream.DictionaryOf(v)!.Value.ToString("x16")));
        Assert.True(compressed.Average(v => v.Length) < 0.6 * plain.Average(v => v.Length),
            $"compressed {compressed.Average(v => v.Length):0} B, plain {plain.Average(v => v.Length):0} B");

        // Every entry reads back as written, through the shared reader.
        var entries = await EventStreams.ReadAllAsync(db, ws);
        Assert.Equal(Samples + 200, entries.Count);
        foreach (var e in entries)
        {
            var n = int.Parse(e.CustomerId["user".Length..e.CustomerId.IndexOf('@')], System.Globalization.CultureInfo.InvariantCulture);
            Assert.Equal(Event(n).EventName, e.EventName);
            Assert.Contains($"\"path\":\"/shop/item-{n}\"", e.AttributesJson);
        }
        // And through the user's own events.
        var events = await store.ListUserEventsAsync(ws, "user250@example.com", 0, 0, 10);
        Assert.Equal("/shop/item-250", Assert.Single(events).Attributes["path"].StringValue);

        // A second replica adopts the chosen dictionary rather than training its own.
        var replica = new StreamDictionaries(connection, storage, NullLogger<StreamDictionaries>.Instance);
        Assert.Equal(pointer, (await replica.ForWorkspaceAsync(ws))!.Id.ToString("x16"));
    }

    [Fact]
    public async Task AReaderLoadsADictionaryItHasNotSeenFromRedis()
    {
        await using var connection = await ConnectionMultiplexer.ConnectAsync(redis.ConnectionString);
        var db = connection.GetDatabase();
        // A dictionary this process never registered, as a reader in another process meets it.
        var samples = Enumerable.Range(0, 300).Select(n => EventStream.Encode(Entry(n))).ToList();
        var dictionary = EventStreamDictionary.Train(samples)!;
        Assert.NotNull(dictionary);
        await db.StringSetAsync(EventStream.DictionaryKey(dictionary.Id), dictionary.Bytes.ToArray());
        var key = "s{test}" + Guid.NewGuid().ToString("N");
        await db.StreamAddAsync(key, EventStream.Field, EventStream.Encode(Entry(7), dictionary));

        var read = await db.StreamRangeAsync(key);
        Assert.Throws<EventStreamDictionaryMissingException>(() => EventStream.Decode((byte[])read[0][EventStream.Field]!));
        await EventStream.LoadDictionariesAsync(db, read);
        Assert.Equal(Entry(7), EventStream.Decode((byte[])read[0][EventStream.Field]!));
    }

    [Fact]
    public async Task AUserIndexWrittenBeforeTheCompactMembersKeepsWorking()
    {
        await using var connection = await ConnectionMultiplexer.ConnectAsync(redis.ConnectionString);
        var db = connection.GetDatabase();
        var (ws, store, _, _, clock, retention) = await NewStoreAsync(connection);
        var now = clock.GetUtcNow().ToUnixTimeMilliseconds();
        // Two users whose index holds a member of the layout before ('<ms>-<seq> <event name>') and its stream entry.
        foreach (var cid in new[] { "old@example.com", "quiet@example.com" })
        {
            var entryId = $"{now - 5_000}-0";
            await db.StreamAddAsync(UserKeyspace.Stream(ws, cid), EventStream.Field,
                EventStream.Encode(new EventStreamEntry($"{1:x32}", cid, "Viewed", now - 6_000, now - 5_000, "heap", "{\"page\":\"/old\"}", "")), entryId);
            await db.SortedSetAddAsync(UserKeyspace.Events(ws, cid), $"{entryId} Viewed", now - 6_000);
            await db.HashSetAsync(UserKeyspace.OldAggregates(ws, cid), "_o", now - 5_000);
        }
        foreach (var (cid, name) in new[] { ("old@example.com", "Viewed"), ("old@example.com", "Bought"), ("quiet@example.com", "Viewed") })
        {
            var e = Event(1);
            e.User.CustomerId = cid;
            e.EventName = name;
            e.EventTimeMs = now;
            Assert.Equal(WriteOutcome.Stored, Assert.Single(await store.WriteAsync([RecordWrite.ForEvent(ws, "heap", e, Guid.NewGuid().ToString("N"), "")])));
        }

        // Both layouts are read, listed and counted by name.
        Assert.Equal(["/old", "/shop/item-1", "/shop/item-1"],
            (await store.ListUserEventsAsync(ws, "old@example.com", 0, 0, 10))
                .Select(e => (e.Attributes.TryGetValue("page", out var page) ? page : e.Attributes["path"]).StringValue));
        Assert.Equal(2, (await store.ListUserEventsAsync(ws, "old@example.com", 0, 0, 10, "Viewed")).Count);
        Assert.Single(await store.ListUserEventsAsync(ws, "old@example.com", 0, 0, 10, "Bought"));
        Assert.Equal(2, await ingestion::Integration.Ingestion.Segments.RetainedEvents.CountAsync(db, ws, "old@example.com", "Viewed", 0, now + 1));
        Assert.Equal(1, await ingestion::Integration.Ingestion.Segments.RetainedEvents.CountAsync(db, ws, "old@example.com", "Bought", 0, now + 1));

        // Past the window both layouts' members go: on the user's next write (write.lua), and by the sweeper (sweep.lua).
        clock.Advance(TimeSpan.FromDays(new StorageOptions().DefaultRetentionDays + 1));
        var next = Event(2);
        next.User.CustomerId = "old@example.com";
        Assert.Equal(WriteOutcome.Stored, Assert.Single(await store.WriteAsync([RecordWrite.ForEvent(ws, "heap", next, Guid.NewGuid().ToString("N"), "")])));
        Assert.Equal(1, await db.SortedSetLengthAsync(UserKeyspace.Events(ws, "old@example.com")));
        using var services = new ServiceCollection().AddMetrics().BuildServiceProvider();
        var sweeper = new RetentionSweeper(connection, retention, clock, Options.Create(new RetentionSweeperOptions { PauseBetweenCallsMs = 0 }),
            Options.Create(new StorageOptions()), services.GetRequiredService<IMeterFactory>(), NullLogger<RetentionSweeper>.Instance);
        var swept = await sweeper.PassAsync(CancellationToken.None);
        Assert.True(swept.EntriesRemoved >= 2, $"removed {swept.EntriesRemoved}");
        Assert.False(await db.KeyExistsAsync(UserKeyspace.Events(ws, "quiet@example.com")));
    }

    private async Task<(string Ws, RedisActivityStore Store, StreamDictionaries Dictionaries, IOptions<StorageOptions> Storage,
        FakeTimeProvider Clock, RetentionPolicy Retention)> NewStoreAsync(ConnectionMultiplexer connection)
    {
        var ws = "zd" + Guid.NewGuid().ToString("N")[..8];
        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        var workspaces = new RedisWorkspaceStore(connection);
        await workspaces.CreateAsync(new WorkspaceRecord(ws, ws, 500, new byte[32], clock.GetUtcNow().ToUnixTimeMilliseconds()), upsert: false);
        var storage = Options.Create(new StorageOptions { StreamDictionarySamples = Samples });
        var dictionaries = new StreamDictionaries(connection, storage, NullLogger<StreamDictionaries>.Instance);
        var retention = new RetentionPolicy(workspaces, storage, clock);
        return (ws, new RedisActivityStore(connection, clock, storage, retention, dictionaries), dictionaries, storage, clock, retention);
    }

    private static async Task WriteAsync(RedisActivityStore store, string ws, int from, int count)
    {
        // One record a call, as webhooks arrive: the samples are taken as entries are encoded.
        for (var n = from; n < from + count; n++)
        {
            Assert.Equal(WriteOutcome.Stored, Assert.Single(await store.WriteAsync([RecordWrite.ForEvent(ws, "heap", Event(n), Guid.NewGuid().ToString("N"),
                "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")])));
        }
    }

    private static readonly string[] Names = ["Page Viewed", "Product Viewed", "Added To Cart", "Order Completed"];

    private static EventRecord Event(int n) => new()
    {
        User = new UserRecord { CustomerId = $"user{n}@example.com" },
        EventName = Names[n % Names.Length],
        EventTimeMs = 1764670000000 + n,
        Module = 2,
        Attributes =
        {
            ["path"] = new AttributeValue { StringValue = $"/shop/item-{n}" },
            ["title"] = new AttributeValue { StringValue = $"Item {n} | Example Shop" },
            ["browser"] = new AttributeValue { StringValue = n % 2 == 0 ? "Chrome" : "Safari" },
            ["country"] = new AttributeValue { StringValue = n % 3 == 0 ? "US" : "DE" },
            ["price"] = new AttributeValue { NumberValue = n % 100 + 0.99 },
        },
    };

    private static EventStreamEntry Entry(int n) => new($"{n:x32}", $"user{n}@example.com", Names[n % Names.Length],
        1764670000000 + n, 1764688000000 + n, "heap", $"{{\"path\":\"/shop/item-{n}\",\"browser\":\"Chrome\",\"country\":\"DE\"}}",
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", Module: 2);
}
