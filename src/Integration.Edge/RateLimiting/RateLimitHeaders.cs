using System.Globalization;
using Microsoft.Net.Http.Headers;

namespace Integration.Edge.RateLimiting;

/// <summary>Writes the rate-limit headers that every answer of the webhook endpoint carries.</summary>
internal static class RateLimitHeaders
{
    public const string Limit = "X-RateLimit-Limit";
    public const string Remaining = "X-RateLimit-Remaining";
    public const string Reset = "X-RateLimit-Reset";

    /// <summary>
    /// Sets <c>X-RateLimit-Limit</c>, <c>X-RateLimit-Remaining</c>, <c>X-RateLimit-Reset</c> (whole seconds until
    /// the budget is full again, rounded up) and, when the request was refused, <c>Retry-After</c> (whole seconds,
    /// rounded up, at least 1: a client told "0" would retry at once and be refused again).
    /// </summary>
    public static void Apply(HttpResponse response, RateDecision decision)
    {
        var headers = response.Headers;
        headers[Limit] = decision.Limit.ToString(CultureInfo.InvariantCulture);
        headers[Remaining] = Math.Max(decision.Remaining, 0).ToString(CultureInfo.InvariantCulture);
        headers[Reset] = WholeSeconds(decision.ResetAfter, minimum: 0);
        if (!decision.Allowed)
        {
            headers[HeaderNames.RetryAfter] = WholeSeconds(decision.RetryAfter, minimum: 1);
        }
    }

    /// <summary>Sets <c>Retry-After</c> on the 503 the edge sends while the rate counter is unavailable.</summary>
    public static void ApplyUnavailable(HttpResponse response, RateCounterUnavailableException exception) =>
        response.Headers[HeaderNames.RetryAfter] = WholeSeconds(exception.RetryAfter, minimum: 1);

    private static string WholeSeconds(TimeSpan value, long minimum)
    {
        var seconds = Math.Max((long)Math.Ceiling(value.TotalSeconds), minimum);
        return seconds.ToString(CultureInfo.InvariantCulture);
    }
}
