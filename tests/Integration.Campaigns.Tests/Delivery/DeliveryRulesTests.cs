using System.Net.Http.Headers;
using System.Text.Json.Nodes;
using Integration.Campaigns.Delivery;
using Integration.Campaigns.Safety;

namespace Integration.Campaigns.Tests.Delivery;

public sealed class DeliveryRulesTests
{
    private static readonly DateTimeOffset Now = new(2025, 3, 1, 12, 0, 0, TimeSpan.Zero);
    private static readonly TimeSpan Base = TimeSpan.FromSeconds(1);
    private static readonly TimeSpan Cap = TimeSpan.FromMinutes(5);

    [Theory]
    [InlineData(200, "succeeded")]
    [InlineData(204, "succeeded")]
    [InlineData(408, "retryable")]
    [InlineData(429, "retryable")]
    [InlineData(500, "retryable")]
    [InlineData(503, "retryable")]
    [InlineData(null, "retryable")]
    [InlineData(301, "permanent")]
    [InlineData(400, "permanent")]
    [InlineData(401, "permanent")]
    [InlineData(404, "permanent")]
    [InlineData(413, "permanent")]
    public void ClassifiesStatusCodes(int? status, string expected) =>
        Assert.Equal(expected, RetryPolicy.Classify(status).ToString().ToLowerInvariant());

    [Fact]
    public void BackoffIsFullJitterUnderADoublingCeilingThatIsCapped()
    {
        Assert.Equal(TimeSpan.Zero, RetryPolicy.Backoff(3, Base, Cap, 0));
        Assert.Equal(TimeSpan.FromSeconds(1), RetryPolicy.Backoff(1, Base, Cap, 1));
        Assert.Equal(TimeSpan.FromSeconds(4), RetryPolicy.Backoff(3, Base, Cap, 1));
        Assert.Equal(TimeSpan.FromSeconds(2), RetryPolicy.Backoff(3, Base, Cap, 0.5));
        Assert.Equal(Cap, RetryPolicy.Backoff(40, Base, Cap, 1));
    }

    [Fact]
    public void RetryAfterIsAFloorForTheNextAttempt()
    {
        var decision = RetryPolicy.Decide(429, 1, new DeliveryOptions(), Now, Now, TimeSpan.FromSeconds(30), Base, Cap, 1);

        Assert.Equal(RetryDecision.Retry, decision.Outcome);
        Assert.Equal(Now.AddSeconds(30), decision.NextAttemptAt);
    }

    [Fact]
    public void ReadsRetryAfterAsSecondsOrAsAnHttpDate()
    {
        Assert.Equal(TimeSpan.FromSeconds(7), RetryPolicy.RetryAfter(new RetryConditionHeaderValue(TimeSpan.FromSeconds(7)), Now));
        Assert.Equal(TimeSpan.FromSeconds(90), RetryPolicy.RetryAfter(RetryConditionHeaderValue.Parse(Now.AddSeconds(90).ToString("R")), Now));
        Assert.Null(RetryPolicy.RetryAfter(RetryConditionHeaderValue.Parse(Now.AddSeconds(-5).ToString("R")), Now));
        Assert.Null(RetryPolicy.RetryAfter(null, Now));
    }

    [Fact]
    public void DeadLettersPermanentFailuresExhaustionAndAge()
    {
        var options = new DeliveryOptions { MaxAttempts = 3, MaxAge = TimeSpan.FromMinutes(10) };

        Assert.Equal(RetryDecision.PermanentFailure, RetryPolicy.Decide(400, 1, options, Now, Now, null, Base, Cap, 0.5).Outcome);
        Assert.Equal(RetryDecision.AttemptsExhausted, RetryPolicy.Decide(503, 3, options, Now, Now, null, Base, Cap, 0.5).Outcome);
        Assert.Equal(RetryDecision.Expired,
            RetryPolicy.Decide(429, 1, options, Now, Now, TimeSpan.FromMinutes(11), Base, Cap, 0.5).Outcome);
        Assert.Equal(RetryDecision.Succeeded, RetryPolicy.Decide(200, 3, options, Now, Now, null, Base, Cap, 0.5).Outcome);
    }

    [Fact]
    public void PutsTheDeliveryIdIntoHeapsBodyAsIdempotencyKey()
    {
        var target = DeliveryTarget.For(Request("https://heapanalytics.com/api/track",
            """{"app_id":"a1","identity":"u@x.io","event":"Sent"}"""));

        Assert.True(target.IsHeap);
        Assert.Equal("a1", target.HeapAppId);
        Assert.Equal("u@x.io", target.HeapIdentity);
        Assert.Equal("https://heapanalytics.com:443", target.Destination);
        Assert.Equal("d1", JsonNode.Parse(target.Body!)!["idempotency_key"]!.ToString());
    }

