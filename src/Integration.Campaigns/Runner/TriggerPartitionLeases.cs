using System.Collections.Concurrent;
using Integration.Domain;
using Microsoft.Extensions.Options;
using StackExchange.Redis;

namespace Integration.Campaigns.Runner;

/// <summary>A replica's partitions of a workspace's event stream, and those it took since the last look.</summary>
internal sealed record OwnedPartitions(IReadOnlySet<int> Owned, IReadOnlySet<int> Acquired);

/// <summary>
/// Which runner replica reads which partition of a workspace's event stream: a lease per partition
/// (<c>camps:tlease:{ws}:&lt;p&gt;</c>) and the workspace's live runners (<c>camps:trunners:{ws}</c>), renewed by
/// partition_leases.lua every third of <see cref="CampaignsOptions.TriggerLeaseSeconds"/>. Each live replica holds
/// ceil(32 / replicas) partitions; a partition has one reader at a time, so a user's events (all in one partition)
/// are handled in stream order whatever the number of replicas. Owns those keys (docs/keyspace.md).
/// </summary>
internal sealed class TriggerPartitionLeases(IConnectionMultiplexer redis, IOptions<CampaignsOptions> options, CampaignMetrics metrics)
{
    private static readonly string Script = EmbeddedScripts.Read(typeof(TriggerPartitionLeases), "Runner.partition_leases.lua");

    private readonly ConcurrentDictionary<string, (HashSet<int> Owned, long RenewAtMs)> _byWorkspace = new(StringComparer.Ordinal);

    private static RedisKey RunnersKey(string ws) => $"camps:trunners:{{{ws}}}";
    private static RedisKey LeaseKey(string ws, int partition) => $"camps:tlease:{{{ws}}}:{partition}";

    private static RedisKey[] Keys(string ws) =>
        [RunnersKey(ws), .. Enumerable.Range(0, EventStream.Partitions).Select(p => LeaseKey(ws, p))];

    /// <summary>
    /// The partitions this consumer reads now: as last renewed, or renewed first when a third of the lease has gone
    /// (on the real clock, as the polling runs). <see cref="OwnedPartitions.Acquired"/> names those it just took,
    /// whose entries another replica may have left pending.
    /// </summary>
    public async Task<OwnedPartitions> CurrentAsync(string workspaceId, string consumer)
    {
        if (_byWorkspace.TryGetValue(workspaceId, out var known) && Environment.TickCount64 < known.RenewAtMs)
        {
            return new OwnedPartitions(known.Owned, EmptySet);
        }
        return await RenewAsync(workspaceId, consumer);
    }

    /// <summary>Renews this consumer's leases on the workspace's partitions now: keeps, gives back and takes up to its share.</summary>
    internal async Task<OwnedPartitions> RenewAsync(string workspaceId, string consumer)
    {
        _byWorkspace.TryGetValue(workspaceId, out var known);
        var now = Environment.TickCount64;
        var ttlMs = options.Value.TriggerLeaseSeconds * 1000L;
        var held = (RedisValue[]?)await redis.GetDatabase().ScriptEvaluateAsync(Script, Keys(workspaceId), [consumer, ttlMs, 0]) ?? [];
        var owned = held.Select(p => (int)p - 1).ToHashSet();
        var acquired = known.Owned is null ? owned : owned.Where(p => !known.Owned.Contains(p)).ToHashSet();
        _byWorkspace[workspaceId] = (owned, now + ttlMs / 3);
        metrics.SetOwnedTriggerPartitions(_byWorkspace.Values.Sum(v => v.Owned.Count));
        return new OwnedPartitions(owned, acquired);
    }

    /// <summary>Gives every lease of this consumer back (a replica stopping), so the others take them at their next renewal.</summary>
    public async Task ReleaseAsync(string consumer)
    {
        foreach (var workspaceId in _byWorkspace.Keys)
        {
            await redis.GetDatabase().ScriptEvaluateAsync(Script, Keys(workspaceId), [consumer, 0, 1]);
            _byWorkspace.TryRemove(workspaceId, out _);
        }
        metrics.SetOwnedTriggerPartitions(0);
    }

    private static readonly IReadOnlySet<int> EmptySet = new HashSet<int>();
}
