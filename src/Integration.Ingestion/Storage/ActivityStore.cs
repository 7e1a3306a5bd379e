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

    Task<User?> GetUserAsync(string workspaceId, string customerId);

    Task<IReadOnlyList<StoredEvent>> ListUserEventsAsync(string workspaceId, string customerId, long fromMs, long toMs, int limit);
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

    // KEYS: dedup, user, users. ARGV: dedup ttl s ('' = no dedup), updated_at, now, customer id, field/value pairs…
    // Last writer by updated_at wins, never by arrival: Heap sends retroactive and retried data out of order.
    private const string WriteUserScript = """
        if ARGV[1] ~= '' then
          if not redis.call('SET', KEYS[1], '1', 'NX', 'EX', ARGV[1]) then return 0 end
        end
        redis.call('ZADD', KEYS[3], 'NX', ARGV[3], ARGV[4])
        local stored = tonumber(redis.call('HGET', KEYS[2], '_updated_at_ms') or '-1')
        if tonumber(ARGV[2]) < stored then return 2 end
        redis.call('HSET', KEYS[2], '_updated_at_ms', ARGV[2], unpack(ARGV, 5))
        return 1
        """;

    // KEYS: event, user events, user events by name, stats, user, users, stream.
    // ARGV: event id, event time, event name, event json, now, customer id, config name, attributes json,
    //       traceparent, updated_at ('' = no profile keys), stream max length, field/value pairs…
    // The event id is the webhook payload's content hash, so an event is stored at most once, ever;
    // the stream entry is written by the same script, so an event is in the stream iff it is stored.
    private const string WriteEventScript = """
        if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
        local t = tonumber(ARGV[2])
        local name = ARGV[3]
        redis.call('SET', KEYS[1], ARGV[4])
        redis.call('ZADD', KEYS[2], t, ARGV[1])
        redis.call('ZADD', KEYS[3], t, ARGV[1])
        redis.call('HINCRBY', KEYS[4], 'c:' .. name, 1)
        local first = redis.call('HGET', KEYS[4], 'f:' .. name)
        if not first or t < tonumber(first) then redis.call('HSET', KEYS[4], 'f:' .. name, ARGV[2]) end
        local last = redis.call('HGET', KEYS[4], 'l:' .. name)
        if not last or t > tonumber(last) then redis.call('HSET', KEYS[4], 'l:' .. name, ARGV[2]) end
        redis.call('ZADD', KEYS[6], 'NX', ARGV[5], ARGV[6])
        local result = 1
        if ARGV[10] ~= '' then
          local stored = tonumber(redis.call('HGET', KEYS[5], '_updated_at_ms') or '-1')
          if tonumber(ARGV[10]) >= stored then
            redis.call('HSET', KEYS[5], '_updated_at_ms', ARGV[10], unpack(ARGV, 12))
          else
            result = 2
          end
        end
        redis.call('XADD', KEYS[7], 'MAXLEN', '~', ARGV[11], '*',
          'event_id', ARGV[1], 'customer_id', ARGV[6], 'event_name', name, 'event_time_ms', ARGV[2],
          'received_ms', ARGV[5], 'config_name', ARGV[7], 'attributes', ARGV[8], 'traceparent', ARGV[9])
        return result
        """;

    private IDatabase Db => redis.GetDatabase();

    public async Task<WriteOutcome[]> WriteUsersAsync(string workspaceId, IReadOnlyList<UserRecord> users, IReadOnlyList<string> payloadIds)
    {
        using var activity = StartWrite("store users", users.Count);
        var now = time.GetUtcNow().ToUnixTimeMilliseconds();
        var db = Db;
        var writes = new Task<RedisResult>[users.Count];
        for (var i = 0; i < users.Count; i++)
        {
            var user = users[i];
            var payloadId = i < payloadIds.Count ? payloadIds[i] : "";
            var args = new RedisValue[4 + user.Attributes.Count * 2];
            args[0] = payloadId.Length > 0 ? (long)DuplicateWindow.TotalSeconds : RedisValue.EmptyString;
            args[1] = user.UpdatedAtMs;
            args[2] = now;
            args[3] = user.CustomerId;
            WriteAttributePairs(user, args, 4);
            writes[i] = db.ScriptEvaluateAsync(WriteUserScript,
                [DedupKey(workspaceId, payloadId), UserKey(workspaceId, user.CustomerId), UsersKey(workspaceId)], args);
        }
        return await OutcomesAsync(writes, activity);
    }

    public async Task<WriteOutcome[]> WriteEventsAsync(string workspaceId, string configName, IReadOnlyList<EventRecord> events,
        IReadOnlyList<string> eventIds, string traceParent)
    {
        using var activity = StartWrite("store events", events.Count);
        var now = time.GetUtcNow().ToUnixTimeMilliseconds();
        var db = Db;
        var writes = new Task<RedisResult>[events.Count];
        for (var i = 0; i < events.Count; i++)
        {
            var e = events[i];
            var cid = e.User.CustomerId;
            var eventId = eventIds[i];
            var attributes = AttributeJson.ToJsonObject(e.Attributes);
            var args = new RedisValue[11 + e.User.Attributes.Count * 2];
            args[0] = eventId;
            args[1] = e.EventTimeMs;
            args[2] = e.EventName;
            args[3] = EventJson(eventId, cid, e, configName, attributes, now);
            args[4] = now;
            args[5] = cid;
            args[6] = configName;
            args[7] = attributes;
            args[8] = traceParent;
            args[9] = e.User.UpdatedAtMs > 0 ? e.User.UpdatedAtMs : RedisValue.EmptyString;
            args[10] = StreamMaxLength;
            WriteAttributePairs(e.User, args, 11);
            writes[i] = db.ScriptEvaluateAsync(WriteEventScript,
            [
                EventKey(workspaceId, eventId), UserEventsKey(workspaceId, cid), UserEventsByNameKey(workspaceId, cid, e.EventName),
                StatsKey(workspaceId, cid), UserKey(workspaceId, cid), UsersKey(workspaceId), StreamKey(workspaceId),
            ], args);
        }
        return await OutcomesAsync(writes, activity);
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

    public async Task<IReadOnlyList<StoredEvent>> ListUserEventsAsync(string workspaceId, string customerId, long fromMs, long toMs, int limit)
    {
        var db = Db;
        var ids = await db.SortedSetRangeByScoreAsync(UserEventsKey(workspaceId, customerId),
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

    private static void WriteAttributePairs(UserRecord user, RedisValue[] args, int offset)
    {
        foreach (var (name, value) in user.Attributes)
        {
            args[offset++] = AttributePrefix + name;
            args[offset++] = AttributeJson.ToJson(value);
        }
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

    /// <summary>One client span for the pipelined scripts of one call (they share a round trip).</summary>
    private static Activity? StartWrite(string operation, int records)
    {
        var activity = Source.StartActivity(operation, ActivityKind.Client);
        activity?.SetTag("db.system", "redis");
        activity?.SetTag("db.operation", "EVALSHA");
        activity?.SetTag("ingestion.records", records);
        return activity;
    }

    private static async Task<WriteOutcome[]> OutcomesAsync(Task<RedisResult>[] writes, Activity? activity)
    {
        var outcomes = new WriteOutcome[writes.Length];
        try
        {
            for (var i = 0; i < writes.Length; i++)
            {
                outcomes[i] = (WriteOutcome)(int)await writes[i];
            }
        }
        catch (Exception ex)
        {
            activity?.SetStatus(ActivityStatusCode.Error, ex.Message);
            throw;
        }
        return outcomes;
    }
}
