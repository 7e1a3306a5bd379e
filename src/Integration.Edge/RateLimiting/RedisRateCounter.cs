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
/// <para>
/// Burst tolerance is one second's worth of the limit: an idle workspace may send <c>limit</c> requests at once,
/// after which it gets one every <c>1/limit</c> s. That keeps Heap's bursty webhook batches within a second's
/// budget, and makes the stored state (how much of the one-second budget is spoken for) independent of the
/// limit, so a changed limit applies on the very next call.
/// </para>
/// <para>
/// Concurrent calls are coalesced (natural batching, by the same <see cref="Coalescer{TItem, TResult}"/> that
/// <c>IngestionBatcher</c> uses for ingestion calls): at most <see cref="RateLimitingOptions.Concurrency"/> script
/// calls are in flight. A call made while a place is free goes out at once, alone; calls made while every place is
/// taken queue, and go out together (up to <see cref="RateLimitingOptions.MaxBatchSize"/>) as soon as a place frees
/// up, as one script call that counts every request in it, in queue order, on one reading of Redis's clock. Each
/// caller still gets its own decision, the one the single-key script would have given it at that instant. On Redis
/// Cluster one script call may only touch keys of one hash slot, so a batch is split into one call per slot there.
/// </para>
/// </remarks>
internal sealed partial class RedisRateCounter : IRateCounter, IDisposable
{
    public const int MinLimit = 1;

    /// <summary>One request per microsecond, the resolution of Redis's TIME.</summary>
    public const int MaxLimit = 1_000_000;

    private const string KeyPrefix = "rl:{";
    private const string KeySuffix = "}";

    // Only authenticated workspaces get here, so the cache is bounded by the number of workspaces; the cap is a
    // guard against a bug upstream, not a working limit.
    private const int MaxCachedWorkspaces = 100_000;

    // On Redis Cluster a batch spans several shards. A shard that stops answering must not hold a place (and with
    // every place taken, every other shard's callers) until its call times out: after this long the batch gives
    // its place to the next one and leaves the slow call to finish (or time out) on its own. A healthy shard
    // answers in well under a millisecond, so this only ever triggers on a stall.
    private static readonly TimeSpan ClusterStallAfter = TimeSpan.FromMilliseconds(10);

    // KEYS[i] rl:{workspace}: the theoretical arrival time (TAT), microseconds on Redis's clock.
    // ARGV[i] the limit of KEYS[i], requests per second.
    // Returns 4 numbers per key, in order: {allowed 1|0, remaining, retry after µs, reset after µs}.
    // One TIME for the whole call; the same key may appear more than once (two requests of one workspace in one
    // batch): each entry reads what the one before it wrote. The GCRA per entry is the single-key script's,
    // unchanged; the TAT is stored with its fraction (SET of the Lua number, which Redis formats as %.17g) so
    // that no rounding accumulates over consecutive requests. Measured on Redis 7.0.15, 1M SETs in one script:
    // the float costs about what string.format('%d', ...) of a rounded TAT costs, so rounding would buy nothing.
    // Redis 7 replicates a script's effects, not the script, so TIME before a write is safe.
    private const string Script = """
        local time = redis.call('TIME')
        local now = tonumber(time[1]) * 1000000 + tonumber(time[2])
        local burst = 1000000
        local result = {}
        for i = 1, #KEYS do
          local interval = 1000000 / tonumber(ARGV[i])
          local tat = tonumber(redis.call('GET', KEYS[i])) or now
          local used = tat - now
          if used < 0 then used = 0 end
          local after = used + interval
          local at = 4 * i - 3
          if after > burst + 0.5 then
            result[at] = 0
            result[at + 1] = 0
            result[at + 2] = math.ceil(after - burst)
            result[at + 3] = math.ceil(used)
          else
            redis.call('SET', KEYS[i], now + after, 'PX', math.ceil(after / 1000))
            result[at] = 1
            result[at + 1] = math.floor((burst - after) / interval + 0.000001)
            result[at + 2] = 0
            result[at + 3] = math.ceil(after)
          end
        end
        return result
        """;

    private static readonly byte[] ScriptSha1 = SHA1.HashData(Encoding.UTF8.GetBytes(Script));

    private readonly IDatabase _database;
    private readonly RateLimitingOptions _options;
    private readonly RateLimitMetrics _metrics;
    private readonly TimeProvider _timeProvider;
    private readonly ILogger<RedisRateCounter> _logger;
    private readonly ConcurrentDictionary<string, ScriptArguments> _arguments = new(StringComparer.Ordinal);
    private readonly Coalescer<ScriptArguments, RateDecision> _coalescer;
    private int _cachedWorkspaces;
    private int _unavailable;
    private int _disposed;

