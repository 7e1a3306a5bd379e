using System.Threading.Channels;

namespace Microsoft.Extensions.Hosting;

/// <summary>How a <see cref="Coalescer{TItem, TResult}"/> batches its callers.</summary>
public sealed record CoalescerOptions
{
    /// <summary>The most items one call carries.</summary>
    public required int MaxBatchSize { get; init; }

    /// <summary>Batches in flight at once. While all are, callers queue, and go out together when one is answered.</summary>
    public required int Concurrency { get; init; }

    /// <summary>Callers queued at most; beyond it callers wait for room (back-pressure). Null: no bound.</summary>
    public int? QueueCapacity { get; init; }

    /// <summary>
    /// A batch split into groups gives its place to the next batch after this long even if one of its calls has not
    /// been answered, so that one stalled group (a shard that stops answering) does not hold back every other group
    /// until its call times out. Null: a batch holds its place until all its calls are answered.
    /// </summary>
    public TimeSpan? StallAfter { get; init; }

    /// <summary>
    /// False: callers resume on the thread that received the answer, one after another until each next awaits (on a
    /// small, busy machine cheaper than waking a thread for each). True: each is resumed on the thread pool.
    /// </summary>
    public bool ResumeCallersAsynchronously { get; init; }

    /// <summary>The exception queued and later callers get once the coalescer is disposed.</summary>
    public Func<Exception> Stopped { get; init; } = static () => new ObjectDisposedException(nameof(Coalescer), "Shutting down.");
}

/// <summary>
/// Request coalescing (natural batching): concurrent callers each submit one item; at most
/// <see cref="CoalescerOptions.Concurrency"/> batches are in flight. An item submitted while a place is free goes out
/// at once, alone; items submitted while every place is taken queue, and go out together (up to
/// <see cref="CoalescerOptions.MaxBatchSize"/>, in queue order) as soon as one frees up. Each caller gets its own
/// result back, or the failure of exactly the call its item was in.
/// </summary>
/// <remarks>
/// A caller that gives up (cancelled, timed out) while its item is still queued takes the item out: it is never sent.
/// Once sent, the call runs to its end and the caller's result is dropped.
/// </remarks>
public sealed class Coalescer<TItem, TResult> : IDisposable
{
    private readonly Func<TItem[], Task<IReadOnlyList<TResult>>> _send;
    private readonly CoalescerOptions _options;
    private readonly Func<TItem, int>? _groupOf;
    private readonly Channel<Pending> _queue;
    private readonly SemaphoreSlim _places;
    private readonly CancellationTokenSource _stopping = new();
    private readonly Lock _startLock = new();
    private Task? _pump;
    private int _disposed;

