using StackExchange.Redis;

namespace Integration.Campaigns.Storage;

/// <summary>A claimed scheduled run: the campaign's next run is due.</summary>
internal sealed record ScheduledRun(string WorkspaceId, string CampaignId);

/// <summary>
/// Next-run times of One Time and Periodic campaigns, shared by every runner replica. A claim moves the
/// entry a lease into the future, so another replica takes the run over if this one dies before it completes.
/// </summary>
internal interface IScheduleStore
{
    Task SetAsync(string workspaceId, string campaignId, DateTimeOffset due);

    Task RemoveAsync(string workspaceId, string campaignId);

    Task<IReadOnlyList<ScheduledRun>> ClaimDueAsync(DateTimeOffset now, DateTimeOffset leaseUntil, int max);

    Task<DateTimeOffset?> GetAsync(string workspaceId, string campaignId);
}

internal sealed class RedisScheduleStore(IConnectionMultiplexer redis) : IScheduleStore
{
    // One key for all workspaces: single-key commands and scripts, so it works on Redis Cluster too.
    private static readonly RedisKey ScheduleKey = "campaigns:schedule";

    // KEYS: schedule. ARGV: now ms, lease-until ms, max.
    private const string ClaimScript = """
        local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[3]))
        for i = 1, #due do redis.call('ZADD', KEYS[1], ARGV[2], due[i]) end
        return due
        """;

    private static string Member(string ws, string id) => $"{ws}/{id}";

    public Task SetAsync(string workspaceId, string campaignId, DateTimeOffset due) =>
        redis.GetDatabase().SortedSetAddAsync(ScheduleKey, Member(workspaceId, campaignId), due.ToUnixTimeMilliseconds());

    public Task RemoveAsync(string workspaceId, string campaignId) =>
        redis.GetDatabase().SortedSetRemoveAsync(ScheduleKey, Member(workspaceId, campaignId));

    public async Task<DateTimeOffset?> GetAsync(string workspaceId, string campaignId)
    {
        var score = await redis.GetDatabase().SortedSetScoreAsync(ScheduleKey, Member(workspaceId, campaignId));
        return score is { } ms ? DateTimeOffset.FromUnixTimeMilliseconds((long)ms) : null;
    }

    public async Task<IReadOnlyList<ScheduledRun>> ClaimDueAsync(DateTimeOffset now, DateTimeOffset leaseUntil, int max)
    {
        var result = await redis.GetDatabase().ScriptEvaluateAsync(ClaimScript, [ScheduleKey],
            [now.ToUnixTimeMilliseconds(), leaseUntil.ToUnixTimeMilliseconds(), max]);
        return ((RedisValue[])result!).Select(v =>
        {
            var member = v.ToString();
            var slash = member.IndexOf('/');
            return new ScheduledRun(member[..slash], member[(slash + 1)..]);
        }).ToList();
    }
}
