using System.Collections.Concurrent;
using System.ComponentModel.DataAnnotations;
using Microsoft.Extensions.Options;

namespace Integration.Ingestion.Storage;

/// <summary>How long ingestion keeps what (docs/keyspace.md).</summary>
internal sealed class StorageOptions
{
    public const string SectionName = "Storage";

    /// <summary>The longest retention a workspace may have (ten years); the shortest is a day.</summary>
    public const int MaxRetentionDays = 3650;

    /// <summary>Raw events of a workspace without a <c>retention_days</c> of its own are kept this long.</summary>
    [Range(1, MaxRetentionDays)]
    public int DefaultRetentionDays { get; set; } = 90;

    /// <summary>A repeated payload or event id is recognised (and not stored again) for this long after it arrived.</summary>
    [Range(1, 365)]
    public int DuplicateWindowDays { get; set; } = 7;

    /// <summary>How long a workspace's retention setting is cached by each ingestion replica.</summary>
    [Range(0, 3600)]
    public int RetentionCacheSeconds { get; set; } = 30;

    /// <summary>
    /// Entries of a workspace a replica collects to train the workspace's stream compression dictionary on (its first
    /// ones; docs/keyspace.md). 0: entries are never compressed. Larger: a better dictionary, more memory while collecting.
    /// </summary>
    [Range(0, 4_000)]
    public int StreamDictionarySamples { get; set; } = 500;
}

/// <summary>A workspace's raw-event retention, as the writers and the sweeper apply it.</summary>
internal interface IRetentionPolicy
{
    ValueTask<int> RetentionDaysAsync(string workspaceId);
}

internal static class RetentionPolicyExtensions
{
    /// <summary>The arrival time (Unix ms) before which a workspace's raw events are past its retention, as of <paramref name="nowMs"/>.</summary>
    public static async ValueTask<long> FloorMsAsync(this IRetentionPolicy retention, string workspaceId, long nowMs) =>
        nowMs - (long)TimeSpan.FromDays(await retention.RetentionDaysAsync(workspaceId)).TotalMilliseconds;
}

/// <summary>
/// Reads <c>retention_days</c> from the workspace record and caches it per replica for a short while: every write
/// needs it, and a change taking <see cref="StorageOptions.RetentionCacheSeconds"/> to apply is harmless.
/// </summary>
internal sealed class RetentionPolicy(IWorkspaceStore workspaces, IOptions<StorageOptions> options, TimeProvider time) : IRetentionPolicy
{
    private readonly ConcurrentDictionary<string, (int Days, long Until)> _cache = new(StringComparer.Ordinal);

    public async ValueTask<int> RetentionDaysAsync(string workspaceId)
    {
        var now = time.GetUtcNow().ToUnixTimeMilliseconds();
        if (_cache.TryGetValue(workspaceId, out var cached) && cached.Until > now)
        {
            return cached.Days;
        }
        var days = await workspaces.GetRetentionDaysAsync(workspaceId) ?? options.Value.DefaultRetentionDays;
        _cache[workspaceId] = (days, now + options.Value.RetentionCacheSeconds * 1000L);
        return days;
    }

    /// <summary>Forgets a cached value (after this replica changed it).</summary>
    public void Forget(string workspaceId) => _cache.TryRemove(workspaceId, out _);
}
