using System.Diagnostics;
using System.Diagnostics.Metrics;
using Integration.Edge.RateLimiting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using StackExchange.Redis;

namespace Integration.Edge.Tests.Cluster;

/// <summary>The GCRA limiter on Redis Cluster: two limiters (two edge replicas) with their own connections share one budget.</summary>
[Collection(ClusterInboundCollection.Name)]
public sealed class RateLimiterOnClusterTests(ClusterInboundPipeline pipeline) : IAsyncLifetime
{
    private readonly List<IAsyncDisposable> _owned = [];

    private async Task<RedisRateCounter> LimiterAsync()
    {
        var configuration = ConfigurationOptions.Parse(pipeline.Cluster.ConnectionString);
        configuration.AbortOnConnectFail = false;
        var connection = await ConnectionMultiplexer.ConnectAsync(configuration);
        var services = new ServiceCollection().AddMetrics().BuildServiceProvider();
        _owned.Add(connection);
        _owned.Add(services);
        return new RedisRateCounter(connection, Options.Create(new RateLimitingOptions { Timeout = TimeSpan.FromSeconds(5) }),
            new RateLimitMetrics(services.GetRequiredService<IMeterFactory>()), TimeProvider.System, NullLogger<RedisRateCounter>.Instance);
    }

    [Fact]
    public async Task TwoLimitersShareOneBudgetPerWorkspaceOnEveryMaster()
    {
        var a = await LimiterAsync();
        var b = await LimiterAsync();
        // Two workspaces per master, so every shard runs the script.
        var workspaces = Enumerable.Range(0, 1000).Select(_ => "ws-" + Guid.NewGuid().ToString("N"))
            .GroupBy(ws => pipeline.PortOf($"rl:{{{ws}}}"))
            .SelectMany(g => g.Take(2)).ToList();
        Assert.Equal(6, workspaces.Count);
        const int limit = 40;

        foreach (var ws in workspaces)
        {
            var clock = Stopwatch.StartNew();
            int allowedA = 0, allowedB = 0, refused = 0;
            for (var i = 0; refused < 5 && i < 100 * limit; i++)
            {
                var decision = await (i % 2 == 0 ? a : b).TryAcquireAsync(ws, limit, CancellationToken.None);
                if (!decision.Allowed)
                {
                    refused++;
                }
                else if (i % 2 == 0)
                {
                    allowedA++;
                }
                else
                {
                    allowedB++;
                }
            }
            var refill = (int)Math.Ceiling(clock.Elapsed.TotalSeconds * limit);

            // Separate budgets would admit about twice the limit; one shared budget admits the limit plus what refilled.
            Assert.InRange(allowedA + allowedB, limit, limit + refill);
            Assert.True(allowedA > 0 && allowedB > 0, $"both limiters admitted ({allowedA}, {allowedB})");
            Assert.Equal(5, refused);
        }
    }

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        foreach (var owned in _owned)
        {
            await owned.DisposeAsync();
        }
    }
}
