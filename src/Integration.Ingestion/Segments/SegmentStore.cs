using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using Integration.Common.V1;
using Integration.Domain.Segments;
using Integration.Domain;
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
    /// Examines users in first-seen order (merged over the workspace's partitions) from <paramref name="cursor"/> (null:
    /// the start) until <paramref name="limit"/> match or the users run out. With <paramref name="collect"/> false only
    /// the matches are counted (no profiles kept), every partition at once.
    /// </summary>
    Task<SegmentPage> ScanAsync(string workspaceId, SegmentDefinition segment, long asOfMs, SegmentCursor? cursor, int limit, CancellationToken cancellationToken,
        bool collect = true);

    /// <summary>Loads one user and evaluates the segment for them; null if the user is unknown.</summary>
    Task<(User User, bool Matches)?> EvaluateAsync(string workspaceId, string customerId, SegmentDefinition segment, long asOfMs);
}

/// <param name="Users">Matching users (empty when not collected).</param>
/// <param name="Matched">How many users matched.</param>
/// <param name="Examined">Users looked at.</param>
/// <param name="Next">Where to continue, or null when every user has been examined.</param>
internal sealed record SegmentPage(IReadOnlyList<User> Users, long Matched, long Examined, SegmentCursor? Next);

/// <summary>A position in a workspace's users: how many users of each partition come before it.</summary>
internal sealed record SegmentCursor(long[] Ranks)
{
    public static SegmentCursor Start() => new(new long[EventStream.Partitions]);

    public override string ToString() => string.Join('.', Ranks);

    public static bool TryParse(string token, [NotNullWhen(true)] out SegmentCursor? cursor)
    {
        cursor = null;
        var parts = token.Split('.');
        if (parts.Length != EventStream.Partitions)
        {
            return false;
        }
        var ranks = new long[parts.Length];
        for (var i = 0; i < parts.Length; i++)
        {
            if (!long.TryParse(parts[i], NumberStyles.None, CultureInfo.InvariantCulture, out ranks[i]))
            {
                return false;
            }
        }
        cursor = new SegmentCursor(ranks);
        return true;
    }
}

internal sealed class RedisSegmentStore(IConnectionMultiplexer redis, IActivityStore events, IHeapSegmentStore heapSegments) : ISegmentStore
{
    private const int Chunk = 250;

    // Users read from each partition per round of the merge.
    private const int MergeRead = 64;

