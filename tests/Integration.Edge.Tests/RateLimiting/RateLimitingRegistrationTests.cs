using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using Integration.Edge.RateLimiting;
using Integration.Testing;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using StackExchange.Redis;

namespace Integration.Edge.Tests.RateLimiting;

public sealed class RateLimitingRegistrationTests(RedisServer redis) : IClassFixture<RedisServer>
{
    [Fact]
    public async Task RegistersARedisRateCounterWithMoEngagesDefaultLimit()
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { EnvironmentName = "Testing" });
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?> { ["RateLimiting:Timeout"] = "00:00:05" });
        await using var connection = await ConnectionMultiplexer.ConnectAsync(redis.ConnectionString);
        builder.Services.AddSingleton<IConnectionMultiplexer>(connection);
        builder.AddRedisRateLimiting();
        using var host = builder.Build();
        await host.StartAsync();

        var counter = host.Services.GetRequiredService<IRateCounter>();
        var options = host.Services.GetRequiredService<IOptions<RateLimitingOptions>>().Value;
        var decision = await counter.TryAcquireAsync(RateCounterHarness.NewWorkspace(), options.DefaultRequestsPerSecond, CancellationToken.None);
        await host.StopAsync();

        Assert.IsType<RedisRateCounter>(counter);
        Assert.Equal(TimeSpan.FromSeconds(5), options.Timeout);
        Assert.Equal(500, options.DefaultRequestsPerSecond);
        Assert.Equal((true, 500, 499), (decision.Allowed, decision.Limit, decision.Remaining));
    }

    [Theory]
    [InlineData("RateLimiting:DefaultRequestsPerSecond", "0")]
    [InlineData("RateLimiting:Timeout", "00:00:00")]
    [InlineData("RateLimiting:UnavailableRetryAfter", "00:00:00")]
    [InlineData("RateLimiting:MaxBatchSize", "0")]
    [InlineData("RateLimiting:Concurrency", "0")]
    public async Task RefusesToStartWithInvalidSettings(string key, string value)
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { EnvironmentName = "Testing" });
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?> { [key] = value });
        builder.AddRedisRateLimiting();
        using var host = builder.Build();

        var error = await Assert.ThrowsAsync<OptionsValidationException>(() => host.StartAsync());

        Assert.Contains(key.Split(':')[1], error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task RecordsAllowedAndRejectedPerWorkspaceAndTheLatency()
    {
        await using var edge = await RateCounterHarness.ConnectAsync(redis);
        var counts = new ConcurrentDictionary<(string Instrument, string? Workspace), long>();
        var durations = new ConcurrentBag<double>();
        using var listener = new MeterListener
        {
            InstrumentPublished = (instrument, l) =>
            {
                if (instrument.Meter.Name == RateLimitMetrics.MeterName && ReferenceEquals(instrument.Meter.Scope, edge.MeterFactory))
                {
                    l.EnableMeasurementEvents(instrument);
                }
            },
        };
        listener.SetMeasurementEventCallback<long>((instrument, value, tags, _) =>
        {
            string? workspace = null;
            foreach (var tag in tags)
            {
                workspace = tag.Key == "workspace" ? tag.Value as string : workspace;
            }
            counts.AddOrUpdate((instrument.Name, workspace), value, (_, sum) => sum + value);
        });
        listener.SetMeasurementEventCallback<double>((instrument, value, _, _) =>
        {
            if (instrument.Name == "integration.ratelimit.duration")
            {
                durations.Add(value);
            }
        });
        listener.Start();
        var busy = RateCounterHarness.NewWorkspace();
        var calm = RateCounterHarness.NewWorkspace();

        var decisions = new List<RateDecision>();
        for (var i = 0; i < 6; i++)
        {
            decisions.Add(await edge.AcquireAsync(busy, 2));
        }
        await edge.AcquireAsync(calm, 2);

        Assert.Contains(decisions, d => !d.Allowed);
        Assert.Equal(decisions.Count(d => d.Allowed), counts.GetValueOrDefault(("integration.ratelimit.allowed", busy)));
        Assert.Equal(decisions.Count(d => !d.Allowed), counts.GetValueOrDefault(("integration.ratelimit.rejected", busy)));
        Assert.Equal(1, counts.GetValueOrDefault(("integration.ratelimit.allowed", calm)));
        Assert.False(counts.ContainsKey(("integration.ratelimit.rejected", calm)));
        Assert.Equal(7, durations.Count);
        Assert.All(durations, ms => Assert.InRange(ms, 0, 5_000));
    }
}
