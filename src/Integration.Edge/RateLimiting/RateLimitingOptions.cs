using System.ComponentModel.DataAnnotations;

namespace Integration.Edge.RateLimiting;

/// <summary>Settings of the per-workspace rate limiter (section <c>RateLimiting</c>).</summary>
internal sealed class RateLimitingOptions
{
    public const string SectionName = "RateLimiting";

    /// <summary>Requests per second for a workspace that has no limit of its own (MoEngage's default is 500).</summary>
    [Range(RedisRateCounter.MinLimit, RedisRateCounter.MaxLimit)]
    public int DefaultRequestsPerSecond { get; set; } = 500;

    /// <summary>
    /// How long one counter call may take before the edge gives up and answers 503 (for each request on its own,
    /// queueing for a batch included). Far shorter than the Redis client's own 5 s, because every webhook waits
    /// for it; long enough that a freshly started, still cold edge on a busy machine does not turn its first
    /// calls into 503s (a healthy Redis answers in well under 1 ms).
    /// </summary>
    [Range(typeof(TimeSpan), "00:00:00.001", "00:00:10")]
    public TimeSpan Timeout { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>The Retry-After sent with a 503 while Redis cannot answer.</summary>
    [Range(typeof(TimeSpan), "00:00:01", "00:10:00")]
    public TimeSpan UnavailableRetryAfter { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>
    /// The most requests one script call counts. Concurrent requests are coalesced into one call (a request
    /// arriving while the counter is idle goes out at once, alone); the script holds Redis for a few µs per request.
    /// </summary>
    [Range(1, 4096)]
    public int MaxBatchSize { get; set; } = 256;

    /// <summary>
    /// Script calls (batches) in flight at once per edge replica; requests arriving meanwhile queue and go out together.
    /// </summary>
    [Range(1, 64)]
    public int Concurrency { get; set; } = 2;
}
