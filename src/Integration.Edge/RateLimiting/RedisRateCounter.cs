using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.Options;
using StackExchange.Redis;

namespace Integration.Edge.RateLimiting;

/// <summary>
/// GCRA (generic cell rate algorithm) in one Lua script, per workspace, on Redis's clock, so every edge replica
/// shares one budget and their own clocks do not matter. The script is sent by its SHA1 (EVALSHA); the body
/// travels only when Redis does not know it yet (first call, restart, SCRIPT FLUSH).
/// </summary>
/// <remarks>
/// Burst tolerance is one second's worth of the limit: an idle workspace may send <c>limit</c> requests at once,
/// after which it gets one every <c>1/limit</c> s. That keeps Heap's bursty webhook batches within a second's
/// budget, and makes the stored state (how much of the one-second budget is spoken for) independent of the
/// limit, so a changed limit applies on the very next call.
/// </remarks>
internal sealed partial class RedisRateCounter : IRateCounter
{
    public const int MinLimit = 1;

    /// <summary>One request per microsecond, the resolution of Redis's TIME.</summary>
    public const int MaxLimit = 1_000_000;

    private const string KeyPrefix = "rl:{";
    private const string KeySuffix = "}";

    // Only authenticated workspaces get here, so the cache is bounded by the number of workspaces; the cap is a
    // guard against a bug upstream, not a working limit.
    private const int MaxCachedWorkspaces = 100_000;

    // KEYS[1] rl:{workspace}: the theoretical arrival time (TAT), microseconds on Redis's clock.
    // ARGV[1] the limit, requests per second.
    // Returns {allowed 1|0, remaining, retry after µs, reset after µs}.
    // Redis 7 replicates a script's effects, not the script, so TIME before a write is safe.
    private const string Script = """
        local interval = 1000000 / tonumber(ARGV[1])
        local burst = 1000000
        local time = redis.call('TIME')
        local now = tonumber(time[1]) * 1000000 + tonumber(time[2])
        local tat = tonumber(redis.call('GET', KEYS[1])) or now
        local used = tat - now
        if used < 0 then used = 0 end
        local after = used + interval
        if after > burst + 0.5 then
          return {0, 0, math.ceil(after - burst), math.ceil(used)}
        end
        redis.call('SET', KEYS[1], now + after, 'PX', math.ceil(after / 1000))
        return {1, math.floor((burst - after) / interval + 0.000001), 0, math.ceil(after)}
        """;

    private static readonly byte[] ScriptSha1 = SHA1.HashData(Encoding.UTF8.GetBytes(Script));

    private readonly IConnectionMultiplexer _redis;
    private readonly RateLimitingOptions _options;
    private readonly RateLimitMetrics _metrics;
    private readonly TimeProvider _timeProvider;
    private readonly ILogger<RedisRateCounter> _logger;
    private readonly ConcurrentDictionary<string, ScriptArguments> _arguments = new(StringComparer.Ordinal);
    private int _cachedWorkspaces;
    private int _unavailable;

    public RedisRateCounter(
        IConnectionMultiplexer redis,
        IOptions<RateLimitingOptions> options,
        RateLimitMetrics metrics,
        TimeProvider timeProvider,
        ILogger<RedisRateCounter> logger)
    {
        _redis = redis;
        _options = options.Value;
        _metrics = metrics;
        _timeProvider = timeProvider;
        _logger = logger;
    }

