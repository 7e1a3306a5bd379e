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

    // throttle.lua: one budget's sliding log; a unit-cost budget is counted (ZCARD), not summed over its members.
    private static readonly string SlidingLogScript = EmbeddedScripts.Read(typeof(RedisDeliveryThrottle), "Delivery.throttle.lua");

    public async Task<TimeSpan> AcquireAsync(DeliveryTarget target)
    {
        var throttle = options.Value.Throttle;
        if (!throttle.Enabled)
        {
            return TimeSpan.Zero;
        }
        foreach (var (key, limit, window, cost, unit) in BudgetsOf(target, throttle))
        {
            var windowMs = (long)(window + throttle.SafetyMargin).TotalMilliseconds;
            var wait = (long)await redis.GetDatabase().ScriptEvaluateAsync(SlidingLogScript,
                [key], [limit, windowMs, cost, Guid.NewGuid().ToString("N"), unit ? 1 : 0]);
            if (wait > 0)
            {
                return TimeSpan.FromMilliseconds(wait);
            }
        }
        return TimeSpan.Zero;
    }

    /// <summary>The budgets a request falls under; <c>Unit</c>: every request of that budget costs 1 (its log is counted, not summed).</summary>
    internal static IEnumerable<(string Key, int Limit, TimeSpan Window, int Cost, bool Unit)> BudgetsOf(DeliveryTarget target, ThrottleOptions throttle)
    {
        if (target is { IsHeap: true, HeapAppId: { } app })
        {
            var appTag = KeyPrefix + "{heap:" + Hash(app);
            if (target.IsHeapBulk)
            {
                yield return (appTag + "}:bulk", throttle.HeapBulkAppEventLimit, throttle.HeapBulkWindow, target.HeapEventCount, false);
                if (target.HeapIdentity is { } bulkIdentity)
                {
                    yield return (appTag + ":" + Hash(bulkIdentity) + "}:bulk", throttle.HeapBulkIdentityEventLimit,
                        throttle.HeapBulkWindow, target.HeapEventCount, false);
                }
            }
            else if (target.HeapIdentity is { } identity)
            {
                yield return (appTag + ":" + Hash(identity) + "}", throttle.HeapIdentityLimit, throttle.HeapIdentityWindow, 1, true);
            }
        }

        var configured = throttle.Destinations.FirstOrDefault(d =>
            Uri.TryCreate(d.Destination, UriKind.Absolute, out _) && DeliveryTarget.DestinationOf(d.Destination) == target.Destination);
        var (destinationLimit, destinationWindow) = configured is null
            ? (throttle.DefaultDestinationLimit, throttle.DefaultDestinationWindow)
            : (configured.Limit, configured.Window);
        if (destinationLimit > 0)
        {
            yield return (KeyPrefix + "{" + target.Destination + "}", destinationLimit, destinationWindow, 1, true);
        }
    }

    // Identities and app ids are customer data: hashed, they stay out of key names and cannot break the hash tag.
    private static string Hash(string value) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(value)).AsSpan(0, 8));
}
