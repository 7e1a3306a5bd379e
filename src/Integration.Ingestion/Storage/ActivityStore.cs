using System.Diagnostics;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Integration.Domain;
using Integration.Ingestion.V1;
using Microsoft.Extensions.Options;
using StackExchange.Redis;

namespace Integration.Ingestion.Storage;

/// <summary>What became of one record.</summary>
internal enum WriteOutcome
{
    /// <summary>A repeat of a payload already stored: nothing written.</summary>
    Duplicate = 0,
    /// <summary>Stored.</summary>
    Stored = 1,
    /// <summary>Stored (for an event: the event), but the profile update was older than the stored profile.</summary>
    StoredProfileStale = 2,
}

/// <summary>Owns the user and event keyspace (docs/keyspace.md): profiles, events, aggregates, the event stream.</summary>
internal interface IActivityStore
{
    /// <summary>Writes users; each record is one atomic script, all of them in one pipelined round trip.</summary>
    Task<WriteOutcome[]> WriteUsersAsync(string workspaceId, IReadOnlyList<UserRecord> users, IReadOnlyList<string> payloadIds);

    /// <summary>Writes events (and the profile keys they carry), each atomically, pipelined.</summary>
    Task<WriteOutcome[]> WriteEventsAsync(string workspaceId, string configName, IReadOnlyList<EventRecord> events,
        IReadOnlyList<string> eventIds, string traceParent);

    /// <summary>
    /// Writes records of any workspaces, each atomically; records that may share a script call do (one call per
    /// Redis server, or per hash slot on a cluster), so a batch costs Redis a few calls, not one per record.
    /// </summary>
    Task<WriteOutcome[]> WriteAsync(IReadOnlyList<RecordWrite> records, string operation = "store records");

    Task<User?> GetUserAsync(string workspaceId, string customerId);

    /// <summary>A user's events between two event times, oldest first; only those of <paramref name="eventName"/> when set.</summary>
    Task<IReadOnlyList<StoredEvent>> ListUserEventsAsync(string workspaceId, string customerId, long fromMs, long toMs, int limit,
        string? eventName = null);

    /// <summary>
    /// Merges users of one partition stored in the layout before the user hash into it (the write does it for a user it
    /// touches); one script call. Returns how many had something to merge. Safe to repeat.
    /// </summary>
    Task<int> MergeUsersAsync(string workspaceId, int partition, IReadOnlyList<string> customerIds);
}

/// <summary>One record to store: a user profile update, or an event with the profile keys it carries.</summary>
/// <param name="Id">A user's payload id (repeats are recognised for the duplicate window; empty: never) or an event's id.</param>
/// <param name="ReceivedMs">When the event was received, if not now (the upgrade copying an old event); 0: now.</param>
internal sealed record RecordWrite(string WorkspaceId, string ConfigName, UserRecord? User, EventRecord? Event, string Id, string TraceParent,
    long ReceivedMs = 0)
{
    public static RecordWrite ForUser(string workspaceId, UserRecord user, string payloadId) =>
        new(workspaceId, "", user, null, payloadId, "");

    public static RecordWrite ForEvent(string workspaceId, string configName, EventRecord e, string eventId, string traceParent) =>
        new(workspaceId, configName, null, e, eventId, traceParent);

    /// <summary>The stream entry an event record is stored as, received <paramref name="nowMs"/> unless it says when.</summary>
    public EventStreamEntry StreamEntry(long nowMs)
    {
        var e = Event ?? throw new InvalidOperationException("A user record has no stream entry.");
        return new EventStreamEntry(Id, e.User.CustomerId, e.EventName, e.EventTimeMs, ReceivedMs > 0 ? ReceivedMs : nowMs, ConfigName,
            AttributeJson.ToJsonObject(e.Attributes), TraceParent, Replayed: ReceivedMs > 0, Module: e.Module);
    }
}