    public async ValueTask<RateDecision> TryAcquireAsync(string workspaceId, int limitPerSecond, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(workspaceId);
        cancellationToken.ThrowIfCancellationRequested();

        // A workspace stored without a limit reads as 0: it gets the default, as the admin API promises, rather
        // than a 500 for every webhook.
        var limit = limitPerSecond < MinLimit ? _options.DefaultRequestsPerSecond : Math.Min(limitPerSecond, MaxLimit);
        var arguments = ArgumentsFor(workspaceId, limit);
        var started = _timeProvider.GetTimestamp();
        RedisResult result;
        try
        {
            result = await EvaluateAsync(arguments, cancellationToken);
        }
        catch (Exception ex) when (IsUnavailable(ex))
        {
            _metrics.Unavailable(_timeProvider.GetElapsedTime(started).TotalMilliseconds);
            if (Interlocked.Exchange(ref _unavailable, 1) == 0)
            {
                LogUnavailable(ex);
            }
            throw new RateCounterUnavailableException("The rate counter cannot reach Redis.", ex)
            {
                RetryAfter = _options.UnavailableRetryAfter,
            };
        }

        var elapsed = _timeProvider.GetElapsedTime(started).TotalMilliseconds;
        if (Volatile.Read(ref _unavailable) == 1 && Interlocked.Exchange(ref _unavailable, 0) == 1)
        {
            LogRecovered();
        }

        var decision = new RateDecision(
            Allowed: (long)result[0] == 1,
            Limit: limit,
            Remaining: (int)result[1],
            RetryAfter: TimeSpan.FromMicroseconds((long)result[2]),
            ResetAfter: TimeSpan.FromMicroseconds((long)result[3]));
        if (decision.Allowed)
        {
            _metrics.Allowed(workspaceId, elapsed);
        }
        else
        {
            _metrics.Rejected(workspaceId, elapsed);
        }
        return decision;
    }

    private async Task<RedisResult> EvaluateAsync(ScriptArguments arguments, CancellationToken cancellationToken)
    {
        var database = _redis.GetDatabase();

        // Fail fast while disconnected: a command queued for the reconnect would make the request wait for the
        // full timeout, and would then count a request that was already answered with 503.
        if (!database.IsConnected(arguments.Keys[0]))
        {
            throw new RedisConnectionException(ConnectionFailureType.UnableToConnect, "Redis is not connected.");
        }

        try
        {
            return await WithTimeout(database.ScriptEvaluateAsync(ScriptSha1, arguments.Keys, arguments.Values), cancellationToken);
        }
        catch (RedisServerException ex) when (ex.Message.StartsWith("NOSCRIPT", StringComparison.Ordinal))
        {
            // Redis does not know the script yet (first call, restart, failover, SCRIPT FLUSH): EVAL sends the
            // body once and leaves it in Redis's script cache for the EVALSHA of the next call.
            return await WithTimeout(database.ScriptEvaluateAsync(Script, arguments.Keys, arguments.Values), cancellationToken);
        }
    }

    private Task<RedisResult> WithTimeout(Task<RedisResult> call, CancellationToken cancellationToken)
    {
        if (call.IsCompleted)
        {
            return call;
        }
        var bounded = call.WaitAsync(_options.Timeout, cancellationToken);
        // If we stop waiting, the call may still fail later; observe it so it is not reported as unobserved.
        _ = call.ContinueWith(
            static task => _ = task.Exception,
            CancellationToken.None,
            TaskContinuationOptions.OnlyOnFaulted | TaskContinuationOptions.ExecuteSynchronously,
            TaskScheduler.Default);
        return bounded;
    }

    private static bool IsUnavailable(Exception ex) =>
        ex is RedisConnectionException
            or TimeoutException // includes RedisTimeoutException and our own per-call timeout
            or RedisServerException; // LOADING, BUSY, MASTERDOWN, READONLY, OOM: Redis is there but cannot count

    private ScriptArguments ArgumentsFor(string workspaceId, int limitPerSecond)
    {
        if (_arguments.TryGetValue(workspaceId, out var cached))
        {
            if (cached.Limit == limitPerSecond)
            {
                return cached;
            }
            var changed = new ScriptArguments(cached.Keys, limitPerSecond);
            _arguments[workspaceId] = changed;
            return changed;
        }

        var created = new ScriptArguments([(RedisKey)(KeyPrefix + workspaceId + KeySuffix)], limitPerSecond);
        if (Volatile.Read(ref _cachedWorkspaces) < MaxCachedWorkspaces && _arguments.TryAdd(workspaceId, created))
        {
            Interlocked.Increment(ref _cachedWorkspaces);
        }
        return created;
    }

    /// <summary>The EVALSHA arguments of one workspace, kept so a call allocates no arrays.</summary>
    private sealed class ScriptArguments(RedisKey[] keys, int limit)
    {
        public RedisKey[] Keys { get; } = keys;

        public int Limit { get; } = limit;

        public RedisValue[] Values { get; } = [limit];
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Rate counter unavailable: Redis cannot answer; webhooks get 503 until it does.")]
    private partial void LogUnavailable(Exception exception);

    [LoggerMessage(Level = LogLevel.Information, Message = "Rate counter available again: Redis answers.")]
    private partial void LogRecovered();
}
