using System.Net;
using Integration.Testing;
using static Integration.Edge.Tests.Webhooks.Payloads;

namespace Integration.Edge.Tests.Webhooks;

/// <summary>When storage cannot confirm a write, the answer is 503 with Retry-After — never a 2xx.</summary>
[Collection(InboundCollection.Name)]
public sealed class UnavailabilityTests(InboundPipeline pipeline)
{
    [Fact]
    public async Task AnswersServiceUnavailableWhenIngestionIsDown()
    {
        await using var edge = pipeline.CreateEdge(ingestionAddress: $"http://127.0.0.1:{FreePort.Next()}");
        using var http = edge.CreateHttpClient();

        var response = await http.SendAsync(InboundPipeline.Webhook("user", WorkspaceId(), "any-key-123", User().ToJsonString()));

        await StatusTableTests.AssertFailAsync(response, HttpStatusCode.ServiceUnavailable, attribute: null);
        Assert.True(int.Parse(response.Headers.GetValues("Retry-After").Single()) >= 1);
    }

    [Fact]
    public async Task AnswersServiceUnavailableWhenTheRateCounterCannotReachRedis()
    {
        var ws = WorkspaceId();
        var key = await pipeline.CreateWorkspaceAsync(ws);
        await using var edge = pipeline.CreateEdge(
            new Dictionary<string, string?> { ["RateLimiting:UnavailableRetryAfter"] = "00:00:07" },
            redisConnectionString: $"127.0.0.1:{FreePort.Next()},connectTimeout=300,abortConnect=false");
        using var http = edge.CreateHttpClient();

        var response = await http.SendAsync(InboundPipeline.Webhook("user", ws, key, User().ToJsonString()));

        await StatusTableTests.AssertFailAsync(response, HttpStatusCode.ServiceUnavailable, attribute: null);
        Assert.Equal("7", response.Headers.GetValues("Retry-After").Single());
    }
}
