namespace Integration.Edge.RateLimiting;

/// <summary>
/// Redis could not answer the rate counter (down, loading, timed out). The request is neither allowed nor
/// refused: the edge answers 503 with <see cref="RetryAfter"/>.
/// </summary>
internal sealed class RateCounterUnavailableException(string message, Exception? inner) : Exception(message, inner)
{
    /// <summary>How long the client should wait before trying again.</summary>
    public TimeSpan RetryAfter { get; init; } = TimeSpan.FromSeconds(1);
}
