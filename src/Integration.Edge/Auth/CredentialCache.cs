using System.Collections.Concurrent;
using Microsoft.Extensions.Options;

namespace Integration.Edge.Auth;

/// <summary>
/// Keeps credentials from ingestion in memory for a few seconds (<c>Edge:CredentialCacheSeconds</c>), so the hot path
/// does not ask ingestion for them on every request. Concurrent misses for one key share one look-up. Unknown keys are
/// remembered briefly too (<c>Edge:UnknownWorkspaceCacheSeconds</c>: floods of made-up ids stay here). Failures are not
/// cached: they surface to the caller and the edge answers 503.
/// </summary>
internal abstract class CredentialCache<T>(IOptions<EdgeOptions> options, TimeProvider time) where T : class
{
    // Bounds memory under a flood of random keys; clearing only costs a few look-ups.
    private const int MaxEntries = 100_000;

    private readonly ConcurrentDictionary<string, Entry> _entries = new(StringComparer.Ordinal);

    protected EdgeOptions Options => options.Value;

    protected TimeProvider Time => time;

    /// <summary>The credentials for <paramref name="key"/>, or null if there are none.</summary>
    public async ValueTask<T?> GetAsync(string key, CancellationToken cancellationToken)
    {
        var now = time.GetTimestamp();
        if (_entries.TryGetValue(key, out var entry) && now < entry.ExpiresAt)
        {
            return entry.Lookup.IsCompletedSuccessfully ? entry.Lookup.Result : await entry.Lookup.WaitAsync(cancellationToken);
        }

        if (_entries.Count >= MaxEntries)
        {
            _entries.Clear();
        }

        var fresh = new Entry(LookUpAsync(key), long.MaxValue);
        var current = _entries.AddOrUpdate(key, fresh, (_, existing) => existing.ExpiresAt > now ? existing : fresh);
        try
        {
            var result = await current.Lookup.WaitAsync(cancellationToken);
            var ttl = TimeSpan.FromSeconds(result is null ? options.Value.UnknownWorkspaceCacheSeconds : options.Value.CredentialCacheSeconds);
            _entries.TryUpdate(key, current with { ExpiresAt = time.GetTimestamp() + (long)(ttl.TotalSeconds * time.TimestampFrequency) }, current);
            return result;
        }
        catch
        {
            _entries.TryRemove(new KeyValuePair<string, Entry>(key, current));
            throw;
        }
    }

    /// <summary>Forgets a key (after a rotation, or in tests).</summary>
    public void Invalidate(string key) => _entries.TryRemove(key, out _);

    /// <summary>Asks ingestion; null when it says there is no such key.</summary>
    protected abstract Task<T?> LookUpAsync(string key);

    private sealed record Entry(Task<T?> Lookup, long ExpiresAt);
}
