using System.Collections.Concurrent;
using Grpc.Core;
using Integration.Ingestion.V1;
using Microsoft.Extensions.Options;

namespace Integration.Edge.Auth;

/// <summary>
/// Keeps each workspace's key hash, rate limit and configs in memory for a few seconds, so the hot
/// path does not ask ingestion for them on every webhook. Concurrent misses for one workspace share
/// one look-up. Unknown workspaces are remembered briefly too (floods of made-up ids stay here).
/// Failures are not cached: they surface as <see cref="RpcException"/> and the edge answers 503.
/// </summary>
internal sealed class WorkspaceAuthCache(
    Ingestion.V1.Ingestion.IngestionClient ingestion,
    IOptions<EdgeOptions> options,
    TimeProvider time)
{
    // Bounds memory under a flood of random workspace ids; clearing only costs a few look-ups.
    private const int MaxEntries = 100_000;

    private readonly ConcurrentDictionary<string, Entry> _entries = new(StringComparer.Ordinal);

    /// <summary>The workspace's auth data, or null if the workspace does not exist.</summary>
    public async ValueTask<WorkspaceAuth?> GetAsync(string workspaceId, CancellationToken cancellationToken)
    {
        var now = time.GetTimestamp();
        if (_entries.TryGetValue(workspaceId, out var entry) && now < entry.ExpiresAt)
        {
            return entry.Lookup.IsCompletedSuccessfully ? entry.Lookup.Result : await entry.Lookup.WaitAsync(cancellationToken);
        }

        if (_entries.Count >= MaxEntries)
        {
            _entries.Clear();
        }

        var fresh = new Entry(LookUpAsync(workspaceId), long.MaxValue);
        var current = _entries.AddOrUpdate(workspaceId, fresh, (_, existing) => existing.ExpiresAt > now ? existing : fresh);
        try
        {
            var result = await current.Lookup.WaitAsync(cancellationToken);
            var ttl = TimeSpan.FromSeconds(result is null ? options.Value.UnknownWorkspaceCacheSeconds : options.Value.CredentialCacheSeconds);
            _entries.TryUpdate(workspaceId, current with { ExpiresAt = time.GetTimestamp() + (long)(ttl.TotalSeconds * time.TimestampFrequency) }, current);
            return result;
        }
        catch
        {
            _entries.TryRemove(new KeyValuePair<string, Entry>(workspaceId, current));
            throw;
        }
    }

    /// <summary>Forgets a workspace (after a key rotation through this edge's admin path, or in tests).</summary>
    public void Invalidate(string workspaceId) => _entries.TryRemove(workspaceId, out _);

    private async Task<WorkspaceAuth?> LookUpAsync(string workspaceId)
    {
        try
        {
            return await ingestion.GetWorkspaceAuthAsync(new GetWorkspaceAuthRequest { WorkspaceId = workspaceId },
                deadline: time.GetUtcNow().UtcDateTime.AddSeconds(options.Value.IngestionTimeoutSeconds));
        }
        catch (RpcException ex) when (ex.StatusCode is StatusCode.NotFound or StatusCode.InvalidArgument)
        {
            return null;
        }
    }

    private sealed record Entry(Task<WorkspaceAuth?> Lookup, long ExpiresAt);
}
