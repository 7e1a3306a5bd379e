using System.Text.Json;
using StackExchange.Redis;

namespace Integration.Campaigns.Storage;

/// <summary>
/// A step of an event-triggered campaign waiting for its delay. Rendered only when due, with the user's
/// data as it is then, and dropped if the user did the exit event in the meantime.
/// </summary>
internal sealed record PendingSend(
    string PendingId,
    string WorkspaceId,
    string CampaignId,
    int StepIndex,
    string CustomerId,
    string TriggerId,
    long TriggerTimeMs,
    string EventAttributesJson,
    string TraceParent,
    long DueMs);

/// <summary>Pending steps in Redis, claimed atomically so that two runner replicas never both send one.</summary>
internal interface IPendingSendStore
{
    /// <summary>Records a pending step; recording the same <see cref="PendingSend.PendingId"/> again changes nothing.</summary>
    Task AddAsync(PendingSend pending);

    /// <summary>Claims due steps: they stay invisible to other replicas until <paramref name="leaseUntil"/>.</summary>
    Task<IReadOnlyList<PendingSend>> ClaimDueAsync(string workspaceId, DateTimeOffset now, DateTimeOffset leaseUntil, int max);

    /// <summary>Removes a processed step and, in the same script, records the next one.</summary>
    Task CompleteAsync(PendingSend done, PendingSend? next);

    /// <summary>Cancels every pending step of a campaign for a user (the exit event); returns how many.</summary>
    Task<int> CancelAsync(string workspaceId, string campaignId, string customerId);

    /// <summary>Workspaces that have (or had) pending steps.</summary>
    Task<IReadOnlyList<string>> WorkspacesAsync();

    Task<long> CountAsync(string workspaceId);
}

internal sealed class RedisPendingSendStore(IConnectionMultiplexer redis) : IPendingSendStore
{
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);
    private static readonly RedisKey WorkspacesKey = "campaigns:pending-workspaces";

    private static RedisKey DueKey(string ws) => $"pending:{{{ws}}}";
    private static RedisKey DataKey(string ws, string id) => $"pending:{{{ws}}}:{id}";
    private static RedisKey UserKey(string ws, string campaignId, string cid) => $"pendingu:{{{ws}}}:{campaignId}:{cid}";

    // KEYS: due, data, user set. ARGV: id, due ms, json.
    private const string AddScript = """
        if redis.call('SET', KEYS[2], ARGV[3], 'NX') then
          redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1])
          redis.call('SADD', KEYS[3], ARGV[1])
        end
        return 1
        """;

    // KEYS: due, then the data key of each id. ARGV: now ms, lease-until ms, then the ids. Returns the claimed json.
    // Redis Cluster needs every key in KEYS, so the caller reads the due ids first; the script checks each is still due.
    private const string ClaimScript = """
        local out = {}
        for i = 3, #ARGV do
          local score = redis.call('ZSCORE', KEYS[1], ARGV[i])
          if score and tonumber(score) <= tonumber(ARGV[1]) then
            local json = redis.call('GET', KEYS[i - 1])
            if json then
              redis.call('ZADD', KEYS[1], ARGV[2], ARGV[i])
              out[#out + 1] = json
            else
              redis.call('ZREM', KEYS[1], ARGV[i])
            end
          end
        end
        return out
        """;

    // KEYS: due, data, user set, next data, next user set. ARGV: id, next id ('' none), next due, next json.
    private const string CompleteScript = """
        redis.call('ZREM', KEYS[1], ARGV[1])
        redis.call('DEL', KEYS[2])
        redis.call('SREM', KEYS[3], ARGV[1])
        if ARGV[2] ~= '' and redis.call('SET', KEYS[4], ARGV[4], 'NX') then
          redis.call('ZADD', KEYS[1], ARGV[3], ARGV[2])
          redis.call('SADD', KEYS[5], ARGV[2])
        end
        return 1
        """;

    // KEYS: due, user set, then the data key of each id. ARGV: the ids (the user set's members, read by the caller).
    private const string CancelScript = """
        local n = 0
        for i = 1, #ARGV do
          if redis.call('SREM', KEYS[2], ARGV[i]) == 1 then
            redis.call('ZREM', KEYS[1], ARGV[i])
            redis.call('DEL', KEYS[i + 2])
            n = n + 1
          end
        end
        return n
        """;

    private IDatabase Db => redis.GetDatabase();

    public async Task AddAsync(PendingSend pending)
    {
        var ws = pending.WorkspaceId;
        await Db.SetAddAsync(WorkspacesKey, ws);
        await Db.ScriptEvaluateAsync(AddScript,
            [DueKey(ws), DataKey(ws, pending.PendingId), UserKey(ws, pending.CampaignId, pending.CustomerId)],
            [pending.PendingId, pending.DueMs, JsonSerializer.Serialize(pending, Json)]);
    }

    public async Task<IReadOnlyList<PendingSend>> ClaimDueAsync(string workspaceId, DateTimeOffset now, DateTimeOffset leaseUntil, int max)
    {
        var ids = await Db.SortedSetRangeByScoreAsync(DueKey(workspaceId), double.NegativeInfinity, now.ToUnixTimeMilliseconds(), take: max);
        if (ids.Length == 0)
        {
            return [];
        }
        var result = await Db.ScriptEvaluateAsync(ClaimScript,
            [DueKey(workspaceId), .. ids.Select(id => DataKey(workspaceId, id.ToString()))],
            [now.ToUnixTimeMilliseconds(), leaseUntil.ToUnixTimeMilliseconds(), .. ids]);
        return ((RedisValue[])result!).Select(v => JsonSerializer.Deserialize<PendingSend>(v.ToString(), Json)!).ToList();
    }

    public async Task CompleteAsync(PendingSend done, PendingSend? next)
    {
        var ws = done.WorkspaceId;
        await Db.ScriptEvaluateAsync(CompleteScript,
            [DueKey(ws), DataKey(ws, done.PendingId), UserKey(ws, done.CampaignId, done.CustomerId),
             DataKey(ws, next?.PendingId ?? "-"), UserKey(ws, done.CampaignId, done.CustomerId)],
            [done.PendingId, next?.PendingId ?? "", next?.DueMs ?? 0, next is null ? "" : JsonSerializer.Serialize(next, Json)]);
    }

    public async Task<int> CancelAsync(string workspaceId, string campaignId, string customerId)
    {
        var userKey = UserKey(workspaceId, campaignId, customerId);
        var ids = await Db.SetMembersAsync(userKey);
        if (ids.Length == 0)
        {
            return 0;
        }
        return (int)await Db.ScriptEvaluateAsync(CancelScript,
            [DueKey(workspaceId), userKey, .. ids.Select(id => DataKey(workspaceId, id.ToString()))], ids);
    }

    public async Task<IReadOnlyList<string>> WorkspacesAsync() =>
        (await Db.SetMembersAsync(WorkspacesKey)).Select(v => v.ToString()).ToList();

    public Task<long> CountAsync(string workspaceId) => Db.SortedSetLengthAsync(DueKey(workspaceId));
}
