using System.Globalization;
using Integration.Common.V1;
using Integration.Domain.Segments;
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

internal sealed class RedisSegmentStore(IConnectionMultiplexer redis, IActivityStore events) : ISegmentStore
{
    private const int Chunk = 250;

    private static RedisKey UsersKey(string ws) => $"users:{{{ws}}}";
    private static RedisKey UserKey(string ws, string cid) => $"user:{{{ws}}}:{cid}";
    private static RedisKey StatsKey(string ws, string cid) => $"ustats:{{{ws}}}:{cid}";
    internal static RedisKey UserEventsByNameKey(string ws, string cid, string name) => $"uevn:{{{ws}}}:{cid}:{name}";

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

    private async Task<(User User, bool Matches)?> LoadAndEvaluateAsync(IDatabase db, string ws, string cid,
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
        var matches = await SegmentRules.MatchesAsync(segment, new StoredUserFacts(db, events, user), asOfMs);
        return (user, matches);
    }
}

/// <summary>
/// One user's facts for <see cref="SegmentRules"/>: the profile and aggregates already loaded, windowed counts and
/// retained events read on demand (only for the conditions that need them).
/// </summary>
internal sealed class StoredUserFacts(IDatabase db, IActivityStore events, User user) : IUserFacts
{
    private Dictionary<string, EventStats>? _aggregates;

    public AttributeValue? Attribute(string name) => user.Attributes.GetValueOrDefault(name);

    public EventAggregate Aggregate(string eventName)
    {
        _aggregates ??= user.Events.ToDictionary(e => e.EventName, StringComparer.Ordinal);
        return _aggregates.TryGetValue(eventName, out var s) ? new EventAggregate(s.Count, s.FirstTimeMs, s.LastTimeMs) : default;
    }

    // Heap segment membership arrives with segment sync (issue 17); until it is stored no user is in any segment.
    public bool InHeapSegment(string segmentId) => false;

    public async ValueTask<long> CountAsync(string eventName, long fromMs, long toMs) =>
        await db.SortedSetLengthAsync(RedisSegmentStore.UserEventsByNameKey(user.WorkspaceId, user.CustomerId, eventName), fromMs, toMs);

    public async ValueTask<IReadOnlyList<RetainedEvent>> EventsAsync(string eventName, long fromMs, long toMs)
    {
        var stored = await events.ListUserEventsAsync(user.WorkspaceId, user.CustomerId, fromMs, toMs == long.MaxValue ? 0 : toMs,
            SegmentRules.MaxEventsExamined, eventName);
        return stored.Select(e => new RetainedEvent(e.EventTimeMs, e.Attributes)).ToList();
    }
}
