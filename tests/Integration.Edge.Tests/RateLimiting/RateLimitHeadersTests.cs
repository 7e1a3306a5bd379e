using Integration.Edge.RateLimiting;
using Microsoft.AspNetCore.Http;

namespace Integration.Edge.Tests.RateLimiting;

public sealed class RateLimitHeadersTests
{
    [Fact]
    public void AnAllowedAnswerCarriesLimitRemainingAndResetButNoRetryAfter()
    {
        var response = new DefaultHttpContext().Response;

        RateLimitHeaders.Apply(response, new RateDecision(true, 500, 499, TimeSpan.Zero, TimeSpan.FromMilliseconds(2)));

        Assert.Equal("500", response.Headers["X-RateLimit-Limit"]);
        Assert.Equal("499", response.Headers["X-RateLimit-Remaining"]);
        Assert.Equal("1", response.Headers["X-RateLimit-Reset"]);
        Assert.False(response.Headers.ContainsKey("Retry-After"));
    }

    [Fact]
    public void ARefusedAnswerCarriesRetryAfterRoundedUpToAtLeastOneSecond()
    {
        var response = new DefaultHttpContext().Response;

        RateLimitHeaders.Apply(response, new RateDecision(false, 500, 0, TimeSpan.FromMilliseconds(2), TimeSpan.FromMilliseconds(999)));

        Assert.Equal("1", response.Headers.RetryAfter);
        Assert.Equal("0", response.Headers["X-RateLimit-Remaining"]);
        Assert.Equal("1", response.Headers["X-RateLimit-Reset"]);
    }

    [Fact]
    public void RoundsARetryAfterOfMoreThanASecondUp()
    {
        var response = new DefaultHttpContext().Response;

        RateLimitHeaders.Apply(response, new RateDecision(false, 1, 0, TimeSpan.FromMilliseconds(1200), TimeSpan.FromMilliseconds(2100)));

        Assert.Equal("2", response.Headers.RetryAfter);
        Assert.Equal("3", response.Headers["X-RateLimit-Reset"]);
    }

    [Fact]
    public void ResetIsZeroWhenTheBudgetIsAlreadyFull()
    {
        var response = new DefaultHttpContext().Response;

        RateLimitHeaders.Apply(response, new RateDecision(true, 10, 10, TimeSpan.Zero, TimeSpan.Zero));

        Assert.Equal("0", response.Headers["X-RateLimit-Reset"]);
    }

    [Fact]
    public void AnUnavailableAnswerCarriesTheCountersRetryAfter()
    {
        var response = new DefaultHttpContext().Response;

        RateLimitHeaders.ApplyUnavailable(response, new RateCounterUnavailableException("down", null) { RetryAfter = TimeSpan.FromSeconds(5) });

        Assert.Equal("5", response.Headers.RetryAfter);
    }
}
