using System.Globalization;
using Integration.Ingestion.Storage;
using Integration.Ingestion.V1;
using Integration.Segments.V1;
using StackExchange.Redis;

namespace Integration.Ingestion.Segments;

/// <summary>
/// Reads the user and event keyspace (docs/keyspace.md, owned by <see cref="RedisActivityStore"/>) to evaluate
/// segment definitions. Read-only: it never writes a key.
/// </summary>
internal interface ISegmentStore
{
    /// <summary>
    /// Examines users in first-seen order from <paramref name="offset"/> until <paramref name="limit"/> match or
    /// the users run out. With <paramref name="collect"/> false only the matches are counted (no profiles kept).
    /// </summary>
    Task<SegmentPage> ScanAsync(string workspaceId, SegmentDefinition segment, long asOfMs, long offset, int limit, CancellationToken cancellationToken,
        bool collect = true);

    /// <summary>Loads one user and evaluates the segment for them; null if the user is unknown.</summary>
    Task<(User User, bool Matches)?> EvaluateAsync(string workspaceId, string customerId, SegmentDefinition segment, long asOfMs);
}

/// <param name="Users">Matching users (empty when not collected).</param>
/// <param name="Matched">How many users matched.</param>
/// <param name="Examined">Users looked at.</param>
/// <param name="NextOffset">Where to continue, or -1 when every user has been examined.</param>
internal sealed record SegmentPage(IReadOnlyList<User> Users, long Matched, long Examined, long NextOffset);

internal sealed class RedisSegmentStore(IConnectionMultiplexer redis) : ISegmentStore
{
    private const int Chunk = 250;

    private static RedisKey UsersKey(string ws) => $"users:{{{ws}}}";
    private static RedisKey UserKey(string ws, string cid) => $"user:{{{ws}}}:{cid}";
    private static RedisKey StatsKey(string ws, string cid) => $"ustats:{{{ws}}}:{cid}";
    private static RedisKey UserEventsByNameKey(string ws, string cid, string name) => $"uevn:{{{ws}}}:{cid}:{name}";

    public async Task<SegmentPage> ScanAsync(string workspaceId, SegmentDefinition segment, long asOfMs, long offset, int limit,
        CancellationToken cancellationToken, bool collect = true)
    {
        var db = redis.GetDatabase();
        var matches = new List<User>();
        long matched = 0;
        long examined = 0;
        while (true)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var ids = await db.SortedSetRangeByRankAsync(UsersKey(workspaceId), offset, offset + Chunk - 1);
            if (ids.Length == 0)
            {
                return new SegmentPage(matches, matched, examined, -1);
            }

            var evaluations = ids.Select(id => LoadAndEvaluateAsync(db, workspaceId, id.ToString(), segment, asOfMs)).ToArray();
            var results = await Task.WhenAll(evaluations);
            for (var i = 0; i < results.Length; i++)
            {
                examined++;
                offset++;
                if (results[i] is { Matches: true } hit)
                {
                    matched++;
                    if (collect)
                    {
                        matches.Add(hit.User);
                    }
                    if (matched >= limit)
                    {
                        var more = offset < await db.SortedSetLengthAsync(UsersKey(workspaceId));
                        return new SegmentPage(matches, matched, examined, more ? offset : -1);
                    }
                }
            }
            if (ids.Length < Chunk)
            {
                return new SegmentPage(matches, matched, examined, -1);
            }
        }
    }

    public Task<(User User, bool Matches)?> EvaluateAsync(string workspaceId, string customerId, SegmentDefinition segment, long asOfMs) =>
        LoadAndEvaluateAsync(redis.GetDatabase(), workspaceId, customerId, segment, asOfMs);

    private static async Task<(User User, bool Matches)?> LoadAndEvaluateAsync(IDatabase db, string ws, string cid,
        SegmentDefinition segment, long asOfMs)
    {
        var profileTask = db.HashGetAllAsync(UserKey(ws, cid));
        var statsTask = db.HashGetAllAsync(StatsKey(ws, cid));
        var profile = await profileTask;
        var stats = await statsTask;
        if (profile.Length == 0 && stats.Length == 0)
        {
            return null;
        }

        var user = RedisActivityStore.ToUser(ws, cid, profile, stats);
        var matches = await MatchesAsync(db, ws, user, segment, asOfMs);
        return (user, matches);
    }

    private static async Task<bool> MatchesAsync(IDatabase db, string ws, User user, SegmentDefinition segment, long asOfMs)
    {
        if (segment.Filters.Count == 0)
        {
            return true;
        }
        foreach (var filter in segment.Filters)
        {
            var hit = filter.KindCase switch
            {
                Filter.KindOneofCase.Attribute => SegmentRules.MatchesAttribute(user.Attributes.GetValueOrDefault(filter.Attribute.Attribute), filter.Attribute.Operator, filter.Attribute.Value),
                Filter.KindOneofCase.Event => await MatchesEventAsync(db, ws, user, filter.Event, asOfMs),
                _ => false,
            };
            if (segment.MatchAny && hit)
            {
                return true;
            }
            if (!segment.MatchAny && !hit)
            {
                return false;
            }
        }
        return !segment.MatchAny;
    }

    private static async Task<bool> MatchesEventAsync(IDatabase db, string ws, User user, EventFilter filter, long asOfMs)
    {
        var stats = user.Events.FirstOrDefault(e => e.EventName == filter.EventName);
        var (from, to, windowed) = SegmentRules.Window(filter, asOfMs);
        switch (filter.Condition)
        {
            case EventCondition.FirstTimeInWindow:
                return stats is { Count: > 0 } && stats.FirstTimeMs >= from && stats.FirstTimeMs <= to;
            case EventCondition.LastTimeInWindow:
                return stats is { Count: > 0 } && stats.LastTimeMs >= from && stats.LastTimeMs <= to;
        }

        long count;
        if (!windowed)
        {
            count = stats?.Count ?? 0;
        }
        else if (stats is null || stats.Count == 0 || stats.LastTimeMs < from || stats.FirstTimeMs > to)
        {
            count = 0;
        }
        else
        {
            // Windows are on event time, so a retroactive event counts where it happened.
            count = await db.SortedSetLengthAsync(UserEventsByNameKey(ws, user.CustomerId, filter.EventName), from, to);
        }
        return SegmentRules.MatchesCount(filter, count);
    }
}
