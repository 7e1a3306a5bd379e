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
    private readonly List<RedisRateCounter> _counters = [];

    private async Task<RedisRateCounter> LimiterAsync()
    {
        var configuration = ConfigurationOptions.Parse(pipeline.Cluster.ConnectionString);
        configuration.AbortOnConnectFail = false;
        var connection = await ConnectionMultiplexer.ConnectAsync(configuration);
        var services = new ServiceCollection().AddMetrics().BuildServiceProvider();
        _owned.Add(connection);
        _owned.Add(services);
        var counter = new RedisRateCounter(connection, Options.Create(new RateLimitingOptions { Timeout = TimeSpan.FromSeconds(5) }),
            new RateLimitMetrics(services.GetRequiredService<IMeterFactory>()), TimeProvider.System, NullLogger<RedisRateCounter>.Instance);
        _counters.Add(counter);
        return counter;
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
            // Both limiters at once, a few calls each per round: one call after another, a loaded machine's round
            // trips can be slower than the refill (25 ms at 40/s), and the budget would never run out.
            for (var round = 0; refused < 5 && round < 100; round++)
            {
                var fromA = Enumerable.Range(0, 4).Select(_ => a.TryAcquireAsync(ws, limit, CancellationToken.None).AsTask()).ToArray();
                var fromB = Enumerable.Range(0, 4).Select(_ => b.TryAcquireAsync(ws, limit, CancellationToken.None).AsTask()).ToArray();
                var decisionsA = await Task.WhenAll(fromA);
                var decisionsB = await Task.WhenAll(fromB);
                allowedA += decisionsA.Count(d => d.Allowed);
                allowedB += decisionsB.Count(d => d.Allowed);
                refused += decisionsA.Concat(decisionsB).Count(d => !d.Allowed);
            }
            var refill = (int)Math.Ceiling(clock.Elapsed.TotalSeconds * limit);

            // Separate budgets would admit about twice the limit; one shared budget admits the limit plus what refilled.
            Assert.InRange(allowedA + allowedB, limit, limit + refill);
            Assert.True(allowedA > 0 && allowedB > 0, $"both limiters admitted ({allowedA}, {allowedB})");
            Assert.True(refused >= 5, $"only {refused} refused in 100 rounds");
        }
    }

    [Fact]
    public async Task CountsConcurrentCallsOfWorkspacesOnEveryMasterInOneScriptCallPerSlot()
    {
        var limiter = await LimiterAsync();
        // Two workspaces per master, plus two more that share one hash slot (and so may share one script call).
        var workspaces = Enumerable.Range(0, 1000).Select(_ => "ws-" + Guid.NewGuid().ToString("N"))
            .GroupBy(ws => pipeline.PortOf($"rl:{{{ws}}}"))
            .SelectMany(g => g.Take(2)).ToList();
        var bySlot = new Dictionary<int, string>();
        while (true)
        {
            var ws = "ws-" + Guid.NewGuid().ToString("N");
            if (bySlot.Remove(pipeline.Redis.HashSlot($"rl:{{{ws}}}"), out var sameSlot))
            {
                workspaces.AddRange([sameSlot, ws]);
                break;
            }
            bySlot[pipeline.Redis.HashSlot($"rl:{{{ws}}}")] = ws;
        }
        Assert.Equal(8, workspaces.Count);
        const int limit = 40;
        var before = await ScriptCallsAsync();

        // Interleaved and all at once, as webhooks of many workspaces arrive: 100 calls per workspace.
        var clock = Stopwatch.StartNew();
        var calls = Enumerable.Range(0, 100 * workspaces.Count)
            .Select(i => (Workspace: workspaces[i % workspaces.Count],
                Call: limiter.TryAcquireAsync(workspaces[i % workspaces.Count], limit, CancellationToken.None).AsTask()))
            .ToArray();
        await Task.WhenAll(calls.Select(c => c.Call));
        var refill = (int)Math.Ceiling(clock.Elapsed.TotalSeconds * limit);
        var scriptCalls = await ScriptCallsAsync() - before;

        foreach (var ws in workspaces)
        {
            var allowed = calls.Count(c => c.Workspace == ws && c.Call.Result.Allowed);
            Assert.InRange(allowed, limit, limit + refill);
        }
        Assert.InRange(scriptCalls, 7, calls.Length - 1);
    }

    /// <summary>EVALSHA and EVAL calls so far, summed over the masters.</summary>
    private async Task<long> ScriptCallsAsync()
    {
        long calls = 0;
        foreach (var port in pipeline.Cluster.Ports)
        {
            var info = await pipeline.Cluster.CommandAsync(port, "INFO", "commandstats");
            calls += info.Split('\n', StringSplitOptions.TrimEntries)
                .Where(line => line.StartsWith("cmdstat_evalsha:", StringComparison.Ordinal) || line.StartsWith("cmdstat_eval:", StringComparison.Ordinal))
                .Sum(line => long.Parse(line.Split(',')[0].Split('=')[1], System.Globalization.CultureInfo.InvariantCulture));
        }
        return calls;
    }

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        foreach (var counter in _counters)
        {
            counter.Dispose();
        }
        foreach (var owned in _owned)
        {
            await owned.DisposeAsync();
        }
    }
}
