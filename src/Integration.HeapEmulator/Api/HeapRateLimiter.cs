using Microsoft.Extensions.Options;

namespace Integration.HeapEmulator.Api;

/// <summary>
/// Heap's documented limits as sliding windows over <see cref="TimeProvider"/>: single requests per identity
/// per app (30 per 30 s), and for bulk requests events per identity (1000/min) and per app (15,000/min).
/// Each endpoint has its own windows. A refused request uses no budget.
/// </summary>
internal sealed class HeapRateLimiter(TimeProvider time, IOptions<HeapEmulatorOptions> options)
{
    private static readonly TimeSpan BulkWindow = TimeSpan.FromMinutes(1);
    private const int SweepEvery = 4_096;

    private readonly Lock _lock = new();
    private readonly Dictionary<string, SlidingWindow> _windows = new(StringComparer.Ordinal);
    private int _sinceSweep;

    public RateDecision TryAcquire(string endpoint, HeapBatch batch)
    {
        var settings = options.Value;
        if (!settings.EnforceLimits)
        {
            return RateDecision.Allowed;
        }
        var now = time.GetUtcNow();
        lock (_lock)
        {
            SweepIfDue(now);
            if (!batch.Bulk)
            {
                var identity = batch.IdentityKeys.Single();
                var window = Window($"{endpoint}\n{batch.AppId}\n{identity}", TimeSpan.FromSeconds(settings.RequestWindowSeconds));
                if (window.WaitFor(now, 1, settings.RequestsPerIdentity) is { } wait)
                {
                    return RateDecision.Limited(wait,
                        $"Rate limit exceeded: {settings.RequestsPerIdentity} requests per {settings.RequestWindowSeconds} s " +
                        $"for identity '{identity}' of app_id '{batch.AppId}'.");
                }
                window.Add(now, 1);
                return RateDecision.Allowed;
            }

            var perIdentity = batch.IdentityKeys.CountBy(key => key, StringComparer.Ordinal).ToList();
            var total = perIdentity.Sum(pair => pair.Value);
            var appWindow = Window($"{endpoint}\n{batch.AppId}", BulkWindow);
            if (appWindow.WaitFor(now, total, settings.BulkEventsPerAppPerMinute) is { } appWait)
            {
                return RateDecision.Limited(appWait,
                    $"Rate limit exceeded: {settings.BulkEventsPerAppPerMinute} bulk items per minute for app_id '{batch.AppId}'.");
            }
            var windows = new List<(SlidingWindow Window, int Count)>(perIdentity.Count);
            foreach (var (identity, count) in perIdentity)
            {
                var window = Window($"{endpoint}\n{batch.AppId}\n{identity}\nbulk", BulkWindow);
                if (window.WaitFor(now, count, settings.BulkEventsPerIdentityPerMinute) is { } wait)
                {
                    return RateDecision.Limited(wait,
                        $"Rate limit exceeded: {settings.BulkEventsPerIdentityPerMinute} bulk items per minute " +
                        $"for identity '{identity}' of app_id '{batch.AppId}'.");
                }
                windows.Add((window, count));
            }
            appWindow.Add(now, total);
            foreach (var (window, count) in windows)
            {
                window.Add(now, count);
            }
            return RateDecision.Allowed;
        }
    }

    public void Reset()
    {
        lock (_lock)
        {
            _windows.Clear();
        }
    }

    private SlidingWindow Window(string key, TimeSpan length)
    {
        if (!_windows.TryGetValue(key, out var window))
        {
            window = new SlidingWindow(length);
            _windows[key] = window;
        }
        return window;
    }

    // Identities come and go; windows that have emptied are dropped so memory stays bounded by recent traffic.
    private void SweepIfDue(DateTimeOffset now)
    {
        if (++_sinceSweep < SweepEvery)
        {
            return;
        }
        _sinceSweep = 0;
        foreach (var (key, window) in _windows)
        {
            if (window.IsEmpty(now))
            {
                _windows.Remove(key);
            }
        }
    }

    private sealed class SlidingWindow(TimeSpan length)
    {
        private readonly Queue<(DateTimeOffset At, int Count)> _entries = new();
        private long _total;

        public bool IsEmpty(DateTimeOffset now)
        {
            Trim(now);
            return _entries.Count == 0;
        }

        /// <summary>How long until <paramref name="count"/> more fit under <paramref name="limit"/>, or null if they fit now.</summary>
        public TimeSpan? WaitFor(DateTimeOffset now, int count, int limit)
        {
            Trim(now);
            if (_total + count <= limit)
            {
                return null;
            }
            var remaining = _total;
            foreach (var (at, entryCount) in _entries)
            {
                remaining -= entryCount;
                if (remaining + count <= limit)
                {
                    return at + length - now;
                }
            }
            return length;
        }

        public void Add(DateTimeOffset now, int count)
        {
            _entries.Enqueue((now, count));
            _total += count;
        }

        private void Trim(DateTimeOffset now)
        {
            while (_entries.TryPeek(out var oldest) && oldest.At + length <= now)
            {
                _entries.Dequeue();
                _total -= oldest.Count;
            }
        }
    }
}

internal readonly record struct RateDecision(bool IsAllowed, TimeSpan RetryAfter, string? Reason)
{
    public static readonly RateDecision Allowed = new(true, TimeSpan.Zero, null);

    public static RateDecision Limited(TimeSpan retryAfter, string reason) => new(false, retryAfter, reason);

    /// <summary>Retry-After in whole seconds, rounded up so a client that waits it is never refused again for the same window.</summary>
    public int RetryAfterSeconds => Math.Max(1, (int)Math.Ceiling(RetryAfter.TotalSeconds));
}
