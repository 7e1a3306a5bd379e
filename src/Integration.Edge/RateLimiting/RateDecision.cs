namespace Integration.Edge.RateLimiting;

/// <summary>
/// The answer of <see cref="IRateCounter"/> for one request.
/// </summary>
/// <param name="Allowed">Whether the request fits the workspace's budget.</param>
/// <param name="Limit">The limit the decision was made with, requests per second.</param>
/// <param name="Remaining">Requests that would still be allowed right now after this one.</param>
/// <param name="RetryAfter">When refused, how long until one request fits again; zero when allowed.</param>
/// <param name="ResetAfter">How long until the budget is full again if no request arrives.</param>
internal readonly record struct RateDecision(bool Allowed, int Limit, int Remaining, TimeSpan RetryAfter, TimeSpan ResetAfter);
