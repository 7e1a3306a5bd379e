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
    /// How long one counter call may take before the edge gives up and answers 503. Short, because every
    /// webhook waits for it; a healthy Redis answers in well under a millisecond.
    /// </summary>
    [Range(typeof(TimeSpan), "00:00:00.001", "00:00:10")]
    public TimeSpan Timeout { get; set; } = TimeSpan.FromMilliseconds(500);

    /// <summary>The Retry-After sent with a 503 while Redis cannot answer.</summary>
    [Range(typeof(TimeSpan), "00:00:01", "00:10:00")]
    public TimeSpan UnavailableRetryAfter { get; set; } = TimeSpan.FromSeconds(1);
}
