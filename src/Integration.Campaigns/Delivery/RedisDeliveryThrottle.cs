using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.Options;
using StackExchange.Redis;

namespace Integration.Campaigns.Delivery;

/// <summary>Per-destination budgets shared by every runner replica.</summary>
internal interface IDeliveryThrottle
{
    /// <summary>Takes one request's worth of every budget the target falls under; returns zero when allowed, else how long to wait.</summary>
    Task<TimeSpan> AcquireAsync(DeliveryTarget target);
}

/// <summary>
/// A sliding log per budget (not GCRA): Heap counts "30 requests in 30 s", and only an exact sliding
/// window guarantees that no 30-second window, however the destination aligns it, ever sees a 31st.
/// The log holds one member per admitted request (member suffix = its cost, so bulk requests count
/// their events); Redis's clock decides, so replicas agree.
/// </summary>
internal sealed class RedisDeliveryThrottle(IConnectionMultiplexer redis, IOptions<DeliveryEngineOptions> options) : IDeliveryThrottle
{
    private const string KeyPrefix = "thr:";

    private const string SlidingLogScript = """
        local t = redis.call('TIME')
        local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
        local limit = tonumber(ARGV[1])
        local window = tonumber(ARGV[2])
        local cost = tonumber(ARGV[3])
        local function cost_of(m) return tonumber(string.match(m, ':(%d+)$')) or 1 end
        redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
        -- Recounted from the log each time (it holds at most one window of requests): no total to drift.
        local total = 0
        local entries = redis.call('ZRANGE', KEYS[1], 0, -1, 'WITHSCORES')
        for i = 1, #entries, 2 do total = total + cost_of(entries[i]) end
        if total + cost <= limit or total == 0 then
          redis.call('ZADD', KEYS[1], now, ARGV[4] .. ':' .. cost)
          redis.call('PEXPIRE', KEYS[1], window)
          return 0
        end
        local freed = 0
        for i = 1, #entries, 2 do
          freed = freed + cost_of(entries[i])
          if total - freed + cost <= limit then
            return tonumber(entries[i + 1]) + window - now + 1
          end
        end
        return window
        """;

    public async Task<TimeSpan> AcquireAsync(DeliveryTarget target)
    {
        var throttle = options.Value.Throttle;
        if (!throttle.Enabled)
        {
            return TimeSpan.Zero;
        }
        foreach (var (key, limit, window, cost) in BudgetsOf(target, throttle))
        {
            var windowMs = (long)(window + throttle.SafetyMargin).TotalMilliseconds;
            var wait = (long)await redis.GetDatabase().ScriptEvaluateAsync(SlidingLogScript,
                [key], [limit, windowMs, cost, Guid.NewGuid().ToString("N")]);
            if (wait > 0)
            {
                return TimeSpan.FromMilliseconds(wait);
            }
        }
        return TimeSpan.Zero;
    }

    internal static IEnumerable<(string Key, int Limit, TimeSpan Window, int Cost)> BudgetsOf(DeliveryTarget target, ThrottleOptions throttle)
    {
        if (target is { IsHeap: true, HeapAppId: { } app })
        {
            var appTag = KeyPrefix + "{heap:" + Hash(app);
            if (target.IsHeapBulk)
            {
                yield return (appTag + "}:bulk", throttle.HeapBulkAppEventLimit, throttle.HeapBulkWindow, target.HeapEventCount);
                if (target.HeapIdentity is { } bulkIdentity)
                {
                    yield return (appTag + ":" + Hash(bulkIdentity) + "}:bulk", throttle.HeapBulkIdentityEventLimit,
                        throttle.HeapBulkWindow, target.HeapEventCount);
                }
            }
            else if (target.HeapIdentity is { } identity)
            {
                yield return (appTag + ":" + Hash(identity) + "}", throttle.HeapIdentityLimit, throttle.HeapIdentityWindow, 1);
            }
        }

        var configured = throttle.Destinations.FirstOrDefault(d =>
            Uri.TryCreate(d.Destination, UriKind.Absolute, out _) && DeliveryTarget.DestinationOf(d.Destination) == target.Destination);
        var (destinationLimit, destinationWindow) = configured is null
            ? (throttle.DefaultDestinationLimit, throttle.DefaultDestinationWindow)
            : (configured.Limit, configured.Window);
        if (destinationLimit > 0)
        {
            yield return (KeyPrefix + "{" + target.Destination + "}", destinationLimit, destinationWindow, 1);
        }
    }

    // Identities and app ids are customer data: hashed, they stay out of key names and cannot break the hash tag.
    private static string Hash(string value) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(value)).AsSpan(0, 8));
}