    /// <param name="send">Sends one call and answers one result per item, in order. Its failure (thrown or as the
    /// task's) fails the callers of exactly that call.</param>
    /// <param name="options">How to batch.</param>
    /// <param name="groupOf">
    /// The group key of an item. Items that may not share a call (on Redis Cluster: keys of different hash slots) have
    /// different keys; a batch is sent as one call per key, concurrently. A negative key for the first item of a batch
    /// means "no grouping": the whole batch is one call (StackExchange.Redis answers -1 for every hash slot while it
    /// talks to a standalone server). Null: one call per batch.
    /// </param>
    public Coalescer(Func<TItem[], Task<IReadOnlyList<TResult>>> send, CoalescerOptions options, Func<TItem, int>? groupOf = null)
    {
        ArgumentNullException.ThrowIfNull(send);
        ArgumentOutOfRangeException.ThrowIfLessThan(options.MaxBatchSize, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(options.Concurrency, 1);
        _send = send;
        _options = options;
        _groupOf = groupOf;
        _places = new SemaphoreSlim(options.Concurrency, options.Concurrency);
        // Several readers: the pump, and Dispose (which fails whatever is still queued while the pump waits).
        _queue = options.QueueCapacity is { } capacity
            ? Channel.CreateBounded<Pending>(new BoundedChannelOptions(capacity) { FullMode = BoundedChannelFullMode.Wait })
            : Channel.CreateUnbounded<Pending>();
    }

    /// <summary>
    /// Queues one item; completes with its result once its call is answered. Giving up (<paramref name="timeout"/>
    /// passed: <see cref="TimeoutException"/>; cancelled: <see cref="OperationCanceledException"/>) before the item
    /// was sent means it never is. Once disposed: <see cref="CoalescerOptions.Stopped"/>.
    /// </summary>
    public async Task<TResult> SubmitAsync(TItem item, TimeSpan timeout, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        EnsurePumpStarted();
        var pending = new Pending(item, _options.ResumeCallersAsynchronously);
        try
        {
            if (!_queue.Writer.TryWrite(pending))
            {
                // Full (wait for room) or completed (disposed: throws ChannelClosedException).
                await _queue.Writer.WriteAsync(pending, cancellationToken);
            }
            // The timeout covers the wait in the queue and the call, for each caller on its own.
            return await pending.Task.WaitAsync(timeout, cancellationToken);
        }
        catch (ChannelClosedException)
        {
            throw _options.Stopped();
        }
        catch
        {
            pending.Abandon();
            throw;
        }
    }

    /// <summary>Callers still queued, and any later caller, fail with <see cref="CoalescerOptions.Stopped"/>; calls
    /// already sent are answered as usual.</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 1)
        {
            return;
        }
        _queue.Writer.TryComplete();
        _stopping.Cancel();
        // The pump may be waiting for a place; those still queued are told now, not after a slow call.
        FailQueued();
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
                // The pump outlives the caller that starts it: it must not carry that caller's ExecutionContext
                // (its Activity, its logging scope) into every later batch.
                using (ExecutionContext.SuppressFlow())
                {
                    Volatile.Write(ref _pump, Task.Run(PumpAsync));
                }
            }
        }
    }

    /// <summary>
    /// Takes a free place, then everything queued by then (up to the batch size), and sends it. While every place is
    /// taken, items accumulate in the queue: that is the natural batching.
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
                await _places.WaitAsync(stopping);
                while (batch.Count < max && reader.TryRead(out var pending))
                {
                    // Skip callers that gave up while queued.
                    if (pending.TryTake())
                    {
                        batch.Add(pending);
                    }
                }
                if (batch.Count == 0)
                {
                    _places.Release();
                    continue;
                }
                try
                {
                    Send(batch);
                }
                catch (Exception ex)
                {
                    // Only the group keys can throw here (before anything was sent): this batch fails, the pump goes on.
                    foreach (var pending in batch)
                    {
                        pending.Fail(ex);
                    }
                    _places.Release();
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
            FailQueued();
        }
    }

    private void FailQueued()
    {
        Exception? stopped = null;
        while (_queue.Reader.TryRead(out var left))
        {
            left.Fail(stopped ??= _options.Stopped());
        }
    }

    /// <summary>
    /// Starts the call(s) of one batch, which give its place back when answered. Everything it needs from
    /// <paramref name="batch"/> is copied before it returns, so the pump may reuse the list at once.
    /// </summary>
    private void Send(List<Pending> batch)
    {
        if (_groupOf is null || _groupOf(batch[0].Item) < 0)
        {
            _ = SendCallAsync([.. batch], new Place(_places, calls: 1));
            return;
        }

        var calls = Coalescer.Split(batch, pending => _groupOf(pending.Item), batch.Count);
        var place = new Place(_places, calls.Count);
        if (_options.StallAfter is { } stallAfter)
        {
            _ = Task.Delay(stallAfter).ContinueWith(
                static (_, state) => ((Place)state!).Release(),
                place,
                CancellationToken.None,
                TaskContinuationOptions.ExecuteSynchronously,
                TaskScheduler.Default);
        }
        foreach (var indexes in calls)
        {
            var call = new Pending[indexes.Length];
            for (var i = 0; i < indexes.Length; i++)
            {
                call[i] = batch[indexes[i]];
            }
            _ = SendCallAsync(call, place);
        }
    }

    private async Task SendCallAsync(Pending[] call, Place place)
    {
        var items = new TItem[call.Length];
        for (var i = 0; i < call.Length; i++)
        {
            items[i] = call[i].Item;
        }
        IReadOnlyList<TResult> results;
        try
        {
            results = await _send(items);
            if (results.Count != call.Length)
            {
                throw new InvalidOperationException($"A coalesced call answered {results.Count} results for {call.Length} items.");
            }
        }
        catch (Exception ex)
        {
            place.CallAnswered();
            foreach (var pending in call)
            {
                pending.Fail(ex);
            }
            return;
        }
        // The place goes to the next batch first, then the callers are told.
        place.CallAnswered();
        for (var i = 0; i < call.Length; i++)
        {
            call[i].TrySetResult(results[i]);
        }
    }

    /// <summary>One caller's item, queued for a call; completes with its result.</summary>
    private sealed class Pending(TItem item, bool resumeAsynchronously)
        : TaskCompletionSource<TResult>(resumeAsynchronously ? TaskCreationOptions.RunContinuationsAsynchronously : TaskCreationOptions.None)
    {
        private const int Queued = 0;
        private const int Taken = 1;
        private const int Abandoned = 2;

        private int _state;

        public TItem Item { get; } = item;

        /// <summary>The pump takes the item into a batch; false if its caller has given up.</summary>
        public bool TryTake() => Interlocked.CompareExchange(ref _state, Taken, Queued) == Queued;

        /// <summary>
        /// Fails the item. Marked observed at once: a caller that has given up after its item was sent never looks
        /// at it, and that must not surface as an unobserved task exception.
        /// </summary>
        public void Fail(Exception error)
        {
            TrySetException(error);
            _ = Task.Exception;
        }

        /// <summary>The caller gives up; the item is not sent if the pump has not taken it yet.</summary>
        public void Abandon()
        {
            if (Interlocked.CompareExchange(ref _state, Abandoned, Queued) == Queued)
            {
                TrySetCanceled();
            }
        }
    }

    /// <summary>The place of one batch: given back once, by the last answer of its calls or a stall.</summary>
    private sealed class Place(SemaphoreSlim places, int calls)
    {
        private int _unanswered = calls;
        private int _released;

        public void CallAnswered()
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
                places.Release();
            }
        }
    }
}