/// <summary>
/// The key formats of the user and event keyspace (docs/keyspace.md), the one place they are spelled. Every key of
/// a user carries the hash tag of the user's partition of the workspace's event stream (<see cref="EventStream"/>),
/// so an event's write — dedup, stream entry, index, aggregates, profile — is one script on one slot.
/// </summary>
internal static class UserKeyspace
{
    public static string Tag(string ws, string cid) => EventStream.Tag(ws, EventStream.PartitionOf(cid));

    /// <summary>
    /// The user hash: the profile (<c>_u</c> updated_at ms, <c>a:&lt;attribute&gt;</c> → JSON scalar), the aggregates per
    /// event name (<c>c:</c> count, <c>f:</c> first and <c>l:</c> last event time ms; <c>_o</c> the oldest arrival in
    /// the index) and the duplicate markers (<see cref="MarkerField"/> → arrival second, <c>_t</c> the oldest);
    /// <c>_m</c> once it is in this layout (a user stored before has the two hashes below, merged on first write).
    /// </summary>
    public static RedisKey User(string ws, string cid) => $"p{Tag(ws, cid)}{ws}:{cid}";

    /// <summary>The layout before the user hash: payload and event ids seen within the duplicate window (id → arrival second).</summary>
    public static RedisKey OldDedup(string ws, string cid) => $"k{Tag(ws, cid)}{ws}:{cid}";

    /// <summary>The layout before the user hash: the aggregates (<c>c:</c>, <c>f:</c>, <c>l:</c>, <c>_o</c>).</summary>
    public static RedisKey OldAggregates(string ws, string cid) => $"a{Tag(ws, cid)}{ws}:{cid}";

    /// <summary>The user's retained events (sorted set: <see cref="IndexMember"/>, score = event time ms).</summary>
    public static RedisKey Events(string ws, string cid) => $"i{Tag(ws, cid)}{ws}:{cid}";

    /// <summary>Users of one partition (sorted set: customer id, score = first-seen ms).</summary>
    public static RedisKey Users(string ws, int partition) => $"u{EventStream.Tag(ws, partition)}{ws}";

    public static RedisKey Users(string ws, string cid) => Users(ws, EventStream.PartitionOf(cid));

    public static RedisKey Stream(string ws, string cid) => EventStream.Key(ws, EventStream.PartitionOf(cid));

    public const string UpdatedAtField = "_u";
    public const string AttributePrefix = "a:";
    public const string MergedField = "_m";

    /// <summary>The first byte of a duplicate marker's field in the user hash (no other field starts with it).</summary>
    public const byte MarkerPrefix = (byte)'k';

    /// <summary>
    /// An event id or payload id as a duplicate marker's field: <see cref="MarkerPrefix"/> and the 16 bytes of a
    /// 32-hex-digit id, else the id itself (the layout before the user hash had the same without the prefix).
    /// </summary>
    public static RedisValue MarkerField(string id)
    {
        if (id.Length == 32 && id.All(c => c is (>= '0' and <= '9') or (>= 'a' and <= 'f')))
        {
            var field = new byte[17];
            field[0] = MarkerPrefix;
            Convert.FromHexString(id, field.AsSpan(1), out _, out _);
            return field;
        }
        return (char)MarkerPrefix + id;
    }

    /// <summary>Whether a field of the user hash is a duplicate marker (read without decoding it).</summary>
    public static bool IsMarker(RedisValue field) => ((ReadOnlyMemory<byte>)field).Span is [MarkerPrefix, ..];

    /// <summary>
    /// An event name as index members carry it: the first 6 bytes of its UTF-8's SHA-256 (a workspace would need
    /// millions of distinct event names before two shared a key; the name itself is in the stream entry).
    /// </summary>
    public static byte[] EventNameKey(string eventName)
    {
        Span<byte> hash = stackalloc byte[32];
        SHA256.HashData(Encoding.UTF8.GetBytes(eventName), hash);
        return hash[..6].ToArray();
    }

