using System.Diagnostics;
using StackExchange.Redis;

namespace Integration.Ingestion.Storage;

/// <summary>How a sync page or a drain started: whether it is new, and the versions it is applied against.</summary>
/// <param name="Fresh">False if the page (or the signed drain) was applied before.</param>
/// <param name="Version">The page's version (task sequence × <see cref="RedisHeapSegmentStore.PageFactor"/> + page) or the drain's.</param>
/// <param name="Drained">The segment's drain version: memberships at or below it are out.</param>
/// <param name="PagesApplied">Pages of the task applied before this one.</param>
internal sealed record SegmentSyncStart(bool Fresh, long Version, long Drained, int PagesApplied);

/// <summary>What a page did to one user.</summary>
internal enum MembershipChange
{
    /// <summary>A newer sync or drain had decided the user's membership: left as it was.</summary>
    Superseded = 0,
    /// <summary>In the segment.</summary>
    Joined = 1,
    /// <summary>Out of the segment.</summary>
    Left = 2,
}

/// <summary>A user's membership of a Heap segment, as read.</summary>
internal sealed record HeapSegmentMember(long SegmentId, string Name, long SinceMs);

internal static class HeapSegmentMembers
{
    /// <summary>Puts a user's memberships on the <see cref="V1.User"/> that GetUser and the segment API answer.</summary>
    public static void AddTo(this IReadOnlyList<HeapSegmentMember> members, V1.User user) =>
        user.HeapSegments.AddRange(members.Select(m => new V1.HeapSegmentMembership { SegmentId = m.SegmentId, Name = m.Name, SinceMs = m.SinceMs }));
}

/// <summary>Owns the Heap segment keys (docs/keyspace.md): the workspace's segment registry, sync tasks and each user's memberships.</summary>
internal interface IHeapSegmentStore
{
    /// <summary>Starts a page of a sync task: gives the task its sequence on its first page and tells a page applied before.</summary>
    Task<SegmentSyncStart> BeginPageAsync(string workspaceId, long segmentId, string name, string taskId, int page, int totalPages);

    /// <summary>Applies users' joins (true) and leaves (false) at a page's version; one result per user, in order.</summary>
    Task<MembershipChange[]> ApplyAsync(string workspaceId, long segmentId, long version, long drained,
        IReadOnlyList<(string CustomerId, bool Joins)> changes);

    /// <summary>Marks a page applied; answers the task's pages applied so far.</summary>
    Task<int> FinishPageAsync(string workspaceId, long segmentId, string taskId, int page);

    /// <summary>Drains a segment (everyone leaves) at the next version; not again for a repeat of the same signed request.</summary>
    Task<SegmentSyncStart> DrainAsync(string workspaceId, long segmentId, string name, string requestId);

    /// <summary>The segments each user is in, by segment id.</summary>
    Task<IReadOnlyList<HeapSegmentMember>[]> GetMembershipsAsync(string workspaceId, IReadOnlyList<string> customerIds);
}

internal sealed class RedisHeapSegmentStore(IConnectionMultiplexer redis, TimeProvider time) : IHeapSegmentStore
{
    /// <summary>Page numbers stay below this, so a version orders tasks first and pages within a task second.</summary>
    public const long PageFactor = 1_000_000;

    /// <summary>How long a sync task's sequence and applied pages are kept: far beyond Heap's retries of a page.</summary>
    public static readonly TimeSpan TaskRetention = TimeSpan.FromDays(7);

    /// <summary>How long a signed drain is recognised when repeated: its signature is valid for a minute only.</summary>
    public static readonly TimeSpan DrainRequestRetention = TimeSpan.FromMinutes(10);

    /// <summary>Users per apply script call: bounds how long one call holds Redis.</summary>
    private const int UsersPerCall = 256;

    // Segment-wide keys carry the workspace tag (a few per segment, touched once per page); a user's memberships carry the
    // user's partition tag (UserKeyspace owns that rule), so they live in the slot of the user's other keys.
    private static RedisKey RegistryKey(string ws) => $"hsegs:{{{ws}}}";
    private static RedisKey TaskKey(string ws, long segmentId, string taskId) => $"hsegtask:{{{ws}}}:{segmentId}:{taskId}";
    private static RedisKey DrainRequestKey(string ws, string requestId) => $"hsegreq:{{{ws}}}:{requestId}";
    private static RedisKey MembershipKey(string ws, string cid) => $"m{UserKeyspace.Tag(ws, cid)}{ws}:{cid}";

    private static readonly string BeginScript = Scripts.Load("segment_begin.lua");
    private static readonly string ApplyScript = Scripts.Load("segment_apply.lua");
    private static readonly string FinishScript = Scripts.Load("segment_finish.lua");

    private IDatabase Db => redis.GetDatabase();

    public async Task<SegmentSyncStart> BeginPageAsync(string workspaceId, long segmentId, string name, string taskId, int page, int totalPages)
    {
        using var activity = StartCall("segment page begin");
        var result = (RedisResult[])(await Db.ScriptEvaluateAsync(BeginScript,
            [RegistryKey(workspaceId), TaskKey(workspaceId, segmentId, taskId)],
            ["sync", segmentId, name, page, totalPages, (long)TaskRetention.TotalSeconds, PageFactor]))!;
        return new SegmentSyncStart((int)result[0] == 1, (long)result[1] * PageFactor + page, (long)result[2], (int)result[3]);
    }