    [Fact]
    public void KeepsAnIdempotencyKeyTheCampaignSetAndKeysEveryBulkEvent()
    {
        var own = DeliveryTarget.For(Request("https://heapanalytics.com/api/track",
            """{"app_id":"a1","identity":"u","event":"Sent","idempotency_key":"mine"}"""));
        var bulk = DeliveryTarget.For(Request("https://heapanalytics.com/api/track",
            """{"app_id":"a1","events":[{"identity":"u","event":"A"},{"identity":"v","event":"B"}]}"""));

        Assert.Equal("mine", JsonNode.Parse(own.Body!)!["idempotency_key"]!.ToString());
        Assert.True(bulk.IsHeapBulk);
        Assert.Equal(2, bulk.HeapEventCount);
        Assert.Equal(["d1-0", "d1-1"], JsonNode.Parse(bulk.Body!)!["events"]!.AsArray().Select(e => e!["idempotency_key"]!.ToString()));
    }

    [Fact]
    public void LeavesOtherDestinationsBodiesAlone()
    {
        var body = """{"app_id":"a1","identity":"u"}""";
        var target = DeliveryTarget.For(Request("https://hooks.example.com/api/other", body));

        Assert.False(target.IsHeap);
        Assert.Equal(body, target.Body);
    }

    [Fact]
    public void HeapBudgetsArePerIdentityAndAppForSingleEventsAndPerAppForBulk()
    {
        var throttle = new ThrottleOptions();
        var single = RedisDeliveryThrottle.BudgetsOf(DeliveryTarget.For(Request("https://heapanalytics.com/api/track",
            """{"app_id":"a1","identity":"someone@example.com","event":"Sent"}""")), throttle).ToList();
        var other = RedisDeliveryThrottle.BudgetsOf(DeliveryTarget.For(Request("https://heapanalytics.com/api/track",
            """{"app_id":"a1","identity":"v","event":"Sent"}""")), throttle).ToList();
        var bulk = RedisDeliveryThrottle.BudgetsOf(DeliveryTarget.For(Request("https://heapanalytics.com/api/track",
            """{"app_id":"a1","events":[{"identity":"u","event":"A"},{"identity":"v","event":"B"}]}""")), throttle).ToList();

        var budget = Assert.Single(single);
        Assert.Equal((30, TimeSpan.FromSeconds(30), 1), (budget.Limit, budget.Window, budget.Cost));
        Assert.NotEqual(budget.Key, Assert.Single(other).Key);
        Assert.DoesNotContain("someone@example.com", budget.Key);
        var app = Assert.Single(bulk);
        Assert.Equal((15_000, 2), (app.Limit, app.Cost));
    }

    [Fact]
    public void RedactsCredentialsInHeadersUrlsAndBodies()
    {
        var headers = Redaction.Headers(new Dictionary<string, string>
        {
            ["Authorization"] = "Basic abc", ["X-Api-Key"] = "k", ["X-Auth-Token"] = "t", ["Client-Secret"] = "s",
            ["Idempotency-Key"] = "d1", ["Accept"] = "application/json",
        });
        Assert.Equal(["***", "***", "***", "***", "d1", "application/json"], headers.Values);
        Assert.Equal("https://***@api.example.com/x?token=***&page=2",
            Redaction.Url("https://user:pw@api.example.com/x?token=abc&page=2"));
        Assert.Equal("""{"user":{"password":"***","name":"n"},"idempotency_key":"d1"}""",
            Redaction.Body("""{"user":{"password":"pw","name":"n"},"idempotency_key":"d1"}""", "application/json"));
        Assert.Equal("a=1&api_key=***", Redaction.Body("a=1&api_key=xyz", "application/x-www-form-urlencoded"));
    }

    [Fact]
    public void TheSameCampaignStepUserAndTriggerAlwaysGiveTheSameDeliveryId()
    {
        Assert.Equal(DeliveryIds.For("c", 0, "u", "t"), DeliveryIds.For("c", 0, "u", "t"));
        Assert.NotEqual(DeliveryIds.For("c", 0, "u", "t"), DeliveryIds.For("c", 1, "u", "t"));
        Assert.NotEqual(DeliveryIds.For("c", 0, "u", "t"), DeliveryIds.For("c", 0, "u", "t2"));
    }

    private static DeliveryRequest Request(string url, string body) =>
        new("d1", "ws", "c", 0, "u", "t", "POST", url, new Dictionary<string, string>(), body, "application/json", null,
            new DeliveryOptions(), null);
}
