using Integration.Campaigns.V1;
using StackExchange.Redis;

namespace Integration.Campaigns.Controls;

/// <summary>
/// Counts connector sends per user in Redis (shared by every replica) and refuses those over the frequency cap.
/// Owns the <c>fcap:{ws}:&lt;cid&gt;</c> keys (docs/keyspace.md): one rolling log per user, bounded by the longest
/// capped window and expiring with it.
/// </summary>
internal interface IFrequencyCapper
{
    /// <summary>Reserves <paramref name="sendIds"/> (all or none) under <paramref name="cap"/>; false when over it.</summary>
    Task<bool> TryReserveAsync(string workspaceId, string customerId, FrequencyCap cap, IReadOnlyList<string> sendIds, DateTimeOffset now);
}

internal sealed class RedisFrequencyCapper(IConnectionMultiplexer redis) : IFrequencyCapper
{
    private static readonly TimeSpan Hour = TimeSpan.FromHours(1);
    private static readonly TimeSpan Day = TimeSpan.FromDays(1);
    private static readonly TimeSpan Week = TimeSpan.FromDays(7);
    private static readonly string Script = EmbeddedScripts.Read(typeof(RedisFrequencyCapper), "Controls.frequency_cap.lua");

    private static RedisKey LogKey(string ws, string cid) => $"fcap:{{{ws}}}:{cid}";

    public async Task<bool> TryReserveAsync(string workspaceId, string customerId, FrequencyCap cap, IReadOnlyList<string> sendIds, DateTimeOffset now)
    {
        if (sendIds.Count == 0)
        {
            return true;
        }
        var keep = cap.PerWeek > 0 ? Week : cap.PerDay > 0 ? Day : Hour;
        var args = new RedisValue[8 + sendIds.Count];
        args[0] = now.ToUnixTimeMilliseconds();
        args[1] = (long)keep.TotalMilliseconds;
        args[2] = (long)Hour.TotalMilliseconds;
        args[3] = cap.PerHour;
        args[4] = (long)Day.TotalMilliseconds;
        args[5] = cap.PerDay;
        args[6] = (long)Week.TotalMilliseconds;
        args[7] = cap.PerWeek;
        for (var i = 0; i < sendIds.Count; i++)
        {
            args[8 + i] = sendIds[i];
        }
        var result = await redis.GetDatabase().ScriptEvaluateAsync(Script, [LogKey(workspaceId, customerId)], args);
        return (long)result == 1;
    }

    /// <summary>Whether a cap limits anything (an unset or all-zero cap is no cap).</summary>
    public static bool Limits(FrequencyCap? cap) => cap is not null && (cap.PerHour > 0 || cap.PerDay > 0 || cap.PerWeek > 0);
}
