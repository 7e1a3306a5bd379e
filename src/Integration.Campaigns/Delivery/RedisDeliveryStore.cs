using System.Collections.Concurrent;
using System.Globalization;
using System.Text.Json;
using Microsoft.Extensions.Options;
using Integration.Campaigns.Safety;
using StackExchange.Redis;

namespace Integration.Campaigns.Delivery;

/// <summary>The runner's side of the deliveries keyspace.</summary>
internal interface IDeliveryStore
{
    Task<IReadOnlyList<string>> GetWorkspacesAsync();

    /// <summary>Destination lanes of a workspace: lane id → destination.</summary>
    Task<IReadOnlyDictionary<string, string>> GetLanesAsync(string workspaceId);

    /// <summary>New entries of a lane for this consumer (they stay pending until finished).</summary>
    Task<IReadOnlyList<QueuedDelivery>> ReadAsync(string workspaceId, string lane, string consumer, int count);

    /// <summary>Takes over entries another runner took and did not finish within <paramref name="minIdle"/>.</summary>
    Task<IReadOnlyList<QueuedDelivery>> ClaimAsync(string workspaceId, string lane, string consumer, TimeSpan minIdle, int count);

    Task<DeliveryRecord?> GetAsync(string workspaceId, string deliveryId);

    /// <summary>
    /// The delivery of a queued entry as the runner needs it: from the entry itself when it carries its request (fresh
    /// from its enqueue, so queued with no attempt yet), else from the record.
    /// </summary>
    Task<DeliveryRecord?> GetAsync(string workspaceId, QueuedDelivery entry);

    /// <summary>Moves deliveries due at <paramref name="nowMs"/> from the schedule to their lanes; returns how many.</summary>
    Task<int> MoveDueAsync(string workspaceId, long nowMs, int limit);

    /// <summary>Records the outcome and acknowledges the entry in one step; false when the delivery was not (or no longer) queued.</summary>
    Task<bool> FinishAsync(string workspaceId, string lane, QueuedDelivery entry, string campaignId, DeliveryFinish finish);

    /// <summary>Deliveries queued or scheduled in a workspace.</summary>
    Task<long> CountPendingAsync(string workspaceId);
}

/// <summary>The API's side: dead letters, counters and the delivery log.</summary>
internal interface IDeadLetterStore
{
    Task<(IReadOnlyList<DeliveryRecord> Items, string? NextPageToken)> ListAsync(DeadLetterQuery query, int pageSize, string? pageToken);

    Task<DeliveryRecord?> GetAsync(string workspaceId, string deliveryId);

    /// <summary>Queues a dead letter again under the same delivery id (so the same idempotency key).</summary>
    Task<bool> ReplayAsync(string workspaceId, string deliveryId);

    Task<bool> DiscardAsync(string workspaceId, string deliveryId);

    Task<DeliveryCounters> GetCountersAsync(string workspaceId, string campaignId);

    Task<IReadOnlyList<DeliveryLogRecord>> GetLogAsync(string workspaceId, string campaignId, int limit);
}

/// <summary>Where campaigns report users they skipped (a template value was null), so the counters show them.</summary>
internal interface IDeliverySkips
{
    Task RecordSkippedAsync(string workspaceId, string campaignId, string reason, CancellationToken cancellationToken, long count = 1);
}

