using Integration.Domain;
using Integration.Testing;
using System.Diagnostics;
using System.Net;
using Integration.Ingestion.V1;
using static Integration.Edge.Tests.Webhooks.Payloads;

namespace Integration.Edge.Tests.Cluster;

/// <summary>Webhooks through the edge into ingestion, stored on a three-master Redis Cluster and read back.</summary>
[Collection(ClusterInboundCollection.Name)]
public sealed class InboundOnClusterTests(ClusterInboundPipeline pipeline)
{
    private readonly HttpClient _http = pipeline.Edge.CreateHttpClient();

    private static DateTime Deadline() => DateTime.UtcNow.AddSeconds(60);

    [Fact]
    public async Task WebhooksOfManyWorkspacesAreStoredOnEveryMasterAndReadBack()
    {
        // Four workspaces whose slots belong to each master (ids are random, so the slots are picked, not assumed).
        var workspaces = Enumerable.Range(0, 1000).Select(_ => WorkspaceId())
            .GroupBy(ws => pipeline.PortOf($"ws:{{{ws}}}"))
            .SelectMany(g => g.Take(4)).ToList();
        Assert.Equal(12, workspaces.Count);
        foreach (var ws in workspaces)
        {
            var key = await pipeline.CreateWorkspaceAsync(ws);
            var user = await _http.SendAsync(InboundPipeline.Webhook("user", ws, key, User().ToJsonString()));
            var first = await _http.SendAsync(InboundPipeline.Webhook("events", ws, key, Event("Signed Up").ToJsonString()));
            var second = await _http.SendAsync(InboundPipeline.Webhook("events", ws, key, Event("Checkout Started").ToJsonString()));
            Assert.Equal([HttpStatusCode.OK, HttpStatusCode.OK, HttpStatusCode.OK], new[] { user.StatusCode, first.StatusCode, second.StatusCode });
        }

        foreach (var ws in workspaces)
        {
            var user = await pipeline.IngestionApi.GetUserAsync(new GetUserRequest { WorkspaceId = ws, CustomerId = "alice@example.com" }, deadline: Deadline());
            var events = await pipeline.IngestionApi.ListUserEventsAsync(
                new ListUserEventsRequest { WorkspaceId = ws, CustomerId = "alice@example.com", Limit = 100 }, deadline: Deadline());
            Assert.Equal("trial", user.Attributes["plan"].StringValue);
            Assert.Equal(["Checkout Started", "Signed Up"], events.Events.Select(e => e.EventName).Order().ToArray());
            Assert.Equal(2, await EventStreams.LengthAsync(pipeline.Redis.GetDatabase(), ws));
        }
        // A user's events go to the stream partition of the user's slot, the workspace's record stays in the
        // workspace's slot (with its rate counter). Asked of each master directly, not of the client's slot map.
        foreach (var ws in workspaces)
        {
            var partition = EventStream.Key(ws, EventStream.PartitionOf("alice@example.com"));
            Assert.Equal("1", (await pipeline.Cluster.CommandAsync(pipeline.PortOf(partition), "EXISTS", partition)).Trim());
            var port = pipeline.PortOf($"ws:{{{ws}}}");
            Assert.Equal("1", (await pipeline.Cluster.CommandAsync(port, "EXISTS", $"ws:{{{ws}}}")).Trim());
            // The rate counter expires within milliseconds; its slot is the workspace's all the same.
            Assert.Equal(await pipeline.Cluster.CommandAsync(port, "CLUSTER", "KEYSLOT", $"ws:{{{ws}}}"),
                await pipeline.Cluster.CommandAsync(port, "CLUSTER", "KEYSLOT", $"rl:{{{ws}}}"));
        }
        foreach (var port in pipeline.Cluster.Ports)
        {
            Assert.True(int.Parse((await pipeline.Cluster.CommandAsync(port, "DBSIZE")).Trim()) > 0, $"the master on {port} holds keys");
        }
    }

    [Fact]
    public async Task ARepeatedPayloadIsAcknowledgedButStoredOnce()
    {
        var ws = WorkspaceId();
        var key = await pipeline.CreateWorkspaceAsync(ws);
        var body = Event("Checkout Started").ToJsonString();

        var first = await _http.SendAsync(InboundPipeline.Webhook("events", ws, key, body));
        var repeat = await _http.SendAsync(InboundPipeline.Webhook("events", ws, key, body));
        var events = await pipeline.IngestionApi.ListUserEventsAsync(
            new ListUserEventsRequest { WorkspaceId = ws, CustomerId = "alice@example.com", Limit = 100 }, deadline: Deadline());

        Assert.Equal(HttpStatusCode.OK, first.StatusCode);
        Assert.Equal(HttpStatusCode.OK, repeat.StatusCode);
        Assert.Single(events.Events);
        Assert.Equal(1, await EventStreams.LengthAsync(pipeline.Redis.GetDatabase(), ws));
    }

    [Fact]
    public async Task TheRateLimiterRefusesBeyondTheWorkspacesLimitWithRetryAfter()
    {
        var ws = WorkspaceId();
        var key = await pipeline.CreateWorkspaceAsync(ws, rateLimit: 5);
        // Warm the edge's credential cache, so the timed loop below measures only webhooks.
        await _http.SendAsync(InboundPipeline.Webhook("user", ws, key, User().ToJsonString()));
        await Task.Delay(TimeSpan.FromSeconds(1.1));

        // All at once: one after another, 25 round trips on a loaded machine can take the 4 s in which 5/s refills 20.
        var clock = Stopwatch.StartNew();
        var statuses = await Task.WhenAll(Enumerable.Range(0, 25)
            .Select(_ => _http.SendAsync(InboundPipeline.Webhook("user", ws, key, User().ToJsonString()))));
        var refill = (int)Math.Ceiling(clock.Elapsed.TotalSeconds * 5);

        var admitted = statuses.Count(r => r.StatusCode == HttpStatusCode.OK);
        Assert.InRange(admitted, 5, 5 + refill);
        var refused = statuses.First(r => r.StatusCode == HttpStatusCode.TooManyRequests);
        Assert.True(refused.Headers.RetryAfter is not null, "a 429 carries Retry-After");
        Assert.Equal("5", refused.Headers.GetValues("X-RateLimit-Limit").Single());
        Assert.Equal(25, statuses.Count(r => r.StatusCode is HttpStatusCode.OK or HttpStatusCode.TooManyRequests));
    }
}
