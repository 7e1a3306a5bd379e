namespace Integration.Edge.RateLimiting;

/// <summary>
/// Counts a workspace's requests against its per-second limit, in one budget shared by every edge replica.
/// The edge calls it after authenticating a request and before parsing it, so malformed requests count.
/// </summary>
internal interface IRateCounter
{
    /// <summary>
    /// Takes one request from the workspace's budget, or refuses it (and then stores nothing). One Redis round trip.
    /// A changed <paramref name="limitPerSecond"/> applies from this very call on; a limit of 0 or less means the
    /// configured default (<c>RateLimiting:DefaultRequestsPerSecond</c>), and the decision reports the limit applied.
    /// </summary>
    /// <exception cref="RateCounterUnavailableException">Redis cannot answer; the edge answers 503 with Retry-After.</exception>
    ValueTask<RateDecision> TryAcquireAsync(string workspaceId, int limitPerSecond, CancellationToken cancellationToken);
}