/// <summary>
/// Owns the campaigns' deliveries keyspace (docs/keyspace.md, "campaigns: deliveries"). Every key of a
/// workspace carries its <c>{ws}</c> hash tag, so each script touches one slot.
/// </summary>
internal sealed class RedisDeliveryStore(
    IConnectionMultiplexer redis, IOptions<DeliveryEngineOptions> options, TimeProvider time, NewLaneSignal newLanes, ISecretProtector secrets)
    : IDeliveryQueue, IDeliveryStore, IDeadLetterStore, IDeliverySkips
{
    public const string ConsumerGroup = "runners";

    private const string WorkspacesKey = "dlv:workspaces";
    private static string Prefix(string ws) => $"dlv:{{{ws}}}:";
    private static string RecordKey(string ws, string id) => Prefix(ws) + "d:" + id;
    private static string StreamKey(string ws, string lane) => Prefix(ws) + "q:" + lane;
    private static string LanesKey(string ws) => Prefix(ws) + "lanes";
    private static string DueKey(string ws) => Prefix(ws) + "due";
    private static string DeadKey(string ws) => Prefix(ws) + "dead";
    private static string DeadCampaignKey(string ws, string campaign) => Prefix(ws) + "dead:" + campaign;
    /// <summary>A campaign's delivery counters (conversion goals count <c>converted</c> there too).</summary>
    internal static string StatsKey(string ws, string campaign) => Prefix(ws) + "stats:" + campaign;
    private static string LogKey(string ws, string campaign) => Prefix(ws) + "log:" + campaign;

    internal static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    // Records once (the record's existence is the "set if not exists"), registers the lane and its consumer
    // group, and queues or schedules the delivery, all in one step.
    private const string EnqueueScript = """
        if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
        if redis.call('HSETNX', KEYS[3], ARGV[4], ARGV[5]) == 1 or redis.call('EXISTS', KEYS[2]) == 0 then
          pcall(redis.call, 'XGROUP', 'CREATE', KEYS[2], 'runners', '0', 'MKSTREAM')
        end
        local state = 'queued'
        if tonumber(ARGV[7]) > tonumber(ARGV[6]) then
          state = 'scheduled'
          redis.call('ZADD', KEYS[4], ARGV[7], ARGV[1])
        else
          -- The entry carries the request, so the runner's first attempt needs no read of the record.
          redis.call('XADD', KEYS[2], '*', 'd', ARGV[1], 'r', ARGV[2], 's', ARGV[6])
        end
        redis.call('HSET', KEYS[1], 'req', ARGV[2], 'state', state, 'campaign', ARGV[3], 'lane', ARGV[4],
          'created_ms', ARGV[6], 'since_ms', ARGV[6], 'attempts', 0, 'replays', 0)
        redis.call('HINCRBY', KEYS[5], 'enqueued', 1)
        return 1
        """;

    // KEYS: due, then per delivery its record and its lane's stream. ARGV: now ms, then per delivery id and lane.
    // Redis Cluster needs every key a script touches in KEYS, so the caller looks the lanes up first and the
    // script checks again that each delivery is still due and scheduled (another runner may have moved it).
    private const string MoveDueScript = """
        local now = tonumber(ARGV[1])
        for j = 1, (#ARGV - 1) / 2 do
          local id, lane = ARGV[2 * j], ARGV[2 * j + 1]
          local score = redis.call('ZSCORE', KEYS[1], id)
          if score and tonumber(score) <= now then
            local f = redis.call('HMGET', KEYS[2 * j], 'state', 'lane')
            if f[1] ~= 'scheduled' then
              redis.call('ZREM', KEYS[1], id)
            elseif f[2] == lane then
              redis.call('ZREM', KEYS[1], id)
              redis.call('XADD', KEYS[2 * j + 1], '*', 'd', id)
              redis.call('HSET', KEYS[2 * j], 'state', 'queued')
            end
          end
        end
        return 1
        """;

    // The outcome and the acknowledgement in one step (finish.lua).
    private static readonly string FinishScript = EmbeddedScripts.Read(typeof(RedisDeliveryStore), "Delivery.finish.lua");

    // KEYS: record, dead, dead per campaign, stats, log, the lane's stream (named by the caller: Redis Cluster).
    private const string ReplayScript = """
        local f = redis.call('HMGET', KEYS[1], 'state', 'lane')
        if f[1] ~= 'dead' or f[2] ~= ARGV[3] then return 0 end
        local stream = KEYS[6]
        if redis.call('EXISTS', stream) == 0 then
          pcall(redis.call, 'XGROUP', 'CREATE', stream, 'runners', '0', 'MKSTREAM')
        end
        redis.call('HSET', KEYS[1], 'state', 'queued', 'attempts', 0, 'since_ms', ARGV[2])
        redis.call('HINCRBY', KEYS[1], 'replays', 1)
        redis.call('ZREM', KEYS[2], ARGV[1])
        redis.call('ZREM', KEYS[3], ARGV[1])
        redis.call('XADD', stream, '*', 'd', ARGV[1])
        redis.call('HINCRBY', KEYS[4], 'replayed', 1)
        redis.call('LPUSH', KEYS[5], ARGV[4])
        redis.call('LTRIM', KEYS[5], 0, tonumber(ARGV[5]) - 1)
        return 1
        """;

    private const string DiscardScript = """
        if redis.call('HGET', KEYS[1], 'state') ~= 'dead' then return 0 end
        redis.call('HSET', KEYS[1], 'state', 'discarded')
        redis.call('EXPIRE', KEYS[1], ARGV[2])
        redis.call('ZREM', KEYS[2], ARGV[1])
        redis.call('ZREM', KEYS[3], ARGV[1])
        redis.call('HINCRBY', KEYS[4], 'discarded', 1)
        redis.call('LPUSH', KEYS[5], ARGV[3])
        redis.call('LTRIM', KEYS[5], 0, tonumber(ARGV[4]) - 1)
        return 1
        """;

    private readonly ConcurrentDictionary<string, bool> _knownWorkspaces = new();

    private IDatabase Db => redis.GetDatabase();

    private long NowMs => time.GetUtcNow().ToUnixTimeMilliseconds();

    public async Task EnqueueAsync(DeliveryRequest request, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(request.DeliveryId);
        ArgumentException.ThrowIfNullOrEmpty(request.WorkspaceId);
        cancellationToken.ThrowIfCancellationRequested();
        var ws = request.WorkspaceId;
        if (!_knownWorkspaces.ContainsKey(ws))
        {
            // A global registry so runners find every workspace; outside the script because it has no hash tag.
            await Db.SetAddAsync(WorkspacesKey, ws);
            _knownWorkspaces[ws] = true;
        }

        var destination = DeliveryTarget.DestinationOf(request.Url);
        var lane = DeliveryTarget.LaneOf(destination);
        var now = NowMs;
        var due = request.NotBefore?.ToUnixTimeMilliseconds() ?? 0;
        await Db.ScriptEvaluateAsync(EnqueueScript,
            [RecordKey(ws, request.DeliveryId), StreamKey(ws, lane), LanesKey(ws), DueKey(ws), StatsKey(ws, request.CampaignId)],
            [request.DeliveryId, JsonSerializer.Serialize(request with { Headers = SecretHeaders.Protect(secrets, request.Headers) }, Json), request.CampaignId, lane, destination, now, due]);
        newLanes.Enqueued(ws, lane);
    }

    public async Task<IReadOnlyList<string>> GetWorkspacesAsync() =>
        (await Db.SetMembersAsync(WorkspacesKey)).Select(v => v.ToString()).ToList();

    public async Task<IReadOnlyDictionary<string, string>> GetLanesAsync(string workspaceId) =>
        (await Db.HashGetAllAsync(LanesKey(workspaceId))).ToDictionary(e => e.Name.ToString(), e => e.Value.ToString());

    public async Task<IReadOnlyList<QueuedDelivery>> ReadAsync(string workspaceId, string lane, string consumer, int count)
    {
        var key = StreamKey(workspaceId, lane);
        StreamEntry[] entries;
        try
        {
            entries = await Db.StreamReadGroupAsync(key, ConsumerGroup, consumer, StreamPosition.NewMessages, count);
        }
        catch (RedisServerException ex) when (ex.Message.StartsWith("NOGROUP", StringComparison.Ordinal))
        {
            // The stream or its group is gone (a Redis without persistence restarted): recreate and read on.
            await CreateGroupAsync(key);
            return [];
        }
        return ToQueued(entries, fresh: true);
    }

    public async Task<IReadOnlyList<QueuedDelivery>> ClaimAsync(string workspaceId, string lane, string consumer, TimeSpan minIdle, int count)
    {
        var key = StreamKey(workspaceId, lane);
        try
        {
            var result = await Db.StreamAutoClaimAsync(key, ConsumerGroup, consumer, (long)minIdle.TotalMilliseconds, "0-0", count);
            // Another runner had these, and may have finished some meanwhile: their records say.
            return ToQueued(result.ClaimedEntries, fresh: false);
        }
        catch (RedisServerException ex) when (ex.Message.StartsWith("NOGROUP", StringComparison.Ordinal))
        {
            await CreateGroupAsync(key);
            return [];
        }
    }

    private async Task CreateGroupAsync(string key)
    {
        try
        {
            await Db.StreamCreateConsumerGroupAsync(key, ConsumerGroup, "0-0", createStream: true);
        }
        catch (RedisServerException ex) when (ex.Message.StartsWith("BUSYGROUP", StringComparison.Ordinal))
        {
        }
    }

    private static List<QueuedDelivery> ToQueued(StreamEntry[] entries, bool fresh)
    {
        var queued = new List<QueuedDelivery>(entries.Length);
        foreach (var e in entries)
        {
            if (e.IsNull)
            {
                continue;
            }
            var request = fresh ? e["r"] : RedisValue.Null;
            queued.Add(new QueuedDelivery(e.Id.ToString(), e["d"].ToString())
            {
                RequestJson = request.IsNullOrEmpty ? null : request.ToString(),
                SinceMs = request.IsNullOrEmpty ? 0 : (long)e["s"],
            });
        }
        return queued;
    }

    public async Task<DeliveryRecord?> GetAsync(string workspaceId, string deliveryId)
    {
        var fields = await Db.HashGetAllAsync(RecordKey(workspaceId, deliveryId));
        return fields.Length == 0 ? null : Parse(fields);
    }

    public Task<DeliveryRecord?> GetAsync(string workspaceId, QueuedDelivery entry) =>
        entry.RequestJson is { } json
            ? Task.FromResult<DeliveryRecord?>(new DeliveryRecord(ParseRequest(json), DeliveryRecord.Queued, 0, entry.SinceMs, entry.SinceMs,
                0, [], null, 0, null, null, 0, null))
            : GetAsync(workspaceId, entry.DeliveryId);

    public async Task<int> MoveDueAsync(string workspaceId, long nowMs, int limit)
    {
        var db = Db;
        var ids = await db.SortedSetRangeByScoreAsync(DueKey(workspaceId), double.NegativeInfinity, nowMs, take: limit);
        if (ids.Length == 0)
        {
            return 0;
        }
        var lanes = await Task.WhenAll(ids.Select(id => db.HashGetAsync(RecordKey(workspaceId, id.ToString()), "lane")));
        var keys = new RedisKey[1 + ids.Length * 2];
        var values = new RedisValue[1 + ids.Length * 2];
        keys[0] = DueKey(workspaceId);
        values[0] = nowMs;
        for (var i = 0; i < ids.Length; i++)
        {
            var lane = lanes[i].IsNull ? "" : lanes[i].ToString();
            keys[1 + 2 * i] = RecordKey(workspaceId, ids[i].ToString());
            keys[2 + 2 * i] = StreamKey(workspaceId, lane);
            values[1 + 2 * i] = ids[i];
            values[2 + 2 * i] = lane;
        }
        await db.ScriptEvaluateAsync(MoveDueScript, keys, values);
        return ids.Length;
    }

    public async Task<bool> FinishAsync(string workspaceId, string lane, QueuedDelivery entry, string campaignId, DeliveryFinish finish)
    {
        var retention = (long)options.Value.RecordRetention.TotalSeconds;
        var values = new List<RedisValue>
        {
            finish.Mode, entry.DeliveryId, entry.EntryId, NowMs, finish.Attempts,
            finish.History is null ? "" : JsonSerializer.Serialize(finish.History, Json),
            finish.NextDueMs, finish.Status, finish.Error ?? "", finish.Excerpt ?? "", finish.Reason ?? "", retention,
            finish.Log is null ? "" : JsonSerializer.Serialize(finish.Log, Json), options.Value.LogLength,
            finish.LastRequestJson ?? "", finish.ConversionWindowMs, Goals.ConversionTracker.MaxDeliveriesPerUser,
        };
        values.AddRange(finish.Counters.Select(c => (RedisValue)c));
        var result = await Db.ScriptEvaluateAsync(FinishScript,
            [
                RecordKey(workspaceId, entry.DeliveryId), StreamKey(workspaceId, lane), DueKey(workspaceId), DeadKey(workspaceId),
                DeadCampaignKey(workspaceId, campaignId), StatsKey(workspaceId, campaignId), LogKey(workspaceId, campaignId),
                Goals.ConversionTracker.DeliveriesKey(workspaceId, campaignId, finish.CustomerId),
            ],
            values.ToArray());
        return (int)result == 1;
    }

    public async Task<long> CountPendingAsync(string workspaceId)
    {
        var lanes = await GetLanesAsync(workspaceId);
        var db = Db;
        var lengths = await Task.WhenAll(lanes.Keys.Select(lane => db.StreamLengthAsync(StreamKey(workspaceId, lane))));
        return lengths.Sum() + await db.SortedSetLengthAsync(DueKey(workspaceId));
    }

    public async Task<(IReadOnlyList<DeliveryRecord> Items, string? NextPageToken)> ListAsync(
        DeadLetterQuery query, int pageSize, string? pageToken)
    {
        var key = string.IsNullOrEmpty(query.CampaignId) ? DeadKey(query.WorkspaceId) : DeadCampaignKey(query.WorkspaceId, query.CampaignId);
        var offset = long.TryParse(pageToken, CultureInfo.InvariantCulture, out var parsed) && parsed > 0 ? parsed : 0;
        var max = query.ToMs > 0 ? query.ToMs - 1 : double.PositiveInfinity;
        var min = query.FromMs > 0 ? query.FromMs : double.NegativeInfinity;
        var batch = Math.Clamp(pageSize * 2, 50, 500);
        var items = new List<DeliveryRecord>();
        while (items.Count < pageSize)
        {
            var ids = await Db.SortedSetRangeByScoreAsync(key, min, max, Exclude.None, Order.Descending, offset, batch);
            if (ids.Length == 0)
            {
                return (items, null);
            }
            var records = await Task.WhenAll(ids.Select(id => GetAsync(query.WorkspaceId, id.ToString())));
            foreach (var record in records)
            {
                offset++;
                if (record is { State: DeliveryRecord.Dead } && Matches(record, query))
                {
                    items.Add(record);
                    if (items.Count == pageSize)
                    {
                        break;
                    }
                }
            }
            if (items.Count < pageSize && ids.Length < batch)
            {
                return (items, null);
            }
        }
        return (items, Token(offset));
    }

    private static string Token(long offset) => offset.ToString(CultureInfo.InvariantCulture);

    private static bool Matches(DeliveryRecord record, DeadLetterQuery query) =>
        query.StatusCode switch
        {
            0 => true,
            -1 => record.LastStatus == 0,
            var code => record.LastStatus == code,
        };

    public async Task<bool> ReplayAsync(string workspaceId, string deliveryId)
    {
        var record = await GetAsync(workspaceId, deliveryId);
        if (record is not { State: DeliveryRecord.Dead })
        {
            return false;
        }
        var campaign = record.Request.CampaignId;
        var log = new DeliveryLogRecord(deliveryId, record.Request.CustomerId, "replayed", 0, record.Attempts, NowMs, null);
        var lane = (await Db.HashGetAsync(RecordKey(workspaceId, deliveryId), "lane")).ToString();
        var result = await Db.ScriptEvaluateAsync(ReplayScript,
            [RecordKey(workspaceId, deliveryId), DeadKey(workspaceId), DeadCampaignKey(workspaceId, campaign),
                StatsKey(workspaceId, campaign), LogKey(workspaceId, campaign), StreamKey(workspaceId, lane)],
            [deliveryId, NowMs, lane, JsonSerializer.Serialize(log, Json), options.Value.LogLength]);
        return (int)result == 1;
    }

    public async Task<bool> DiscardAsync(string workspaceId, string deliveryId)
    {
        var record = await GetAsync(workspaceId, deliveryId);
        if (record is not { State: DeliveryRecord.Dead })
        {
            return false;
        }
        var campaign = record.Request.CampaignId;
        var log = new DeliveryLogRecord(deliveryId, record.Request.CustomerId, "discarded", 0, record.Attempts, NowMs, null);
        var result = await Db.ScriptEvaluateAsync(DiscardScript,
            [RecordKey(workspaceId, deliveryId), DeadKey(workspaceId), DeadCampaignKey(workspaceId, campaign),
                StatsKey(workspaceId, campaign), LogKey(workspaceId, campaign)],
            [deliveryId, (long)options.Value.RecordRetention.TotalSeconds, JsonSerializer.Serialize(log, Json), options.Value.LogLength]);
        return (int)result == 1;
    }

    public async Task<DeliveryCounters> GetCountersAsync(string workspaceId, string campaignId) =>
        new((await Db.HashGetAllAsync(StatsKey(workspaceId, campaignId)))
            .ToDictionary(e => e.Name.ToString(), e => (long)e.Value));

    public async Task<IReadOnlyList<DeliveryLogRecord>> GetLogAsync(string workspaceId, string campaignId, int limit) =>
        (await Db.ListRangeAsync(LogKey(workspaceId, campaignId), 0, limit - 1))
            .Select(v => JsonSerializer.Deserialize<DeliveryLogRecord>(v.ToString(), Json)!)
            .ToList();

    public Task RecordSkippedAsync(string workspaceId, string campaignId, string reason, CancellationToken cancellationToken, long count = 1)
    {
        var name = DeliveryCounterNames.SkippedPrefix + (string.IsNullOrWhiteSpace(reason) ? "unspecified" : reason.Trim().ToLowerInvariant());
        return Db.HashIncrementAsync(StatsKey(workspaceId, campaignId), name, count);
    }

    private DeliveryRequest ParseRequest(string json)
    {
        var request = JsonSerializer.Deserialize<DeliveryRequest>(json, Json)
            ?? throw new InvalidDataException("The delivery record has no request.");
        return request with { Headers = SecretHeaders.Unprotect(secrets, request.Headers) };
    }

    private DeliveryRecord Parse(HashEntry[] fields)
    {
        var map = fields.ToDictionary(f => f.Name.ToString(), f => f.Value);
        string? Str(string name) => map.TryGetValue(name, out var v) && !v.IsNullOrEmpty ? v.ToString() : null;
        long Long(string name) => map.TryGetValue(name, out var v) && long.TryParse(v.ToString(), CultureInfo.InvariantCulture, out var l) ? l : 0;

        var request = ParseRequest(Str("req") ?? "null");
        var history = Str("history") is { } h ? JsonSerializer.Deserialize<List<AttemptRecord>>(h, Json) ?? [] : [];
        return new DeliveryRecord(request, Str("state") ?? "", (int)Long("attempts"), Long("created_ms"), Long("since_ms"),
            (int)Long("replays"), history, Str("reason"), (int)Long("last_status"), Str("last_error"), Str("last_excerpt"),
            Long("dead_ms"), Str("last_request"));
    }
}