    public async Task<SegmentPage> ScanAsync(string workspaceId, SegmentDefinition segment, long asOfMs, SegmentCursor? cursor, int limit,
        CancellationToken cancellationToken, bool collect = true)
    {
        var db = redis.GetDatabase();
        if (!collect && cursor is null && limit == int.MaxValue)
        {
            // A count needs no order: every partition at once (each is one slot, so on a cluster every master works).
            var counts = await Task.WhenAll(Enumerable.Range(0, EventStream.Partitions)
                .Select(p => CountPartitionAsync(db, workspaceId, p, segment, asOfMs, cancellationToken)));
            return new SegmentPage([], counts.Sum(c => c.Matched), counts.Sum(c => c.Examined), null);
        }

        var ranks = (cursor ?? SegmentCursor.Start()).Ranks.ToArray();
        var matches = new List<User>();
        long matched = 0, examined = 0;
        while (true)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var next = await NextInOrderAsync(db, workspaceId, ranks);
            if (next.Count == 0)
            {
                return new SegmentPage(matches, matched, examined, null);
            }
            var results = await Task.WhenAll(next.Select(u => LoadAndEvaluateAsync(db, workspaceId, u.CustomerId, segment, asOfMs)));
            for (var i = 0; i < results.Length; i++)
            {
                examined++;
                ranks[next[i].Partition]++;
                if (results[i] is { Matches: true } hit)
                {
                    matched++;
                    if (collect)
                    {
                        matches.Add(hit.User);
                    }
                    if (matched >= limit)
                    {
                        var more = i + 1 < results.Length || (await NextInOrderAsync(db, workspaceId, ranks)).Count > 0;
                        return new SegmentPage(matches, matched, examined, more ? new SegmentCursor(ranks) : null);
                    }
                }
            }
        }
    }

    /// <summary>
    /// The next users in first-seen order (ties by id) after <paramref name="ranks"/>: a round of the k-way merge of
    /// the partitions' users indexes, holding only the users that no unread user of any partition can precede.
    /// </summary>
    private static async Task<List<(int Partition, string CustomerId)>> NextInOrderAsync(IDatabase db, string workspaceId, long[] ranks)
    {
        var reads = Enumerable.Range(0, EventStream.Partitions)
            .Select(p => db.SortedSetRangeByRankWithScoresAsync(UserKeyspace.Users(workspaceId, p), ranks[p], ranks[p] + MergeRead - 1))
            .ToArray();
        var heads = new List<(double Score, byte[] Id, int Partition)>();
        (double Score, byte[] Id)? bound = null;
        for (var p = 0; p < reads.Length; p++)
        {
            var page = await reads[p];
            foreach (var entry in page)
            {
                heads.Add((entry.Score, (byte[])entry.Element!, p));
            }
            if (page.Length == MergeRead)
            {
                // This partition has more: nothing after its last read user is safe to hand out yet.
                var last = (page[^1].Score, (byte[])page[^1].Element!);
                if (bound is null || Compare(last, bound.Value) < 0)
                {
                    bound = last;
                }
            }
        }
        heads.Sort((x, y) => Compare((x.Score, x.Id), (y.Score, y.Id)));
        return heads.Where(h => bound is null || Compare((h.Score, h.Id), bound.Value) <= 0)
            .Select(h => (h.Partition, System.Text.Encoding.UTF8.GetString(h.Id))).ToList();
    }

    // Redis orders equal scores by the members' bytes; the merge must order them the same way.
    private static int Compare((double Score, byte[] Id) x, (double Score, byte[] Id) y)
    {
        var byScore = x.Score.CompareTo(y.Score);
        return byScore != 0 ? byScore : x.Id.AsSpan().SequenceCompareTo(y.Id);
    }

    private async Task<(long Matched, long Examined)> CountPartitionAsync(IDatabase db, string workspaceId, int partition,
        SegmentDefinition segment, long asOfMs, CancellationToken cancellationToken)
    {
        // A count builds no User: each user's facts are read from the stored hashes as the rules ask for them (a profile
        // with many attributes costs only the ones the segment names), and memberships only when the segment needs them.
        var needsMemberships = NamesHeapSegments(segment.Filters);
        var users = UserKeyspace.Users(workspaceId, partition);
        long matched = 0, examined = 0, rank = 0;
        while (true)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var ids = Array.ConvertAll(await db.SortedSetRangeByRankAsync(users, rank, rank + Chunk - 1), id => id.ToString());
            var reads = Array.ConvertAll(ids, cid => db.HashGetAllAsync(UserKeyspace.User(workspaceId, cid)));
            var memberships = needsMemberships ? await heapSegments.GetMembershipsAsync(workspaceId, ids) : null;
            var verdicts = new ValueTask<bool>[ids.Length];
            for (var i = 0; i < ids.Length; i++)
            {
                var (hash, old) = await RedisActivityStore.ReadUserAsync(db, workspaceId, ids[i], reads[i]);
                var facts = new StoredHashFacts(db, events, workspaceId, ids[i], hash, old, memberships?[i] ?? []);
                verdicts[i] = facts.Exists ? SegmentRules.MatchesAsync(segment, facts, asOfMs) : ValueTask.FromResult(false);
            }
            foreach (var verdict in verdicts)
            {
                matched += await verdict ? 1 : 0;
            }
            examined += ids.Length;
            rank += ids.Length;
            if (ids.Length < Chunk)
            {
                return (matched, examined);
            }
        }
    }

    private static bool NamesHeapSegments(IEnumerable<Filter> filters) => filters.Any(f => f.KindCase switch
    {
        Filter.KindOneofCase.HeapSegment => true,
        Filter.KindOneofCase.Group => NamesHeapSegments(f.Group.Filters),
        _ => false,
    });

    public Task<(User User, bool Matches)?> EvaluateAsync(string workspaceId, string customerId, SegmentDefinition segment, long asOfMs) =>
        LoadAndEvaluateAsync(redis.GetDatabase(), workspaceId, customerId, segment, asOfMs);

    private async Task<(User User, bool Matches)?> LoadAndEvaluateAsync(IDatabase db, string ws, string cid,
        SegmentDefinition segment, long asOfMs)
    {
        var hashTask = RedisActivityStore.ReadUserAsync(db, ws, cid);
        var membershipsTask = heapSegments.GetMembershipsAsync(ws, [cid]);
        var (hash, old) = await hashTask;
        var memberships = await membershipsTask;
        if (hash.Length == 0 && old.Length == 0)
        {
            return null;
        }

        var user = RedisActivityStore.ToUser(ws, cid, hash, old);
        memberships[0].AddTo(user);
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

    // Heap's segment ids are numbers; a definition names them as text.
    public bool InHeapSegment(string segmentId) =>
        user.HeapSegments.Any(s => s.SegmentId.ToString(CultureInfo.InvariantCulture) == segmentId);

    public ValueTask<long> CountAsync(string eventName, long fromMs, long toMs) =>
        RetainedEvents.CountAsync(db, user.WorkspaceId, user.CustomerId, eventName, fromMs, toMs);

    public ValueTask<IReadOnlyList<RetainedEvent>> EventsAsync(string eventName, long fromMs, long toMs) =>
        RetainedEvents.ListAsync(events, user.WorkspaceId, user.CustomerId, eventName, fromMs, toMs);
}

