using System.Buffers;
using System.Diagnostics;
using System.Text;
using System.Text.Json;
using Integration.Ingestion.V1;
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
}

/// <summary>One record to store: a user profile update, or an event with the profile keys it carries.</summary>
/// <param name="Id">A user's payload id (repeats are recognised for 24 h; empty: never) or an event's id.</param>
internal sealed record RecordWrite(string WorkspaceId, string ConfigName, UserRecord? User, EventRecord? Event, string Id, string TraceParent)
{
    public static RecordWrite ForUser(string workspaceId, UserRecord user, string payloadId) =>
        new(workspaceId, "", user, null, payloadId, "");

    public static RecordWrite ForEvent(string workspaceId, string configName, EventRecord e, string eventId, string traceParent) =>
        new(workspaceId, configName, null, e, eventId, traceParent);
}

internal sealed class RedisActivityStore(IConnectionMultiplexer redis, TimeProvider time) : IActivityStore
{
    /// <summary>Spans for the store's Redis scripts, so a webhook's trace shows its Redis write.</summary>
    public static readonly ActivitySource Source = new("Integration.Ingestion.Redis");

    /// <summary>How long a user payload's content hash is remembered to recognise Heap's retries.</summary>
    public static readonly TimeSpan DuplicateWindow = TimeSpan.FromHours(24);

    private const int StreamMaxLength = 1_000_000;
    private const string AttributePrefix = "a:";
    private const string UpdatedAtField = "_updated_at_ms";

    private static RedisKey UsersKey(string ws) => $"users:{{{ws}}}";
    private static RedisKey UserKey(string ws, string cid) => $"user:{{{ws}}}:{cid}";
    private static RedisKey StatsKey(string ws, string cid) => $"ustats:{{{ws}}}:{cid}";
    private static RedisKey UserEventsKey(string ws, string cid) => $"uev:{{{ws}}}:{cid}";
    private static RedisKey UserEventsByNameKey(string ws, string cid, string name) => $"uevn:{{{ws}}}:{cid}:{name}";
    private static RedisKey EventKey(string ws, string id) => $"ev:{{{ws}}}:{id}";
    private static RedisKey DedupKey(string ws, string payloadId) => $"dedup:{{{ws}}}:{payloadId}";
    private static RedisKey StreamKey(string ws) => $"stream:{{{ws}}}";

    /// <summary>Records per script call: bounds how long one call holds Redis (about 20 µs a record).</summary>
    private const int RecordsPerCall = 64;

    // One call stores many records, each atomically (a script runs alone) and each as if it were alone.
    // ARGV[1] now (ms), ARGV[2] dedup ttl (s), ARGV[3] stream max length; then per record: kind ('u'|'e'),
    // n (how many of its own arguments follow), its n arguments. KEYS: 3 per user, 7 per event, in order.
    //   user  args: dedup ('1' = remember the payload id), updated_at, customer id, field/value pairs…
    //         keys: dedup, user, users
    //   event args: event id, event time, event name, event json, customer id, config name, attributes json,
    //               traceparent, updated_at ('' = no profile keys), field/value pairs…
    //         keys: event, user events, user events by name, stats, user, users, stream
    // Returns one outcome per record: 0 repeat (nothing written), 1 stored, 2 stored but the profile was newer.
    // Profiles: last writer by updated_at wins, never by arrival (Heap sends retroactive and retried data out of
    // order). Events: the id is the webhook payload's content hash, so an event is stored at most once, ever, and
    // its stream entry is written by the same script, so an event is in the stream iff it is stored.
    // Numbers travel as the caller's strings: a Lua number handed back to Redis would be formatted again. A user
    // whose profile hash exists is already in the users set (both are written together), so ZADD is skipped then.
    private const string WriteScript = """
        local now, ttl, maxlen = ARGV[1], ARGV[2], ARGV[3]
        local out = {}
        local k, a = 1, 4
        while a <= #ARGV do
          local kind, b = ARGV[a], a + 2
          local last = b + tonumber(ARGV[a + 1]) - 1
          local result = 1
          if kind == 'u' then
            if ARGV[b] ~= '' and not redis.call('SET', KEYS[k], '1', 'NX', 'EX', ttl) then
              result = 0
            else
              local seen = redis.call('HGET', KEYS[k + 1], '_updated_at_ms')
              if not seen then redis.call('ZADD', KEYS[k + 2], 'NX', now, ARGV[b + 2]) end
              if tonumber(ARGV[b + 1]) < tonumber(seen or '-1') then
                result = 2
              else
                redis.call('HSET', KEYS[k + 1], '_updated_at_ms', ARGV[b + 1], unpack(ARGV, b + 3, last))
              end
            end
            k = k + 3
          else
            local id, t, name = ARGV[b], ARGV[b + 1], ARGV[b + 2]
            if not redis.call('SET', KEYS[k], ARGV[b + 3], 'NX') then
              result = 0
            else
              redis.call('ZADD', KEYS[k + 1], t, id)
              redis.call('ZADD', KEYS[k + 2], t, id)
              local stats, tn, c, f, l = KEYS[k + 3], tonumber(t), 'c:' .. name, 'f:' .. name, 'l:' .. name
              local agg = redis.call('HMGET', stats, c, f, l)
              local first, latest = agg[2], agg[3]
              if not first or tn < tonumber(first) then first = t end
              if not latest or tn > tonumber(latest) then latest = t end
              redis.call('HSET', stats, c, (tonumber(agg[1]) or 0) + 1, f, first, l, latest)
              local seen = redis.call('HGET', KEYS[k + 4], '_updated_at_ms')
              if not seen then redis.call('ZADD', KEYS[k + 5], 'NX', now, ARGV[b + 4]) end
              if ARGV[b + 8] ~= '' then
                if tonumber(ARGV[b + 8]) >= tonumber(seen or '-1') then
                  redis.call('HSET', KEYS[k + 4], '_updated_at_ms', ARGV[b + 8], unpack(ARGV, b + 9, last))
                else
                  result = 2
                end
              end
              redis.call('XADD', KEYS[k + 6], 'MAXLEN', '~', maxlen, '*',
                'event_id', id, 'customer_id', ARGV[b + 4], 'event_name', name, 'event_time_ms', t,
                'received_ms', now, 'config_name', ARGV[b + 5], 'attributes', ARGV[b + 6], 'traceparent', ARGV[b + 7])
            end
            k = k + 7
          end
          out[#out + 1] = result
          a = last + 1
        end
        return out
        """;

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
        var db = Db;
        var calls = new List<(int[] Indexes, Task<RedisResult> Call)>();
        foreach (var group in Groups(records))
        {
            for (var offset = 0; offset < group.Length; offset += RecordsPerCall)
            {
                var indexes = group.AsSpan(offset, Math.Min(RecordsPerCall, group.Length - offset)).ToArray();
                var (keys, args) = ScriptArguments(records, indexes, now);
                calls.Add((indexes, db.ScriptEvaluateAsync(WriteScript, keys, args)));
            }
        }

