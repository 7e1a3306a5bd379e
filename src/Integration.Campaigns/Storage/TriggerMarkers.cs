using StackExchange.Redis;

namespace Integration.Campaigns.Storage;

/// <summary>First-time-only triggers: which event first triggered a campaign for a user.</summary>
internal interface ITriggerMarkers
{
    /// <summary>
    /// True if <paramref name="eventId"/> is the user's first trigger of the campaign (or is the one
    /// already recorded, so reprocessing the same event after a crash still sends).
    /// </summary>
    Task<bool> TryMarkFirstAsync(string workspaceId, string campaignId, string customerId, string eventId);
}

internal sealed class RedisTriggerMarkers(IConnectionMultiplexer redis) : ITriggerMarkers
{
    private static RedisKey FirstKey(string ws, string campaignId, string cid) => $"first:{{{ws}}}:{campaignId}:{cid}";

    private const string MarkScript = """
        local v = redis.call('GET', KEYS[1])
        if not v then redis.call('SET', KEYS[1], ARGV[1]) return 1 end
        if v == ARGV[1] then return 1 end
        return 0
        """;

    public async Task<bool> TryMarkFirstAsync(string workspaceId, string campaignId, string customerId, string eventId) =>
        (int)await redis.GetDatabase().ScriptEvaluateAsync(MarkScript, [FirstKey(workspaceId, campaignId, customerId)], [eventId]) == 1;
}