/// <summary>
/// One user's facts straight from the stored hashes (the user hash's <c>a:</c> and <c>c:</c>/<c>f:</c>/<c>l:</c> fields,
/// <see cref="RedisActivityStore.ToUser"/>'s format; a user not merged yet has the latter in its old aggregates hash,
/// <see cref="RedisActivityStore.ReadUserAsync"/>): a count parses only what its conditions name.
/// </summary>
internal sealed class StoredHashFacts(IDatabase db, IActivityStore events, string workspaceId, string customerId,
    HashEntry[] hash, HashEntry[] oldAggregates, IReadOnlyList<HeapSegmentMember> memberships) : IUserFacts
{
    /// <summary>Whether the user has a profile or aggregates (a users-index member without either is unknown).</summary>
    public bool Exists => hash.Length > 0 || oldAggregates.Length > 0;

    public AttributeValue? Attribute(string name) =>
        Find(hash, UserKeyspace.AttributePrefix + name) is { IsNull: false } json ? AttributeJson.FromJson(json.ToString()) : null;

    public EventAggregate Aggregate(string eventName)
    {
        var stats = oldAggregates.Length > 0 ? oldAggregates : hash;
        var count = Find(stats, "c:" + eventName);
        return count.IsNull ? default : new EventAggregate((long)count, (long)Find(stats, "f:" + eventName), (long)Find(stats, "l:" + eventName));
    }

    public bool InHeapSegment(string segmentId) =>
        memberships.Any(m => m.SegmentId.ToString(CultureInfo.InvariantCulture) == segmentId);

    public ValueTask<long> CountAsync(string eventName, long fromMs, long toMs) =>
        RetainedEvents.CountAsync(db, workspaceId, customerId, eventName, fromMs, toMs);

    public ValueTask<IReadOnlyList<RetainedEvent>> EventsAsync(string eventName, long fromMs, long toMs) =>
        RetainedEvents.ListAsync(events, workspaceId, customerId, eventName, fromMs, toMs);

    private static RedisValue Find(HashEntry[] entries, string field)
    {
        foreach (var entry in entries)
        {
            if (entry.Name == field)
            {
                return entry.Value;
            }
        }
        return RedisValue.Null;
    }
}

/// <summary>A user's retained events as segment conditions read them (both kinds of facts share it).</summary>
internal static class RetainedEvents
{
    public static async ValueTask<long> CountAsync(IDatabase db, string workspaceId, string customerId, string eventName, long fromMs, long toMs)
    {
        // Windows are on event time, so a retroactive event counts where it happened; the user's retained events
        // (the retention window) are what a windowed count can see.
        var members = await db.SortedSetRangeByScoreAsync(UserKeyspace.Events(workspaceId, customerId), fromMs, toMs);
        var nameKey = UserKeyspace.EventNameKey(eventName);
        return members.Count(m => UserKeyspace.ParseEventMember(m).Is(eventName, nameKey));
    }

    public static async ValueTask<IReadOnlyList<RetainedEvent>> ListAsync(IActivityStore events, string workspaceId, string customerId,
        string eventName, long fromMs, long toMs)
    {
        var stored = await events.ListUserEventsAsync(workspaceId, customerId, fromMs, toMs == long.MaxValue ? 0 : toMs,
            SegmentRules.MaxEventsExamined, eventName);
        return stored.Select(e => new RetainedEvent(e.EventTimeMs, e.Attributes)).ToList();
    }
}
