using System.Diagnostics.Metrics;
using Integration.Edge.RateLimiting;
using Integration.Testing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using StackExchange.Redis;

namespace Integration.Edge.Tests.RateLimiting;

/// <summary>
/// One limiter as one edge replica would have it: its own connection to the shared Redis, its own clock and meter.
/// </summary>
internal sealed class RateCounterHarness : IAsyncDisposable
{
    private readonly ServiceProvider _services;

    private RateCounterHarness(ConnectionMultiplexer connection, ServiceProvider services, RedisRateCounter counter)
    {
        Connection = connection;
        _services = services;
        Counter = counter;
    }

    public ConnectionMultiplexer Connection { get; }

    public RedisRateCounter Counter { get; }

    public IMeterFactory MeterFactory => _services.GetRequiredService<IMeterFactory>();

    public IDatabase Database => Connection.GetDatabase();

    public static async Task<RateCounterHarness> ConnectAsync(
        RedisServer redis, TimeProvider? timeProvider = null, TimeSpan? timeout = null, int concurrency = 2)
    {
        var configuration = ConfigurationOptions.Parse(redis.ConnectionString);
        configuration.AbortOnConnectFail = false;
        configuration.AllowAdmin = true;
        configuration.ConnectTimeout = 2000;
        var connection = await ConnectionMultiplexer.ConnectAsync(configuration);

        var services = new ServiceCollection().AddMetrics().BuildServiceProvider();
        // Generous unless a test is about the timeout: a cold test process on two busy cores can take
        // longer than the production default for its first calls.
        var options = new RateLimitingOptions { Timeout = timeout ?? TimeSpan.FromSeconds(5), Concurrency = concurrency };
        var counter = new RedisRateCounter(
            connection,
            Options.Create(options),
            new RateLimitMetrics(services.GetRequiredService<IMeterFactory>()),
            timeProvider ?? TimeProvider.System,
            NullLogger<RedisRateCounter>.Instance);
        return new RateCounterHarness(connection, services, counter);
    }

    public static string NewWorkspace() => "ws-" + Guid.NewGuid().ToString("N");

    public static string KeyOf(string workspaceId) => "rl:{" + workspaceId + "}";

    public ValueTask<RateDecision> AcquireAsync(string workspaceId, int limit) =>
        Counter.TryAcquireAsync(workspaceId, limit, CancellationToken.None);

    /// <summary>
    /// Calls until the first refusal (or <paramref name="max"/> calls) and returns how many were allowed and the
    /// last refusal.
    /// </summary>
    /// <remarks>
    /// The calls go out in waves of up to a second's worth, all of a wave at once: one call after another, each
    /// round trip would have to be quicker than the refill interval (1 ms at 1000/s), and on a loaded machine
    /// it is not, so the budget would refill as fast as it is spent and never run out.
    /// </remarks>
    public async Task<(int Allowed, RateDecision Refusal)> SpendAsync(string workspaceId, int limit, int max)
    {
        var allowed = 0;
        for (var made = 0; made < max;)
        {
            var wave = Math.Min(Math.Max(1, limit), max - made);
            var decisions = await Task.WhenAll(Enumerable.Range(0, wave).Select(_ => AcquireAsync(workspaceId, limit).AsTask()));
            made += wave;
            allowed += decisions.Count(d => d.Allowed);
            var refused = Array.FindLastIndex(decisions, d => !d.Allowed);
            if (refused >= 0)
            {
                return (allowed, decisions[refused]);
            }
        }
        throw new InvalidOperationException($"{max} calls at a limit of {limit}/s were all allowed.");
    }

    /// <summary>Redis's clock, microseconds since the Unix epoch.</summary>
    public async Task<long> RedisMicrosecondsAsync()
    {
        var time = (RedisResult[])(await Database.ExecuteAsync("TIME"))!;
        return (long)time[0] * 1_000_000 + (long)time[1];
    }

    public async ValueTask DisposeAsync()
    {
        Counter.Dispose();
        await Connection.DisposeAsync();
        await _services.DisposeAsync();
    }
}

/// <summary>A replica's local clock that only moves when told to, far from Redis's clock.</summary>
internal sealed class ManualTimeProvider(DateTimeOffset start) : TimeProvider
{
    private DateTimeOffset _now = start;
    private long _timestamp;

    public override DateTimeOffset GetUtcNow() => _now;

    public override long GetTimestamp() => _timestamp;

    public override long TimestampFrequency => TimeSpan.TicksPerSecond;

    public void Advance(TimeSpan by)
    {
        _now += by;
        _timestamp += by.Ticks;
    }
}