    /// <summary>
    /// Reads a member of <see cref="Events"/>, either layout: <c>&lt;entry ms, base 36&gt;[.&lt;entry seq, base 36&gt;]
    /// &lt;event name key&gt;</c> (written by write.lua), or <c>&lt;ms&gt;-&lt;seq&gt; &lt;event name&gt;</c> (members
    /// written before, still in the indexes of users who have not written since; the scripts read both).
    /// </summary>
    public static IndexMember ParseEventMember(RedisValue member)
    {
        var bytes = (ReadOnlyMemory<byte>)member;
        var space = bytes.Span.IndexOf((byte)' ');
        var id = Encoding.ASCII.GetString(space < 0 ? bytes.Span : bytes.Span[..space]);
        var name = space < 0 ? ReadOnlyMemory<byte>.Empty : bytes[(space + 1)..];
        if (id.Contains('-', StringComparison.Ordinal))
        {
            return new IndexMember(id, name, Keyed: false);
        }
        var dot = id.IndexOf('.', StringComparison.Ordinal);
        var ms = FromBase36(dot < 0 ? id : id[..dot]);
        var seq = dot < 0 ? 0 : FromBase36(id[(dot + 1)..]);
        return new IndexMember(string.Create(CultureInfo.InvariantCulture, $"{ms}-{seq}"), name, Keyed: true);
    }

    private static long FromBase36(string digits)
    {
        long value = 0;
        foreach (var c in digits)
        {
            value = value * 36 + (c <= '9' ? c - '0' : c - 'a' + 10);
        }
        return value;
    }
}

/// <summary>A member of a user's event index: the stream entry it references and its event name (or the name's key).</summary>
internal readonly record struct IndexMember(string EntryId, ReadOnlyMemory<byte> Name, bool Keyed)
{
    /// <summary>Whether the member is an event of that name; <paramref name="nameKey"/> is <see cref="UserKeyspace.EventNameKey"/> of it.</summary>
    public bool Is(string eventName, byte[] nameKey) =>
        Keyed ? Name.Span.SequenceEqual(nameKey) : Encoding.UTF8.GetString(Name.Span) == eventName;
}