        var outcomes = new WriteOutcome[records.Count];
        try
        {
            foreach (var (indexes, call) in calls)
            {
                var results = (RedisResult[])(await call)!;
                for (var i = 0; i < indexes.Length; i++)
                {
                    outcomes[indexes[i]] = (WriteOutcome)(int)results[i];
                }
            }
        }
        catch (Exception ex)
        {
            activity?.SetStatus(ActivityStatusCode.Error, ex.Message);
            throw;
        }
        return outcomes;
    }

    /// <summary>
    /// Records that may share a script call: all of them on one Redis server; on Redis Cluster, those of one
    /// hash slot (every key of a record carries its workspace's hash tag). StackExchange.Redis answers -1 for
    /// every key's slot while it talks to a standalone server (as the edge's rate counter relies on too).
    /// </summary>
    private IEnumerable<int[]> Groups(IReadOnlyList<RecordWrite> records)
    {
        if (redis.HashSlot(UsersKey(records[0].WorkspaceId)) < 0)
        {
            return [Enumerable.Range(0, records.Count).ToArray()];
        }
        return Enumerable.Range(0, records.Count)
            .GroupBy(i => redis.HashSlot(UsersKey(records[i].WorkspaceId)))
            .Select(group => group.ToArray());
    }

    private static (RedisKey[] Keys, RedisValue[] Args) ScriptArguments(IReadOnlyList<RecordWrite> records, int[] indexes, long now)
    {
        var keyCount = 0;
        var argCount = 3;
        foreach (var index in indexes)
        {
            var record = records[index];
            keyCount += record.Event is null ? 3 : 7;
            argCount += 2 + (record.Event is null ? 3 : 9) + 2 * (record.Event?.User ?? record.User!).Attributes.Count;
        }

        var keys = new RedisKey[keyCount];
        var args = new RedisValue[argCount];
        args[0] = now;
        args[1] = (long)DuplicateWindow.TotalSeconds;
        args[2] = StreamMaxLength;
        int k = 0, a = 3;
        foreach (var index in indexes)
        {
            var record = records[index];
            var ws = record.WorkspaceId;
            var header = a;
            if (record.Event is not { } e)
            {
                var user = record.User!;
                keys[k++] = DedupKey(ws, record.Id);
                keys[k++] = UserKey(ws, user.CustomerId);
                keys[k++] = UsersKey(ws);
                args[a++] = "u";
                a++;
                args[a++] = record.Id.Length > 0 ? "1" : RedisValue.EmptyString;
                args[a++] = user.UpdatedAtMs;
                args[a++] = user.CustomerId;
                a = WriteAttributePairs(user, args, a);
            }
            else
            {
                var cid = e.User.CustomerId;
                keys[k++] = EventKey(ws, record.Id);
                keys[k++] = UserEventsKey(ws, cid);
                keys[k++] = UserEventsByNameKey(ws, cid, e.EventName);
                keys[k++] = StatsKey(ws, cid);
                keys[k++] = UserKey(ws, cid);
                keys[k++] = UsersKey(ws);
                keys[k++] = StreamKey(ws);
                var attributes = AttributeJson.ToJsonObject(e.Attributes);
                args[a++] = "e";
                a++;
                args[a++] = record.Id;
                args[a++] = e.EventTimeMs;
                args[a++] = e.EventName;
                args[a++] = EventJson(record.Id, cid, e, record.ConfigName, attributes, now);
                args[a++] = cid;
                args[a++] = record.ConfigName;
                args[a++] = attributes;
                args[a++] = record.TraceParent;
                args[a++] = e.User.UpdatedAtMs > 0 ? e.User.UpdatedAtMs : RedisValue.EmptyString;
                a = WriteAttributePairs(e.User, args, a);
            }
            args[header + 1] = a - header - 2;
        }
        return (keys, args);
    }

    public async Task<User?> GetUserAsync(string workspaceId, string customerId)
    {
        var db = Db;
        var profileTask = db.HashGetAllAsync(UserKey(workspaceId, customerId));
        var statsTask = db.HashGetAllAsync(StatsKey(workspaceId, customerId));
        var profile = await profileTask;
        var stats = await statsTask;
        if (profile.Length == 0 && stats.Length == 0)
        {
            return null;
        }

        return ToUser(workspaceId, customerId, profile, stats);
    }

    /// <summary>A user from its profile hash and its event-aggregates hash (the one place that reads their fields).</summary>
    public static User ToUser(string workspaceId, string customerId, HashEntry[] profile, HashEntry[] stats)
    {
        var user = new User { WorkspaceId = workspaceId, CustomerId = customerId };
        foreach (var entry in profile)
        {
            var name = entry.Name.ToString();
            if (name == UpdatedAtField)
            {
                user.UpdatedAtMs = (long)entry.Value;
            }
            else if (name.StartsWith(AttributePrefix, StringComparison.Ordinal))
            {
                user.Attributes[name[AttributePrefix.Length..]] = AttributeJson.FromJson(entry.Value.ToString());
            }
        }

        var byName = new SortedDictionary<string, EventStats>(StringComparer.Ordinal);
        foreach (var entry in stats)
        {
            var field = entry.Name.ToString();
            if (field.Length < 3 || field[1] != ':')
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
        user.Events.AddRange(byName.Values);
        return user;
    }

    public async Task<IReadOnlyList<StoredEvent>> ListUserEventsAsync(string workspaceId, string customerId, long fromMs, long toMs, int limit,
        string? eventName = null)
    {
        var db = Db;
        var index = eventName is null ? UserEventsKey(workspaceId, customerId) : UserEventsByNameKey(workspaceId, customerId, eventName);
        var ids = await db.SortedSetRangeByScoreAsync(index,
            fromMs, toMs <= 0 ? double.PositiveInfinity : toMs, take: limit);
        if (ids.Length == 0)
        {
            return [];
        }
        var keys = ids.Select(id => EventKey(workspaceId, id.ToString())).ToArray();
        var documents = await db.StringGetAsync(keys);
        var events = new List<StoredEvent>(documents.Length);
        foreach (var document in documents)
        {
            if (document.IsNull)
            {
                continue;
            }
            using var json = JsonDocument.Parse(document.ToString());
            var root = json.RootElement;
            var stored = new StoredEvent
            {
                EventId = root.GetProperty("event_id").GetString(),
                EventName = root.GetProperty("event_name").GetString(),
                EventTimeMs = root.GetProperty("event_time_ms").GetInt64(),
                ConfigName = root.GetProperty("config_name").GetString(),
            };
            AttributeJson.ReadObject(root.GetProperty("attributes"), stored.Attributes);
            events.Add(stored);
        }
        return events;
    }

    private static int WriteAttributePairs(UserRecord user, RedisValue[] args, int offset)
    {
        foreach (var (name, value) in user.Attributes)
        {
            args[offset++] = AttributePrefix + name;
            args[offset++] = AttributeJson.ToJson(value);
        }
        return offset;
    }

    private static string EventJson(string eventId, string customerId, EventRecord e, string configName, string attributesJson, long receivedMs)
    {
        var buffer = new ArrayBufferWriter<byte>(256 + attributesJson.Length);
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            writer.WriteString("event_id", eventId);
            writer.WriteString("customer_id", customerId);
            writer.WriteString("event_name", e.EventName);
            writer.WriteNumber("event_time_ms", e.EventTimeMs);
            writer.WriteString("config_name", configName);
            writer.WriteNumber("received_ms", receivedMs);
            writer.WritePropertyName("attributes");
            writer.WriteRawValue(attributesJson, skipInputValidation: true);
            writer.WriteEndObject();
        }
        return Encoding.UTF8.GetString(buffer.WrittenSpan);
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
