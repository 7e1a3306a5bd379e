using Integration.Domain;
using StackExchange.Redis;

namespace InboundBench.Faults;

/// <summary>Acked / stored / lost / duplicated, read back from Redis (every partition of each workspace's event stream, which holds the stored events).</summary>
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
        foreach (var stream in attempts.Select(a => a.WorkspaceId).Distinct().SelectMany(EventStream.Keys))
        {
            RedisValue from = "-";
            while (true)
            {
                var page = await db.StreamRangeAsync(stream, from, "+", count: 5000);
                await EventStream.LoadDictionariesAsync(db, page);
                foreach (var entry in page)
                {
                    var id = EventStream.Decode((byte[])entry[EventStream.Field]!)!.EventId;
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
        for (var i = 0; i < acked.Count; i++)
        {
            var count = inStream.GetValueOrDefault(acked[i].PayloadId);
            if (count >= 1)
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