/// <summary>Coalescing of a batch already in hand (e.g. the records of one gRPC call).</summary>
public static class Coalescer
{
    /// <summary>
    /// Sends <paramref name="items"/> as few calls as the rules allow (one per group key, at most
    /// <paramref name="maxPerCall"/> items each; a negative key for the first item, or no <paramref name="groupOf"/>: one
    /// group), all at once, and answers
    /// one result per item, in the items' order. A failed call fails the whole (after all calls were made).
    /// </summary>
    public static async Task<TResult[]> SendInGroupsAsync<TItem, TResult>(
        IReadOnlyList<TItem> items, int maxPerCall, Func<TItem, int>? groupOf, Func<TItem[], Task<IReadOnlyList<TResult>>> send)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxPerCall, 1);
        var results = new TResult[items.Count];
        if (items.Count == 0)
        {
            return results;
        }
        var calls = new List<(int[] Indexes, Task<IReadOnlyList<TResult>> Call)>();
        foreach (var indexes in Split(items, groupOf, maxPerCall))
        {
            var call = new TItem[indexes.Length];
            for (var i = 0; i < indexes.Length; i++)
            {
                call[i] = items[indexes[i]];
            }
            calls.Add((indexes, CallAsync(send, call)));
        }
        // Every call is awaited (and so observed) before the first failure is thrown.
        await Task.WhenAll(calls.Select(c => c.Call));
        foreach (var (indexes, call) in calls)
        {
            var answered = await call;
            if (answered.Count != indexes.Length)
            {
                throw new InvalidOperationException($"A call answered {answered.Count} results for {indexes.Length} items.");
            }
            for (var i = 0; i < indexes.Length; i++)
            {
                results[indexes[i]] = answered[i];
            }
        }
        return results;
    }

    /// <summary>
    /// The positions of <paramref name="items"/> in calls: one group per key (all in one if the first key is
    /// negative, or without <paramref name="groupOf"/>), in order of first appearance, each split into runs of at most
    /// <paramref name="maxPerCall"/>, items in their order.
    /// </summary>
    internal static List<int[]> Split<TItem>(IReadOnlyList<TItem> items, Func<TItem, int>? groupOf, int maxPerCall)
    {
        var calls = new List<int[]>();
        if (groupOf is null || groupOf(items[0]) < 0)
        {
            AddRuns(calls, Enumerable.Range(0, items.Count).ToList(), maxPerCall);
            return calls;
        }
        var groups = new List<List<int>>();
        var byKey = new Dictionary<int, List<int>>();
        for (var i = 0; i < items.Count; i++)
        {
            var key = groupOf(items[i]);
            if (!byKey.TryGetValue(key, out var group))
            {
                byKey.Add(key, group = []);
                groups.Add(group);
            }
            group.Add(i);
        }
        foreach (var group in groups)
        {
            AddRuns(calls, group, maxPerCall);
        }
        return calls;
    }

    private static void AddRuns(List<int[]> calls, List<int> group, int maxPerCall)
    {
        for (var offset = 0; offset < group.Count; offset += maxPerCall)
        {
            calls.Add(group.GetRange(offset, Math.Min(maxPerCall, group.Count - offset)).ToArray());
        }
    }

    // A send that throws before its first await fails its own call, like one whose task fails.
    private static async Task<IReadOnlyList<TResult>> CallAsync<TItem, TResult>(Func<TItem[], Task<IReadOnlyList<TResult>>> send, TItem[] call) =>
        await send(call);
}