    public async Task<SegmentSyncStart> DrainAsync(string workspaceId, long segmentId, string name, string requestId)
    {
        using var activity = StartCall("segment drain");
        var result = (RedisResult[])(await Db.ScriptEvaluateAsync(BeginScript,
            [RegistryKey(workspaceId), DrainRequestKey(workspaceId, requestId)],
            ["drain", segmentId, name, 0, 0, (long)DrainRequestRetention.TotalSeconds, PageFactor]))!;
        return new SegmentSyncStart((int)result[0] == 1, (long)result[1], (long)result[2], 0);
    }

    public async Task<MembershipChange[]> ApplyAsync(string workspaceId, long segmentId, long version, long drained,
        IReadOnlyList<(string CustomerId, bool Joins)> changes)
    {
        using var activity = StartCall("segment members apply");
        activity?.SetTag("ingestion.records", changes.Count);
        var db = Db;
        var now = time.GetUtcNow().ToUnixTimeMilliseconds();
        // One call per hash slot (one in all on a standalone server), as the users' keys may live on different masters.
        return await Coalescer.SendInGroupsAsync<(string CustomerId, bool Joins), MembershipChange>(changes, UsersPerCall,
            change => redis.HashSlot(MembershipKey(workspaceId, change.CustomerId)),
            async batch =>
            {
                var keys = new RedisKey[batch.Length];
                var args = new RedisValue[4 + batch.Length];
                args[0] = segmentId;
                args[1] = version;
                args[2] = drained;
                args[3] = now;
                for (var i = 0; i < batch.Length; i++)
                {
                    keys[i] = MembershipKey(workspaceId, batch[i].CustomerId);
                    args[4 + i] = batch[i].Joins ? "a" : "r";
                }
                var results = (RedisResult[])(await db.ScriptEvaluateAsync(ApplyScript, keys, args))!;
                return results.Select(r => (MembershipChange)(int)r).ToList();
            });
    }

    public async Task<int> FinishPageAsync(string workspaceId, long segmentId, string taskId, int page)
    {
        using var activity = StartCall("segment page finish");
        return (int)await Db.ScriptEvaluateAsync(FinishScript, [TaskKey(workspaceId, segmentId, taskId)], [page]);
    }

    public async Task<IReadOnlyList<HeapSegmentMember>[]> GetMembershipsAsync(string workspaceId, IReadOnlyList<string> customerIds)
    {
        var db = Db;
        var entries = await Task.WhenAll(customerIds.Select(cid => db.HashGetAllAsync(MembershipKey(workspaceId, cid))));
        var parsed = entries.Select(e => e.Select(Parse).Where(m => m.State == '1').ToList()).ToArray();
        var segments = parsed.SelectMany(p => p.Select(m => m.SegmentId)).Distinct().ToArray();
        var members = new IReadOnlyList<HeapSegmentMember>[customerIds.Count];
        if (segments.Length == 0)
        {
            Array.Fill(members, []);
            return members;
        }

        // A drain is one field of the registry, not a write to every member: memberships at or below it are out.
        var fields = segments.SelectMany(s => new RedisValue[] { $"n:{s}", $"d:{s}" }).ToArray();
        var registry = await db.HashGetAsync(RegistryKey(workspaceId), fields);
        var bySegment = new Dictionary<long, (string Name, long Drained)>();
        for (var i = 0; i < segments.Length; i++)
        {
            bySegment[segments[i]] = (registry[2 * i].ToString(), registry[2 * i + 1].IsNull ? 0 : (long)registry[2 * i + 1]);
        }
        for (var u = 0; u < members.Length; u++)
        {
            members[u] = parsed[u]
                .Where(m => m.Version > bySegment[m.SegmentId].Drained)
                .OrderBy(m => m.SegmentId)
                .Select(m => new HeapSegmentMember(m.SegmentId, bySegment[m.SegmentId].Name, m.At))
                .ToList();
        }
        return members;
    }

    private static (long SegmentId, long Version, char State, long At) Parse(HashEntry entry)
    {
        var value = entry.Value.ToString();
        var first = value.IndexOf('|', StringComparison.Ordinal);
        var second = value.IndexOf('|', first + 1);
        return (long.Parse(entry.Name.ToString(), System.Globalization.CultureInfo.InvariantCulture),
            long.Parse(value.AsSpan(0, first), System.Globalization.CultureInfo.InvariantCulture),
            value[first + 1],
            long.Parse(value.AsSpan(second + 1), System.Globalization.CultureInfo.InvariantCulture));
    }

    private static Activity? StartCall(string operation)
    {
        var activity = RedisActivityStore.Source.StartActivity(operation, ActivityKind.Client);
        activity?.SetTag("db.system", "redis");
        activity?.SetTag("db.operation", "EVALSHA");
        return activity;
    }
}