    public RedisRateCounter(
        IConnectionMultiplexer redis,
        IOptions<RateLimitingOptions> options,
        RateLimitMetrics metrics,
        TimeProvider timeProvider,
        ILogger<RedisRateCounter> logger)
    {
        _database = redis.GetDatabase();
        _options = options.Value;
        _metrics = metrics;
        _timeProvider = timeProvider;
        _logger = logger;
        // Callers resume inline on the thread that received Redis's answer (ResumeCallersAsynchronously false): on
        // a small, busy machine that is cheaper than waking a thread for each.
        _coalescer = new Coalescer<ScriptArguments, RateDecision>(
            CountAsync,
            new CoalescerOptions
            {
                MaxBatchSize = _options.MaxBatchSize,
                Concurrency = _options.Concurrency,
                StallAfter = ClusterStallAfter,
                Stopped = static () => new ObjectDisposedException(nameof(RedisRateCounter), "The rate counter is shutting down."),
            },
            // On Redis Cluster one script call may only touch keys of one hash slot. HashSlot is -1 for every key
            // while the multiplexer talks to a standalone server (StackExchange.Redis decides that once connected
            // and follows topology changes), so there the whole batch is one call.
            groupOf: arguments => redis.HashSlot(arguments.Key));
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
        RateDecision decision;
        try
        {
            // Fail fast while disconnected: a command queued for the reconnect would make the request wait for
            // the full timeout, and would then count a request that was already answered with 503.
            if (!_database.IsConnected(arguments.Key))
            {
                throw new RedisConnectionException(ConnectionFailureType.UnableToConnect, "Redis is not connected.");
            }
            // The timeout covers the wait in the queue and the script call, for each caller on its own. A caller
            // that gives up (timed out, cancelled) while still queued takes its request out: it is never sent,
            // never counted. Once sent, the script may still count it although this caller was answered 503.
            decision = await _coalescer.SubmitAsync(arguments, _options.Timeout, cancellationToken);
        }
        catch (Exception ex) when (IsUnavailable(ex))
        {
            _metrics.Unavailable(_timeProvider.GetElapsedTime(started).TotalMilliseconds);
            if (Volatile.Read(ref _disposed) == 0 && Interlocked.Exchange(ref _unavailable, 1) == 0)
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

    /// <summary>
    /// Stops counting: callers still queued, and any later caller, fail with
    /// <see cref="RateCounterUnavailableException"/>. Script calls already sent are answered as usual.
    /// </summary>
    public void Dispose()
    {
        Volatile.Write(ref _disposed, 1);
        _coalescer.Dispose();
    }

    /// <summary>Counts one batch (of one hash slot) in one script call, in queue order, on one reading of Redis's clock.</summary>
    private async Task<IReadOnlyList<RateDecision>> CountAsync(ScriptArguments[] batch)
    {
        if (batch.Length == 1)
        {
            // One request: the workspace's cached one-element arrays, no allocation for the call.
            var arguments = batch[0];
            return [Decide(await EvaluateAsync(arguments.Keys, arguments.Values), 0, arguments.Limit)];
        }

        var keys = new RedisKey[batch.Length];
        var values = new RedisValue[batch.Length];
        for (var i = 0; i < batch.Length; i++)
        {
            keys[i] = batch[i].Key;
            values[i] = batch[i].Values[0];
        }
        var results = await EvaluateAsync(keys, values);
        var decisions = new RateDecision[batch.Length];
        for (var i = 0; i < batch.Length; i++)
        {
            decisions[i] = Decide(results, 4 * i, batch[i].Limit);
        }
        return decisions;
    }

    private static RateDecision Decide(RedisResult[] results, int at, int limit) => new(
        Allowed: (long)results[at] == 1,
        Limit: limit,
        Remaining: (int)results[at + 1],
        RetryAfter: TimeSpan.FromMicroseconds((long)results[at + 2]),
        ResetAfter: TimeSpan.FromMicroseconds((long)results[at + 3]));

    private async Task<RedisResult[]> EvaluateAsync(RedisKey[] keys, RedisValue[] values)
    {
        // Checked again here: the connection may have dropped while the requests were queued.
        if (!_database.IsConnected(keys[0]))
        {
            throw new RedisConnectionException(ConnectionFailureType.UnableToConnect, "Redis is not connected.");
        }

        // Not bounded by RateLimitingOptions.Timeout: each caller is (and has given up by the time this would).
        // A call Redis does not answer holds its place until StackExchange.Redis times it out; meanwhile the
        // callers queued behind it time out unsent, so nothing is counted for a request answered with 503.
        RedisResult result;
        try
        {
            result = await _database.ScriptEvaluateAsync(ScriptSha1, keys, values);
        }
        catch (RedisServerException ex) when (ex.Message.StartsWith("NOSCRIPT", StringComparison.Ordinal))
        {
            // Redis does not know the script yet (first call, restart, failover, SCRIPT FLUSH): EVAL sends the
            // body once and leaves it in Redis's script cache for the EVALSHA of the next call.
            result = await _database.ScriptEvaluateAsync(Script, keys, values);
        }

        var results = (RedisResult[]?)result;
        if (results is null || results.Length != 4 * keys.Length)
        {
            throw new RedisServerException($"The rate counter script answered {results?.Length} values for {keys.Length} keys.");
        }
        return results;
    }

    private static bool IsUnavailable(Exception ex) =>
        ex is RedisConnectionException
            or TimeoutException // includes RedisTimeoutException and our own per-call timeout
            or RedisServerException // LOADING, BUSY, MASTERDOWN, READONLY, OOM: Redis is there but cannot count
            or ObjectDisposedException; // shutting down (this counter or the multiplexer)

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

    /// <summary>The script arguments of one workspace, kept so a call allocates no key and, alone, no arrays.</summary>
    private sealed class ScriptArguments(RedisKey[] keys, int limit)
    {
        public RedisKey[] Keys { get; } = keys;

        public RedisKey Key => Keys[0];

        public int Limit { get; } = limit;

        public RedisValue[] Values { get; } = [limit];
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Rate counter unavailable: Redis cannot answer; webhooks get 503 until it does.")]
    private partial void LogUnavailable(Exception exception);

    [LoggerMessage(Level = LogLevel.Information, Message = "Rate counter available again: Redis answers.")]
    private partial void LogRecovered();
}
