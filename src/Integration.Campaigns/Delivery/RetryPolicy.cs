namespace Integration.Campaigns.Delivery;

/// <summary>What happened to one attempt, as far as the retry decision is concerned.</summary>
internal enum AttemptKind
{
    Succeeded,
    Retryable,
    Permanent,
}

/// <summary>The engine's decision after an attempt.</summary>
internal sealed record RetryDecision(string Outcome, DateTimeOffset? NextAttemptAt)
{
    public const string Succeeded = "succeeded";
    public const string Retry = "retry";
    public const string PermanentFailure = "permanent_failure";
    public const string AttemptsExhausted = "attempts_exhausted";
    public const string Expired = "expired";

    public bool IsDeadLetter => Outcome is PermanentFailure or AttemptsExhausted or Expired;
}

/// <summary>
/// Exponential backoff with full jitter (AWS's "full jitter": a uniform delay between zero and
/// base·2^(n−1), capped), with the destination's Retry-After as a floor. 2xx succeed; 408, 429, 5xx, timeouts
/// and connection failures are retried; every other status is permanent.
/// </summary>
internal static class RetryPolicy
{
    public static AttemptKind Classify(int? statusCode) => statusCode switch
    {
        null => AttemptKind.Retryable,
        >= 200 and < 300 => AttemptKind.Succeeded,
        408 or 429 or >= 500 => AttemptKind.Retryable,
        _ => AttemptKind.Permanent,
    };

    /// <summary>The delay before retry number <paramref name="attempt"/> (1: after the first attempt).</summary>
    public static TimeSpan Backoff(int attempt, TimeSpan baseDelay, TimeSpan cap, double random01)
    {
        var exponent = Math.Min(Math.Max(attempt - 1, 0), 30);
        var ceiling = Math.Min(cap.TotalMilliseconds, baseDelay.TotalMilliseconds * Math.Pow(2, exponent));
        return TimeSpan.FromMilliseconds(ceiling * random01);
    }

    /// <summary>Reads Retry-After (delta seconds or HTTP-date) relative to <paramref name="now"/>; null when absent or in the past.</summary>
    public static TimeSpan? RetryAfter(System.Net.Http.Headers.RetryConditionHeaderValue? header, DateTimeOffset now)
    {
        if (header is null)
        {
            return null;
        }
        if (header.Delta is { } delta)
        {
            return delta > TimeSpan.Zero ? delta : null;
        }
        if (header.Date is { } date)
        {
            var wait = date - now;
            return wait > TimeSpan.Zero ? wait : null;
        }
        return null;
    }

    public static RetryDecision Decide(
        int? statusCode, int attemptNumber, DeliveryOptions options, DateTimeOffset since, DateTimeOffset now,
        TimeSpan? retryAfter, TimeSpan baseDelay, TimeSpan cap, double random01)
    {
        switch (Classify(statusCode))
        {
            case AttemptKind.Succeeded:
                return new RetryDecision(RetryDecision.Succeeded, null);
            case AttemptKind.Permanent:
                return new RetryDecision(RetryDecision.PermanentFailure, null);
        }
        if (attemptNumber >= options.MaxAttempts)
        {
            return new RetryDecision(RetryDecision.AttemptsExhausted, null);
        }
        var delay = Backoff(attemptNumber, baseDelay, cap, random01);
        if (retryAfter is { } floor && floor > delay)
        {
            delay = floor;
        }
        var next = now + delay;
        return next > since + options.MaxAge
            ? new RetryDecision(RetryDecision.Expired, null)
            : new RetryDecision(RetryDecision.Retry, next);
    }
}