internal sealed class RedisActivityStore(IConnectionMultiplexer redis, TimeProvider time, IOptions<StorageOptions> options,
    IRetentionPolicy retention, StreamDictionaries dictionaries) : IActivityStore
{
    /// <summary>Spans for the store's Redis scripts, so a webhook's trace shows its Redis write.</summary>
    public static readonly ActivitySource Source = new("Integration.Ingestion.Redis");

    /// <summary>Records per script call: bounds how long one call holds Redis.</summary>
    private const int RecordsPerCall = 64;

    /// <summary>integration.admin.v1.SyncModule EVENTS: what an event without a module came through.</summary>
    private const int EventsModule = 2;

    private static readonly string WriteScript = Scripts.Load("write.lua");

    private IDatabase Db => redis.GetDatabase();

    public Task<WriteOutcome[]> WriteUsersAsync(string workspaceId, IReadOnlyList<UserRecord> users, IReadOnlyList<string> payloadIds)
    {
        var records = new RecordWrite[users.Count];
        for (var i = 0; i < records.Length; i++)
        {
            records[i] = RecordWrite.ForUser(workspaceId, users[i], i < payloadIds.Count ? payloadIds[i] : "");
        }
        return WriteAsync(records, "store users");
    }

    public Task<WriteOutcome[]> WriteEventsAsync(string workspaceId, string configName, IReadOnlyList<EventRecord> events,
        IReadOnlyList<string> eventIds, string traceParent)
    {
        var records = new RecordWrite[events.Count];
        for (var i = 0; i < records.Length; i++)
        {
            records[i] = RecordWrite.ForEvent(workspaceId, configName, events[i], eventIds[i], traceParent);
        }
        return WriteAsync(records, "store events");
    }

    public async Task<WriteOutcome[]> WriteAsync(IReadOnlyList<RecordWrite> records, string operation = "store records")
    {
        if (records.Count == 0)
        {
            return [];
        }
        using var activity = StartWrite(operation, records.Count);
        var now = time.GetUtcNow().ToUnixTimeMilliseconds();
        var floors = new Dictionary<string, (long Floor, EventStreamDictionary? Dictionary)>(StringComparer.Ordinal);
        foreach (var record in records)
        {
            if (record.Event is not null && !floors.ContainsKey(record.WorkspaceId))
            {
                floors[record.WorkspaceId] = (await retention.FloorMsAsync(record.WorkspaceId, now),
                    await dictionaries.ForWorkspaceAsync(record.WorkspaceId));
            }
        }

        var db = Db;
        // Records that may share a script call: all of them on one Redis server; on Redis Cluster, those of one
        // hash slot (every key of a record carries its user partition's hash tag). StackExchange.Redis answers -1
        // for every key's slot while it talks to a standalone server (as the edge's rate counter relies on too).
        Func<RecordWrite, int>? slotOf = redis.HashSlot(UserKeyspace.Users(records[0].WorkspaceId, 0)) < 0
            ? null
            : record => EventStream.Slot(record.WorkspaceId, EventStream.PartitionOf(CustomerId(record)));
        try
        {
            return await Coalescer.SendInGroupsAsync<RecordWrite, WriteOutcome>(records, RecordsPerCall, slotOf, async call =>
            {
                var (keys, args) = ScriptArguments(call, now, floors);
                var results = (RedisResult[])(await db.ScriptEvaluateAsync(WriteScript, keys, args))!;
                return Array.ConvertAll(results, result => (WriteOutcome)(int)result);
            });
        }
        catch (Exception ex)
        {
            activity?.SetStatus(ActivityStatusCode.Error, ex.Message);
            throw;
        }
    }

    private static string CustomerId(RecordWrite record) => record.Event?.User.CustomerId ?? record.User!.CustomerId;

    private (RedisKey[] Keys, RedisValue[] Args) ScriptArguments(RecordWrite[] call, long now,
        Dictionary<string, (long Floor, EventStreamDictionary? Dictionary)> floors)
    {
        var keyCount = 0;
        var argCount = 3;
        foreach (var record in call)
        {
            keyCount += record.Event is null ? 4 : 6;
            argCount += 2 + (record.Event is null ? 3 : 8) + 2 * (record.Event?.User ?? record.User!).Attributes.Count;
        }

        var keys = new RedisKey[keyCount];
        var args = new RedisValue[argCount];
        WriteScriptHeader(args, now);
        int k = 0, a = 3;
        foreach (var record in call)
        {
            var ws = record.WorkspaceId;
            var header = a;
            if (record.Event is not { } e)
            {
                var user = record.User!;
                var cid = user.CustomerId;
                keys[k++] = UserKeyspace.User(ws, cid);
                keys[k++] = UserKeyspace.OldAggregates(ws, cid);
                keys[k++] = UserKeyspace.OldDedup(ws, cid);
                keys[k++] = UserKeyspace.Users(ws, cid);
                args[a++] = "u";
                a++;
                args[a++] = record.Id.Length > 0 ? UserKeyspace.MarkerField(record.Id) : RedisValue.EmptyString;
                args[a++] = user.UpdatedAtMs;
                args[a++] = cid;
                a = WriteAttributePairs(user, args, a);
            }
            else
            {
                var cid = e.User.CustomerId;
                keys[k++] = UserKeyspace.User(ws, cid);
                keys[k++] = UserKeyspace.Stream(ws, cid);
                keys[k++] = UserKeyspace.Events(ws, cid);
                keys[k++] = UserKeyspace.OldAggregates(ws, cid);
                keys[k++] = UserKeyspace.OldDedup(ws, cid);
                keys[k++] = UserKeyspace.Users(ws, cid);
                args[a++] = "e";
                a++;
                args[a++] = UserKeyspace.MarkerField(record.Id);
                args[a++] = e.EventTimeMs;
                args[a++] = e.EventName;
                args[a++] = UserKeyspace.EventNameKey(e.EventName);
                var (floor, dictionary) = floors[ws];
                var entry = EventStream.Encode(record.StreamEntry(now), dictionary);
                if (dictionary is null)
                {
                    // Until the workspace has a dictionary, its first entries are what one is trained on.
                    dictionaries.Sample(ws, entry);
                }
                args[a++] = entry;
                args[a++] = cid;
                args[a++] = floor;
                args[a++] = e.User.UpdatedAtMs > 0 ? e.User.UpdatedAtMs : RedisValue.EmptyString;
                a = WriteAttributePairs(e.User, args, a);
            }
            args[header + 1] = a - header - 2;
        }
        return (keys, args);
    }

    public async Task<User?> GetUserAsync(string workspaceId, string customerId)
    {
        var (hash, old) = await ReadUserAsync(Db, workspaceId, customerId);
        return hash.Length == 0 && old.Length == 0 ? null : ToUser(workspaceId, customerId, hash, old);
    }

    /// <summary>
    /// Reads a user: the user hash, and for a user not merged into it yet (no <c>_m</c>) the aggregates hash of the layout
    /// before, consistently without a script: the merge (write.lua) moves both at once and deletes the old one, so old
    /// aggregates still there were not merged between the two reads; none there, the user hash alone is read again
    /// (it may have been merged meanwhile). <paramref name="read"/> is the user hash's read if already sent.
    /// </summary>
    public static async Task<(HashEntry[] Hash, HashEntry[] OldAggregates)> ReadUserAsync(IDatabase db, string workspaceId, string customerId,
        Task<HashEntry[]>? read = null)
    {
        var key = UserKeyspace.User(workspaceId, customerId);
        var hash = await (read ?? db.HashGetAllAsync(key));
        if (IsMerged(hash))
        {
            return (hash, []);
        }
        var old = await db.HashGetAllAsync(UserKeyspace.OldAggregates(workspaceId, customerId));
        return old.Length > 0 ? (hash, old) : (await db.HashGetAllAsync(key), []);
    }

    private static bool IsMerged(HashEntry[] hash)
    {
        foreach (var entry in hash)
        {
            if (entry.Name == UserKeyspace.MergedField)
            {
                return true;
            }
        }
        return false;
    }

    /// <summary>
    /// A user from its user hash (and, not merged yet, the aggregates hash of the layout before): the one place that
    /// reads their fields. Duplicate markers are skipped without decoding them.
    /// </summary>
    public static User ToUser(string workspaceId, string customerId, HashEntry[] hash, HashEntry[] oldAggregates)
    {
        var user = new User { WorkspaceId = workspaceId, CustomerId = customerId };
        var byName = new SortedDictionary<string, EventStats>(StringComparer.Ordinal);
        Read(hash);
        Read(oldAggregates);
        user.Events.AddRange(byName.Values);
        return user;

        void Read(HashEntry[] entries)
        {
            foreach (var entry in entries)
            {
                if (UserKeyspace.IsMarker(entry.Name))
                {
                    continue;
                }
                var field = entry.Name.ToString();
                if (field == UserKeyspace.UpdatedAtField)
                {
                    user.UpdatedAtMs = (long)entry.Value;
                    continue;
                }
                if (field.StartsWith(UserKeyspace.AttributePrefix, StringComparison.Ordinal))
                {
                    user.Attributes[field[UserKeyspace.AttributePrefix.Length..]] = AttributeJson.FromJson(entry.Value.ToString());
                    continue;
                }
                if (field.Length < 3 || field[1] != ':' || field[0] is not ('c' or 'f' or 'l'))
                {
                    continue;
                }
                var eventName = field[2..];
                if (!byName.TryGetValue(eventName, out var s))
                {
                    byName[eventName] = s = new EventStats { EventName = eventName };
                }
                switch (field[0])
                {
                    case 'c': s.Count = (long)entry.Value; break;
                    case 'f': s.FirstTimeMs = (long)entry.Value; break;
                    case 'l': s.LastTimeMs = (long)entry.Value; break;
                }
            }
        }
    }

    public async Task<int> MergeUsersAsync(string workspaceId, int partition, IReadOnlyList<string> customerIds)
    {
        if (customerIds.Count == 0)
        {
            return 0;
        }
        var keys = new RedisKey[4 * customerIds.Count];
        var args = new RedisValue[3 + 2 * customerIds.Count];
        WriteScriptHeader(args, time.GetUtcNow().ToUnixTimeMilliseconds());
        for (var i = 0; i < customerIds.Count; i++)
        {
            var cid = customerIds[i];
            if (EventStream.PartitionOf(cid) != partition)
            {
                throw new ArgumentException($"{cid} is not of partition {partition}", nameof(customerIds));
            }
            keys[4 * i] = UserKeyspace.User(workspaceId, cid);
            keys[4 * i + 1] = UserKeyspace.OldAggregates(workspaceId, cid);
            keys[4 * i + 2] = UserKeyspace.OldDedup(workspaceId, cid);
            keys[4 * i + 3] = UserKeyspace.Users(workspaceId, partition);
            args[3 + 2 * i] = "m";
            args[4 + 2 * i] = 0;
        }
        var results = (RedisResult[])(await Db.ScriptEvaluateAsync(WriteScript, keys, args))!;
        return results.Count(r => (int)r == 1);
    }

    private void WriteScriptHeader(RedisValue[] args, long now)
    {
        args[0] = now;
        args[1] = (long)TimeSpan.FromDays(options.Value.DuplicateWindowDays).TotalSeconds;
        args[2] = EventStream.Field;
    }

    public async Task<IReadOnlyList<StoredEvent>> ListUserEventsAsync(string workspaceId, string customerId, long fromMs, long toMs, int limit,
        string? eventName = null)
    {
        var db = Db;
        // One index for every event name: a name's events are picked out of the user's (the name's key is in each member).
        var nameKey = eventName is null ? null : UserKeyspace.EventNameKey(eventName);
        var members = (await db.SortedSetRangeByScoreAsync(UserKeyspace.Events(workspaceId, customerId),
            fromMs, toMs <= 0 ? double.PositiveInfinity : toMs, take: eventName is null ? limit : -1))
            .Select(UserKeyspace.ParseEventMember)
            .Where(m => eventName is null || m.Is(eventName, nameKey!))
            .Take(limit)
            .ToList();
        if (members.Count == 0)
        {
            return [];
        }
        var stream = UserKeyspace.Stream(workspaceId, customerId);
        var reads = members.Select(m => m.EntryId)
            .Select(id => db.StreamRangeAsync(stream, id, id, count: 1)).ToArray();
        await Task.WhenAll(reads);
        // An entry the stream has already trimmed (past the retention window) is no longer an event of the user.
        var entries = reads.Select(read => read.Result).Where(read => read.Length == 1).Select(read => read[0]).ToList();
        await EventStream.LoadDictionariesAsync(db, entries);
        var events = new List<StoredEvent>(entries.Count);
        foreach (var entry in entries)
        {
            if (EventStream.Decode((byte[]?)entry[EventStream.Field] ?? []) is not { } e)
            {
                continue;
            }
            var stored = new StoredEvent
            {
                EventId = e.EventId,
                EventName = e.EventName,
                EventTimeMs = e.EventTimeMs,
                ConfigName = e.ConfigName,
                // Events stored before modules were told apart all came through the events module.
                Module = e.Module == 0 ? EventsModule : e.Module,
            };
            using var json = JsonDocument.Parse(e.AttributesJson);
            AttributeJson.ReadObject(json.RootElement, stored.Attributes);
            events.Add(stored);
        }
        return events;
    }

    private static int WriteAttributePairs(UserRecord user, RedisValue[] args, int offset)
    {
        foreach (var (name, value) in user.Attributes)
        {
            args[offset++] = UserKeyspace.AttributePrefix + name;
            args[offset++] = AttributeJson.ToJson(value);
        }
        return offset;
    }

    /// <summary>One client span for the script calls of one write (they share a round trip).</summary>
    private static Activity? StartWrite(string operation, int records)
    {
        var activity = Source.StartActivity(operation, ActivityKind.Client);
        activity?.SetTag("db.system", "redis");
        activity?.SetTag("db.operation", "EVALSHA");
        activity?.SetTag("ingestion.records", records);
        return activity;
    }
}

/// <summary>The store's Lua scripts: <c>Storage/Scripts/*.lua</c>, embedded in the assembly.</summary>
internal static class Scripts
{
    public static string Load(string name) => EmbeddedScripts.Read(typeof(Scripts), $"Storage.Scripts.{name}");
}
