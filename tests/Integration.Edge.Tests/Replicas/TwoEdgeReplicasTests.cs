using System.Diagnostics;
using System.Net;
using static Integration.Edge.Tests.Webhooks.Payloads;

namespace Integration.Edge.Tests.Replicas;

/// <summary>Two edge replicas in front of one ingestion and one Redis, as the AppHost runs them with Replicas:Edge=2.</summary>
[Collection(InboundCollection.Name)]
public sealed class TwoEdgeReplicasTests(InboundPipeline pipeline)
{
    [Fact]
    public async Task TwoReplicasShareOneRateBudgetAndItOutlivesAStoppedReplica()
    {
        const int limit = 20;
        var ws = WorkspaceId();
        var key = await pipeline.CreateWorkspaceAsync(ws, rateLimit: limit);
        var replicaA = pipeline.CreateEdge();
        var replicaB = pipeline.CreateEdge();
        using var httpA = replicaA.CreateHttpClient();
        using var httpB = replicaB.CreateHttpClient();
        try
        {
            // Warm both replicas' credential caches, then let the budget fill up again (burst: one second's worth).
            Assert.Equal(HttpStatusCode.OK, (await httpA.SendAsync(InboundPipeline.Webhook("user", ws, key, User().ToJsonString()))).StatusCode);
            Assert.Equal(HttpStatusCode.OK, (await httpB.SendAsync(InboundPipeline.Webhook("user", ws, key, User().ToJsonString()))).StatusCode);
            await Task.Delay(TimeSpan.FromSeconds(1.2));

            // Four senders per replica for 1.5 s, as a load balancer spreads Heap's webhooks over the replicas (four, not
            // one: on a loaded machine a single sender's round trips alone may not offer more than the limit).
            var clock = Stopwatch.StartNew();
            var window = TimeSpan.FromSeconds(1.5);
            async Task<(int Ok, int Refused)> SendAsync(HttpClient http)
            {
                int ok = 0, refused = 0;
                while (clock.Elapsed < window)
                {
                    var response = await http.SendAsync(InboundPipeline.Webhook("user", ws, key, User().ToJsonString()));
                    Assert.True(response.StatusCode is HttpStatusCode.OK or HttpStatusCode.TooManyRequests, $"unexpected {response.StatusCode}");
                    if (response.StatusCode == HttpStatusCode.OK)
                    {
                        ok++;
                    }
                    else
                    {
                        refused++;
                    }
                }
                return (ok, refused);
            }
            var results = await Task.WhenAll(Enumerable.Range(0, 8).Select(i => SendAsync(i < 4 ? httpA : httpB)));
            var elapsed = clock.Elapsed;
            var fromA = results.Take(4).Sum(r => r.Ok);
            var fromB = results.Skip(4).Sum(r => r.Ok);

            // One shared budget: the burst plus the refill over the window; two budgets would admit about twice that.
            Assert.InRange(fromA + fromB, limit, limit + (int)Math.Ceiling(elapsed.TotalSeconds * limit));
            Assert.True(fromA > 0 && fromB > 0, $"both replicas admitted webhooks ({fromA}, {fromB})");
            Assert.True(results.Sum(r => r.Refused) > 0, "the offered load was above the limit");

            // Spend the budget through A and stop A: B finds it spent, because it lives in Redis, not in A. What B
            // sees as remaining is only what refilled since A's last webhook; a budget of B's own would be full.
            // A second's worth at a time, all at once: one by one, a loaded machine's round trips can be slower than
            // the refill, and the budget would never run out.
            await Task.Delay(TimeSpan.FromSeconds(1.2));
            var spent = 0;
            var sinceSpent = Stopwatch.StartNew();
            for (var wave = 0; wave < 5; wave++)
            {
                sinceSpent.Restart();
                var statuses = await Task.WhenAll(Enumerable.Range(0, limit).Select(async _ =>
                    (await httpA.SendAsync(InboundPipeline.Webhook("user", ws, key, User().ToJsonString()))).StatusCode));
                spent += statuses.Count(status => status == HttpStatusCode.OK);
                if (statuses.Any(status => status != HttpStatusCode.OK))
                {
                    break;
                }
            }
            await replicaA.DisposeAsync();
            var afterStop = await httpB.SendAsync(InboundPipeline.Webhook("user", ws, key, User().ToJsonString()));
            var refilled = (int)Math.Ceiling(sinceSpent.Elapsed.TotalSeconds * limit);

            Assert.InRange(spent, limit, 5 * limit - 1);
            var remaining = int.Parse(afterStop.Headers.GetValues("X-RateLimit-Remaining").Single());
            Assert.InRange(remaining, 0, refilled);
        }
        finally
        {
            await replicaA.DisposeAsync();
            await replicaB.DisposeAsync();
        }
    }
}
