using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text;
using System.Threading.Channels;
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
/// Concurrent calls are coalesced (natural batching, as <c>IngestionBatcher</c> coalesces ingestion calls): at most
/// <see cref="RateLimitingOptions.Concurrency"/> script calls are in flight. A call made while a slot is free goes
/// out at once, alone; calls made while every slot is taken queue, and go out together (up to
/// <see cref="RateLimitingOptions.MaxBatchSize"/>) as soon as a slot frees up, as one script call that counts every
/// request in it, in queue order, on one reading of Redis's clock. Each caller still gets its own decision, the one
/// the single-key script would have given it at that instant. On Redis Cluster one script call may only touch keys
/// of one hash slot, so a batch is split into one call per slot there.
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

    // On Redis Cluster a batch spans several shards. A shard that stops answering must not hold a slot (and with
    // every slot taken, every other shard's callers) until its call times out: after this long the batch gives
    // its slot to the next one and leaves the slow call to finish (or time out) on its own. A healthy shard
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

    private readonly IConnectionMultiplexer _redis;
    private readonly IDatabase _database;
    private readonly RateLimitingOptions _options;
    private readonly RateLimitMetrics _metrics;
    private readonly TimeProvider _timeProvider;
    private readonly ILogger<RedisRateCounter> _logger;
    private readonly ConcurrentDictionary<string, ScriptArguments> _arguments = new(StringComparer.Ordinal);
    private readonly Channel<Pending> _queue = Channel.CreateUnbounded<Pending>(new UnboundedChannelOptions
    {
        SingleReader = false, // the pump, and Dispose
        SingleWriter = false,
    });
    private readonly SemaphoreSlim _slots;
    private readonly CancellationTokenSource _stopping = new();
    private readonly Lock _startLock = new();
    private Task? _pump;
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
        _redis = redis;
        _database = redis.GetDatabase();
        _options = options.Value;
        _metrics = metrics;
        _timeProvider = timeProvider;
        _logger = logger;
        _slots = new SemaphoreSlim(_options.Concurrency, _options.Concurrency);
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
        Pending? pending = null;
        try
        {
            // Fail fast while disconnected: a command queued for the reconnect would make the request wait for
            // the full timeout, and would then count a request that was already answered with 503.
            if (!_database.IsConnected(arguments.Key))
            {
                throw new RedisConnectionException(ConnectionFailureType.UnableToConnect, "Redis is not connected.");
            }
            EnsurePumpStarted();
            pending = new Pending(arguments);
            if (!_queue.Writer.TryWrite(pending))
            {
                throw new ObjectDisposedException(nameof(RedisRateCounter), "The rate counter is shutting down.");
            }
            // The timeout covers the wait in the queue and the script call, for each caller on its own.
            decision = await pending.Task.WaitAsync(_options.Timeout, cancellationToken);
        }
        catch (Exception ex) when (IsUnavailable(ex))
        {
            // A caller that gives up while still queued takes its request out: it is never sent, never counted.
            // Once sent, the script may still count it although this caller was answered 503 (or cancelled).
            pending?.Abandon();
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
        catch
        {
            // Cancelled by the caller (OperationCanceledException), as above.
            pending?.Abandon();
            throw;
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
        if (Interlocked.Exchange(ref _disposed, 1) == 1)
        {
            return;
        }
        _queue.Writer.TryComplete();
        _stopping.Cancel();
        // The pump may be waiting for a slot; those still queued are told now, not after a slow call.
        FailQueued(_queue.Reader);
    }

    private void EnsurePumpStarted()
    {
        if (Volatile.Read(ref _pump) is not null)
        {
            return;
        }
        lock (_startLock)
        {
            // Started even when already disposed: it then stops at once and fails whatever got queued.
            if (_pump is null)
            {
                // The pump outlives the request that starts it: it must not carry that request's ExecutionContext
                // (its Activity, its logging scope) into every later batch.
                using (ExecutionContext.SuppressFlow())
                {
                    Volatile.Write(ref _pump, Task.Run(PumpAsync));
                }
            }
        }
    }

    /// <summary>
    /// Takes a free slot, then everything queued by then (up to the batch size), and sends it. While every slot
    /// is taken, requests accumulate in the queue: that is the natural batching.
    /// </summary>
    private async Task PumpAsync()
    {
        var stopping = _stopping.Token;
        var reader = _queue.Reader;
        var max = _options.MaxBatchSize;
        var batch = new List<Pending>(max);
        try
        {
            while (await reader.WaitToReadAsync(stopping))
            {
                await _slots.WaitAsync(stopping);
                while (batch.Count < max && reader.TryRead(out var pending))
                {
                    // Skip callers that gave up (timed out, cancelled) while queued.
                    if (pending.TryTake())
                    {
                        batch.Add(pending);
                    }
                }
                if (batch.Count == 0)
                {
                    _slots.Release();
                    continue;
                }
                try
                {
                    Send(batch);
                }
                catch (Exception ex)
                {
                    // Not expected (the sends complete their callers themselves); never strand them or the slot.
                    Complete(batch, ex);
                    _slots.Release();
                }
                batch.Clear();
            }
        }
        catch (OperationCanceledException) when (stopping.IsCancellationRequested)
        {
        }
        finally
        {
            // Disposed (or, against all expectations, broken): nobody reads the queue any more.
            FailQueued(reader);
        }
    }

    private static void FailQueued(ChannelReader<Pending> reader)
    {
        var stopped = new ObjectDisposedException(nameof(RedisRateCounter), "The rate counter is shutting down.");
        while (reader.TryRead(out var left))
        {
            left.Fail(stopped);
        }
    }

    /// <summary>
    /// Starts the script call(s) of one batch, which release its slot when answered. Everything it needs from
    /// <paramref name="batch"/> is copied before it returns, so the pump may reuse the list at once.
    /// </summary>
    private void Send(List<Pending> batch)
    {
        // HashSlot is -1 for every key while the multiplexer talks to a standalone server (StackExchange.Redis
        // decides that once connected and follows topology changes), so there the whole batch is one call.
        if (_redis.HashSlot(batch[0].Arguments.Key) < 0)
        {
            _ = batch.Count == 1 ? SendOneAsync(batch[0], release: null) : SendManyAsync([.. batch], release: null);
            return;
        }

        // Redis Cluster: one call per hash slot. The slot is released when every call is answered, or after
        // ClusterStallAfter if one of them is slow, so that a stalled shard does not hold back the others.
        var groups = new Dictionary<int, List<Pending>>();
        foreach (var pending in batch)
        {
            var slot = _redis.HashSlot(pending.Arguments.Key);
            if (!groups.TryGetValue(slot, out var group))
            {
                groups.Add(slot, group = []);
            }
            group.Add(pending);
        }
        var release = new SlotRelease(_slots, groups.Count);
        _ = Task.Delay(ClusterStallAfter).ContinueWith(
            static (_, state) => ((SlotRelease)state!).Release(),
            release,
            CancellationToken.None,
            TaskContinuationOptions.ExecuteSynchronously,
            TaskScheduler.Default);
        foreach (var group in groups.Values)
        {
            _ = group.Count == 1 ? SendOneAsync(group[0], release) : SendManyAsync([.. group], release);
        }
    }

    private async Task SendOneAsync(Pending pending, SlotRelease? release)
    {
        // One request: the workspace's cached one-element arrays, no allocation.
        var arguments = pending.Arguments;
        RateDecision decision;
        try
        {
            var results = await EvaluateAsync(arguments.Keys, arguments.Values);
            decision = Decide(results, 0, arguments.Limit);
        }
        catch (Exception ex)
        {
            Answered(release);
            pending.Fail(ex);
            return;
        }
        Answered(release);
        pending.TrySetResult(decision);
    }

    private async Task SendManyAsync(Pending[] group, SlotRelease? release)
    {
        var keys = new RedisKey[group.Length];
        var values = new RedisValue[group.Length];
        for (var i = 0; i < group.Length; i++)
        {
            keys[i] = group[i].Arguments.Key;
            values[i] = group[i].Arguments.Values[0];
        }
        RedisResult[] results;
        try
        {
            results = await EvaluateAsync(keys, values);
        }
        catch (Exception ex)
        {
            Answered(release);
            Complete(group, ex);
            return;
        }
        Answered(release);
        for (var i = 0; i < group.Length; i++)
        {
            group[i].TrySetResult(Decide(results, 4 * i, group[i].Arguments.Limit));
        }
    }

    /// <summary>
    /// A script call is answered: its slot goes to the next batch first, then the callers are told. They carry
    /// on right here, one after another until each next awaits: on a small, busy machine that is cheaper than
    /// waking a thread for each (the script call's answer already arrived on a thread-pool thread of its own).
    /// </summary>
    private void Answered(SlotRelease? release)
    {
        if (release is null)
        {
            _slots.Release();
        }
        else
        {
            release.GroupAnswered();
        }
    }

    private static void Complete(IEnumerable<Pending> group, Exception error)
    {
        foreach (var pending in group)
        {
            pending.Fail(error);
        }
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
        // A call Redis does not answer holds its slot until StackExchange.Redis times it out; meanwhile the
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

    /// <summary>One caller's request, queued for a script call; completes with its decision.</summary>
    private sealed class Pending(ScriptArguments arguments) : TaskCompletionSource<RateDecision>
    {
        private const int Queued = 0;
        private const int Taken = 1;
        private const int Abandoned = 2;

        private int _state;

        public ScriptArguments Arguments { get; } = arguments;

        /// <summary>The pump takes the request into a batch; false if its caller has given up.</summary>
        public bool TryTake() => Interlocked.CompareExchange(ref _state, Taken, Queued) == Queued;

        /// <summary>
        /// Fails the request. Marked observed at once: a caller that has given up (timed out, cancelled) after its
        /// request was sent never looks at it, and that must not surface as an unobserved task exception.
        /// </summary>
        public void Fail(Exception error)
        {
            TrySetException(error);
            _ = Task.Exception;
        }

        /// <summary>The caller gives up; the request is not sent if the pump has not taken it yet.</summary>
        public void Abandon()
        {
            if (Interlocked.CompareExchange(ref _state, Abandoned, Queued) == Queued)
            {
                TrySetCanceled();
            }
        }
    }

    /// <summary>The slot of a batch split over several hash slots: released once, by the last answer or a stall.</summary>
    private sealed class SlotRelease(SemaphoreSlim slots, int calls)
    {
        private int _unanswered = calls;
        private int _released;

        public void GroupAnswered()
        {
            if (Interlocked.Decrement(ref _unanswered) == 0)
            {
                Release();
            }
        }

        public void Release()
        {
            if (Interlocked.Exchange(ref _released, 1) == 0)
            {
                slots.Release();
            }
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Rate counter unavailable: Redis cannot answer; webhooks get 503 until it does.")]
    private partial void LogUnavailable(Exception exception);

    [LoggerMessage(Level = LogLevel.Information, Message = "Rate counter available again: Redis answers.")]
    private partial void LogRecovered();
}
