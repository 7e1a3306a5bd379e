using StackExchange.Redis;

namespace InboundBench.Faults;

/// <summary>Acked / stored / lost / duplicated, read back from Redis (each workspace's event stream and event keys).</summary>
internal sealed record LedgerCounts(long Sent, long Acked, long Stored, long Lost, long Duplicated, long StoredUnacked)
{
    public override string ToString() =>
        $"sent {Sent}, acked {Acked}, stored {Stored}, lost {Lost}, duplicated {Duplicated} (+{StoredUnacked} stored without a 200, e.g. in flight at the crash)";
}

internal static class Ledger
{
    public static async Task<LedgerCounts> CountAsync(string redisConnectionString, IReadOnlyCollection<Attempt> attempts)
    {
        await using var redis = await ConnectionMultiplexer.ConnectAsync(redisConnectionString);
        var db = redis.GetDatabase();

        // How many times each event id is in its workspace's stream (the stream gets an entry iff the event is stored).
        var inStream = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var workspace in attempts.Select(a => a.WorkspaceId).Distinct())
        {
            RedisValue from = "-";
            while (true)
            {
                var page = await db.StreamRangeAsync($"stream:{{{workspace}}}", from, "+", count: 5000);
                foreach (var entry in page)
                {
                    var id = (string)entry["event_id"]!;
                    inStream[id] = inStream.GetValueOrDefault(id) + 1;
                }
                if (page.Length < 5000)
                {
                    break;
                }
                from = "(" + page[^1].Id;
            }
        }

        var acked = attempts.Where(a => a.Status == 200).ToList();
        var ackedIds = acked.Select(a => a.PayloadId).ToHashSet(StringComparer.Ordinal);
        long stored = 0, lost = 0, duplicated = 0;
        var existence = acked.Select(a => db.KeyExistsAsync($"ev:{{{a.WorkspaceId}}}:{a.PayloadId}")).ToArray();
        for (var i = 0; i < acked.Count; i++)
        {
            var count = inStream.GetValueOrDefault(acked[i].PayloadId);
            if (count >= 1 && await existence[i])
            {
                stored++;
            }
            else
            {
                lost++;
            }
            if (count > 1)
            {
                duplicated++;
            }
        }
        var storedUnacked = attempts.Where(a => a.Status != 200 && inStream.ContainsKey(a.PayloadId) && !ackedIds.Contains(a.PayloadId))
            .Select(a => a.PayloadId).Distinct().LongCount();
        // The same id acked twice would be a driver bug; every body is unique.
        duplicated += inStream.Count(kv => kv.Value > 1 && !ackedIds.Contains(kv.Key));
        return new LedgerCounts(attempts.Count, acked.Count, stored, lost, duplicated, storedUnacked);
    }
}
