using System.Collections.Concurrent;
using System.Threading.Channels;
using Microsoft.Extensions.Hosting;

namespace Integration.Edge.Tests.Coalescing;

/// <summary>
/// The coalescing behind the rate counter, the ingestion batcher and the store's per-slot grouping, on its own: the
/// calls are test doubles the test answers when it chooses, so every interleaving is deliberate.
/// </summary>
public sealed class CoalescerTests
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(10);
    private static readonly TimeSpan NoTimeout = Timeout.InfiniteTimeSpan;

    [Fact]
    public async Task SendsAnItemAloneAtOnceWhileAPlaceIsFree()
    {
        var calls = new Calls();
        using var coalescer = calls.Coalescer(maxBatchSize: 10, concurrency: 1);

        var result = coalescer.SubmitAsync(7, NoTimeout, CancellationToken.None);
        var call = await calls.NextAsync();
        call.Answer();

        Assert.Equal([7], call.Items);
        Assert.Equal("r7", await result.WaitAsync(Wait));
    }

    [Fact]
    public async Task SendsWhatQueuedWhileEveryPlaceWasTakenAsOneCallInQueueOrder()
    {
        var calls = new Calls();
        using var coalescer = calls.Coalescer(maxBatchSize: 10, concurrency: 1);
        var first = coalescer.SubmitAsync(0, NoTimeout, CancellationToken.None);
        var inFlight = await calls.NextAsync();

        var queued = Enumerable.Range(1, 5).Select(i => coalescer.SubmitAsync(i, NoTimeout, CancellationToken.None)).ToArray();
        var madeWhileBusy = calls.Made.Count;
        inFlight.Answer();
        var together = await calls.NextAsync();
        together.Answer();

        Assert.Equal(1, madeWhileBusy);
        Assert.Equal([1, 2, 3, 4, 5], together.Items);
        Assert.Equal("r0", await first.WaitAsync(Wait));
        Assert.Equal(["r1", "r2", "r3", "r4", "r5"], await Task.WhenAll(queued).WaitAsync(Wait));
    }

    [Fact]
    public async Task CarriesAtMostMaxBatchSizeItemsACall()
    {
        var calls = new Calls();
        using var coalescer = calls.Coalescer(maxBatchSize: 3, concurrency: 1);
        _ = coalescer.SubmitAsync(0, NoTimeout, CancellationToken.None);
        var inFlight = await calls.NextAsync();
        var queued = Enumerable.Range(1, 7).Select(i => coalescer.SubmitAsync(i, NoTimeout, CancellationToken.None)).ToArray();

        inFlight.Answer();
        var sizes = new List<int[]>();
        for (var i = 0; i < 3; i++)
        {
            var call = await calls.NextAsync();
            sizes.Add(call.Items);
            call.Answer();
        }
        await Task.WhenAll(queued).WaitAsync(Wait);

        Assert.Equal([[1, 2, 3], [4, 5, 6], [7]], sizes);
    }

    [Fact]
    public async Task NeverHasMoreThanConcurrencyCallsInFlightAndAnswersEveryCallerItsOwnResult()
    {
        var inFlight = 0;
        var mostInFlight = 0;
        var sent = new ConcurrentBag<int[]>();
        using var coalescer = new Coalescer<int, string>(async items =>
        {
            var now = Interlocked.Increment(ref inFlight);
            InterlockedMax(ref mostInFlight, now);
            sent.Add(items);
            await Task.Delay(2);
            Interlocked.Decrement(ref inFlight);
            return items.Select(i => "r" + i).ToArray();
        }, new CoalescerOptions { MaxBatchSize = 16, Concurrency = 2 });

        var results = await Task.WhenAll(Enumerable.Range(0, 400).Select(i =>
            Task.Run(() => coalescer.SubmitAsync(i, NoTimeout, CancellationToken.None)))).WaitAsync(Wait);

        Assert.Equal(Enumerable.Range(0, 400).Select(i => "r" + i), results);
        Assert.InRange(mostInFlight, 1, 2);
        Assert.All(sent, items => Assert.InRange(items.Length, 1, 16));
        Assert.Equal(Enumerable.Range(0, 400), sent.SelectMany(items => items).Order());
        Assert.True(sent.Count < 400, $"{sent.Count} calls for 400 items: nothing was coalesced");
    }

    [Fact]
    public async Task SendsABatchAsOneCallPerGroupEachInQueueOrder()
    {
        var calls = new Calls();
        using var coalescer = calls.Coalescer(maxBatchSize: 100, concurrency: 1, groupOf: i => i % 3);
        _ = coalescer.SubmitAsync(100, NoTimeout, CancellationToken.None);
        var inFlight = await calls.NextAsync();
        var queued = Enumerable.Range(0, 9).Select(i => coalescer.SubmitAsync(i, NoTimeout, CancellationToken.None)).ToArray();

        inFlight.Answer();
        var groups = new List<int[]>();
        for (var i = 0; i < 3; i++)
        {
            var call = await calls.NextAsync();
            groups.Add(call.Items);
            call.Answer();
        }

        Assert.Equal([[0, 3, 6], [1, 4, 7], [2, 5, 8]], groups);
        Assert.Equal(Enumerable.Range(0, 9).Select(i => "r" + i), await Task.WhenAll(queued).WaitAsync(Wait));
    }

    [Fact]
    public async Task SendsTheWholeBatchAsOneCallWhenItsFirstGroupKeyIsNegative()
    {
        var calls = new Calls();
        using var coalescer = calls.Coalescer(maxBatchSize: 100, concurrency: 1, groupOf: _ => -1);
        _ = coalescer.SubmitAsync(100, NoTimeout, CancellationToken.None);
        var inFlight = await calls.NextAsync();
        var queued = Enumerable.Range(0, 6).Select(i => coalescer.SubmitAsync(i, NoTimeout, CancellationToken.None)).ToArray();

        inFlight.Answer();
        var call = await calls.NextAsync();
        call.Answer();
        await Task.WhenAll(queued).WaitAsync(Wait);

        Assert.Equal([0, 1, 2, 3, 4, 5], call.Items);
    }

    [Fact]
    public async Task AnswersTheCallersOfOneGroupWhileAnotherGroupsCallIsUnanswered()
    {
        var calls = new Calls();
        using var coalescer = calls.Coalescer(maxBatchSize: 100, concurrency: 1, groupOf: i => i % 2);
        _ = coalescer.SubmitAsync(100, NoTimeout, CancellationToken.None);
        var inFlight = await calls.NextAsync();
        var even = coalescer.SubmitAsync(0, NoTimeout, CancellationToken.None);
        var odd = coalescer.SubmitAsync(1, NoTimeout, CancellationToken.None);

        inFlight.Answer();
        var evenCall = await calls.NextAsync();
        var oddCall = await calls.NextAsync();
        oddCall.Answer();

        Assert.Equal("r1", await odd.WaitAsync(Wait));
        Assert.False(even.IsCompleted);
        evenCall.Answer();
        Assert.Equal("r0", await even.WaitAsync(Wait));
    }

    [Fact]
    public async Task AStalledGroupedBatchGivesItsPlaceToTheNextAfterStallAfter()
    {
        var calls = new Calls();
        using var coalescer = calls.Coalescer(maxBatchSize: 100, concurrency: 1, groupOf: i => i % 2,
            stallAfter: TimeSpan.FromMilliseconds(50));
        var stalled = coalescer.SubmitAsync(0, NoTimeout, CancellationToken.None);
        await calls.NextAsync();

        var next = coalescer.SubmitAsync(1, NoTimeout, CancellationToken.None);
        var call = await calls.NextAsync();
        call.Answer();

        Assert.Equal([1], call.Items);
        Assert.Equal("r1", await next.WaitAsync(Wait));
        Assert.False(stalled.IsCompleted);
    }

    [Fact]
    public async Task WithoutStallAfterABatchHoldsItsPlaceUntilAnswered()
    {
        var calls = new Calls();
        using var coalescer = calls.Coalescer(maxBatchSize: 100, concurrency: 1, groupOf: i => i % 2);
        _ = coalescer.SubmitAsync(0, NoTimeout, CancellationToken.None);
        var unanswered = await calls.NextAsync();

        var next = coalescer.SubmitAsync(1, NoTimeout, CancellationToken.None);
        await Task.Delay(200);
        var madeWhileUnanswered = calls.Made.Count;
        unanswered.Answer();
        (await calls.NextAsync()).Answer();

        Assert.Equal(1, madeWhileUnanswered);
        Assert.Equal("r1", await next.WaitAsync(Wait));
    }

    [Fact]
    public async Task NeverSendsAnItemWhoseCallerCancelledWhileItWasQueued()
    {
        var calls = new Calls();
        using var coalescer = calls.Coalescer(maxBatchSize: 10, concurrency: 1);
        _ = coalescer.SubmitAsync(0, NoTimeout, CancellationToken.None);
        var inFlight = await calls.NextAsync();
        using var cancel = new CancellationTokenSource();
        var cancelled = coalescer.SubmitAsync(1, NoTimeout, cancel.Token);
        var behind = coalescer.SubmitAsync(2, NoTimeout, CancellationToken.None);

        await cancel.CancelAsync();
        var error = await Record.ExceptionAsync(() => cancelled.WaitAsync(Wait));
        inFlight.Answer();
        var next = await calls.NextAsync();
        next.Answer();

        Assert.IsAssignableFrom<OperationCanceledException>(error);
        Assert.Equal([2], next.Items);
        Assert.Equal("r2", await behind.WaitAsync(Wait));
    }

    [Fact]
    public async Task NeverSendsAnItemWhoseCallerTimedOutWhileItWasQueued()
    {
        var calls = new Calls();
        using var coalescer = calls.Coalescer(maxBatchSize: 10, concurrency: 1);
        _ = coalescer.SubmitAsync(0, NoTimeout, CancellationToken.None);
        var inFlight = await calls.NextAsync();

        var timedOut = coalescer.SubmitAsync(1, TimeSpan.FromMilliseconds(50), CancellationToken.None);
        var error = await Record.ExceptionAsync(() => timedOut.WaitAsync(Wait));
        var behind = coalescer.SubmitAsync(2, NoTimeout, CancellationToken.None);
        inFlight.Answer();
        var next = await calls.NextAsync();
        next.Answer();

        Assert.IsType<TimeoutException>(error);
        Assert.Equal([2], next.Items);
        Assert.Equal("r2", await behind.WaitAsync(Wait));
    }

    [Fact]
    public async Task DropsTheResultOfACallerThatGaveUpAfterItsItemWasSent()
    {
        var calls = new Calls();
        using var coalescer = calls.Coalescer(maxBatchSize: 10, concurrency: 1);
        using var cancel = new CancellationTokenSource();
        var gaveUp = coalescer.SubmitAsync(0, NoTimeout, cancel.Token);
        var sent = await calls.NextAsync();

        await cancel.CancelAsync();
        var error = await Record.ExceptionAsync(() => gaveUp.WaitAsync(Wait));
        sent.Answer();
        var later = coalescer.SubmitAsync(1, NoTimeout, CancellationToken.None);
        (await calls.NextAsync()).Answer();

        Assert.IsAssignableFrom<OperationCanceledException>(error);
        Assert.Equal([0], sent.Items);
        Assert.Equal("r1", await later.WaitAsync(Wait));
    }

    [Fact]
    public async Task DisposalFailsQueuedAndLaterCallersAtOnceAndAnswersCallsInFlight()
    {
        var calls = new Calls();
        var coalescer = calls.Coalescer(maxBatchSize: 10, concurrency: 1);
        var first = coalescer.SubmitAsync(0, NoTimeout, CancellationToken.None);
        var inFlight = await calls.NextAsync();
        var queued = coalescer.SubmitAsync(1, NoTimeout, CancellationToken.None);

        coalescer.Dispose();
        var queuedError = await Record.ExceptionAsync(() => queued.WaitAsync(Wait));
        var laterError = await Record.ExceptionAsync(() => coalescer.SubmitAsync(2, NoTimeout, CancellationToken.None).WaitAsync(Wait));
        inFlight.Answer();

        Assert.Equal("stopped", Assert.IsType<InvalidOperationException>(queuedError).Message);
        Assert.Equal("stopped", Assert.IsType<InvalidOperationException>(laterError).Message);
        Assert.Equal("r0", await first.WaitAsync(Wait));
        Assert.Single(calls.Made);
    }

    [Fact]
    public async Task MakesCallersWaitForRoomWhenTheQueueIsFullAndLetsThemGiveUpUnsent()
    {
        var calls = new Calls();
        using var coalescer = calls.Coalescer(maxBatchSize: 10, concurrency: 1, queueCapacity: 2);
        _ = coalescer.SubmitAsync(0, NoTimeout, CancellationToken.None);
        var inFlight = await calls.NextAsync();
        var queued = new[] { coalescer.SubmitAsync(1, NoTimeout, CancellationToken.None), coalescer.SubmitAsync(2, NoTimeout, CancellationToken.None) };
        var waitingForRoom = coalescer.SubmitAsync(3, NoTimeout, CancellationToken.None);
        using var cancel = new CancellationTokenSource();
        var gaveUp = coalescer.SubmitAsync(4, NoTimeout, cancel.Token);

        await cancel.CancelAsync();
        var error = await Record.ExceptionAsync(() => gaveUp.WaitAsync(Wait));
        inFlight.Answer();
        var sent = new List<int>();
        while (sent.Count < 3)
        {
            var call = await calls.NextAsync();
            sent.AddRange(call.Items);
            call.Answer();
        }
        await Task.WhenAll([.. queued, waitingForRoom]).WaitAsync(Wait);

        Assert.IsAssignableFrom<OperationCanceledException>(error);
        Assert.Equal([1, 2, 3], sent);
    }

    [Fact]
    public async Task AFailedCallFailsExactlyTheCallersOfItsItems()
    {
        var calls = new Calls();
        using var coalescer = calls.Coalescer(maxBatchSize: 100, concurrency: 1, groupOf: i => i % 2);
        _ = coalescer.SubmitAsync(100, NoTimeout, CancellationToken.None);
        var inFlight = await calls.NextAsync();
        var queued = Enumerable.Range(0, 4).Select(i => coalescer.SubmitAsync(i, NoTimeout, CancellationToken.None)).ToArray();
        var failure = new InvalidOperationException("shard down");

        inFlight.Answer();
        var evenCall = await calls.NextAsync();
        var oddCall = await calls.NextAsync();
        evenCall.Fail(failure);
        oddCall.Answer();
        var errors = await Task.WhenAll(queued.Select(q => Record.ExceptionAsync(() => q.WaitAsync(Wait))));
        var afterwards = coalescer.SubmitAsync(5, NoTimeout, CancellationToken.None);
        (await calls.NextAsync()).Answer();

        Assert.Same(failure, errors[0]);
        Assert.Same(failure, errors[2]);
        Assert.Null(errors[1]);
        Assert.Null(errors[3]);
        Assert.Equal(["r1", "r3"], [await queued[1], await queued[3]]);
        Assert.Equal("r5", await afterwards.WaitAsync(Wait));
    }

    [Fact]
    public async Task ASendThatThrowsInsteadOfReturningATaskFailsOnlyItsOwnCall()
    {
        using var coalescer = new Coalescer<int, string>(
            items => items[0] == 0 ? throw new ArgumentException("bad item") : Task.FromResult<IReadOnlyList<string>>(["ok"]),
            new CoalescerOptions { MaxBatchSize = 1, Concurrency = 1 });

        var failed = await Record.ExceptionAsync(() => coalescer.SubmitAsync(0, NoTimeout, CancellationToken.None).WaitAsync(Wait));
        var next = await coalescer.SubmitAsync(1, NoTimeout, CancellationToken.None).WaitAsync(Wait);

        Assert.Equal("bad item", Assert.IsType<ArgumentException>(failed).Message);
        Assert.Equal("ok", next);
    }

    [Fact]
    public async Task FailsACallThatAnswersTheWrongNumberOfResults()
    {
        var calls = new Calls();
        using var coalescer = calls.Coalescer(maxBatchSize: 10, concurrency: 1);
        _ = coalescer.SubmitAsync(100, NoTimeout, CancellationToken.None);
        var inFlight = await calls.NextAsync();
        var queued = new[] { coalescer.SubmitAsync(1, NoTimeout, CancellationToken.None), coalescer.SubmitAsync(2, NoTimeout, CancellationToken.None) };

        inFlight.Answer();
        (await calls.NextAsync()).AnswerWith(["only one"]);
        var errors = await Task.WhenAll(queued.Select(q => Record.ExceptionAsync(() => q.WaitAsync(Wait))));

        Assert.All(errors, e => Assert.Contains("1 results for 2 items", Assert.IsType<InvalidOperationException>(e).Message));
    }

    [Fact]
    public async Task AGroupKeyThatThrowsFailsItsBatchAndTheNextOneGoesOut()
    {
        var calls = new Calls();
        using var coalescer = calls.Coalescer(maxBatchSize: 10, concurrency: 1,
            groupOf: i => i == 13 ? throw new ArgumentException("no slot") : 0);

        var failed = await Record.ExceptionAsync(() => coalescer.SubmitAsync(13, NoTimeout, CancellationToken.None).WaitAsync(Wait));
        var next = coalescer.SubmitAsync(1, NoTimeout, CancellationToken.None);
        (await calls.NextAsync()).Answer();

        Assert.Equal("no slot", Assert.IsType<ArgumentException>(failed).Message);
        Assert.Equal("r1", await next.WaitAsync(Wait));
    }

    [Fact]
    public async Task ResumesCallersOnTheThreadThatAnswersUnlessToldOtherwise()
    {
        // Off the test framework's synchronisation context, as in ASP.NET Core, where callers run.
        var (inline, resumedElsewhere) = await Task.Run(async () =>
        {
            var calls = new Calls();
            using var coalescer = calls.Coalescer(maxBatchSize: 10, concurrency: 1);
            var resumed = new ConcurrentQueue<int>();
            var result = ResumeAsync(coalescer, resumed);
            var call = await calls.NextAsync();
            call.Answer();
            var inline = result.IsCompletedSuccessfully && resumed.Single() == Environment.CurrentManagedThreadId;

            var calls2 = new Calls();
            using var asynchronous = calls2.Coalescer(maxBatchSize: 10, concurrency: 1, resumeAsynchronously: true);
            var resumed2 = new ConcurrentQueue<int>();
            var result2 = ResumeAsync(asynchronous, resumed2);
            var call2 = await calls2.NextAsync();
            call2.Answer();
            // Not yet resumed, or resumed on another thread (this one was busy answering).
            var elsewhere = !resumed2.TryPeek(out var on) || on != Environment.CurrentManagedThreadId;
            await result2.WaitAsync(Wait);
            return (inline, elsewhere);
        });

        // Inline: by the time the answer is given, the caller has run on the answering thread to its end.
        Assert.True(inline, "the caller was not resumed inline");
        Assert.True(resumedElsewhere, "the caller was resumed on the answering thread although told otherwise");

        static async Task ResumeAsync(Coalescer<int, string> coalescer, ConcurrentQueue<int> resumedOn)
        {
            await coalescer.SubmitAsync(1, NoTimeout, CancellationToken.None);
            resumedOn.Enqueue(Environment.CurrentManagedThreadId);
        }
    }

    [Fact]
    public async Task DoesNotCarryTheFirstCallersExecutionContextIntoItsCalls()
    {
        var seen = new ConcurrentQueue<string?>();
        var context = new AsyncLocal<string?>();
        using var coalescer = new Coalescer<int, string>(items =>
        {
            seen.Enqueue(context.Value);
            return Task.FromResult<IReadOnlyList<string>>(items.Select(i => "r" + i).ToArray());
        }, new CoalescerOptions { MaxBatchSize = 10, Concurrency = 1 });

        context.Value = "first caller's request";
        await coalescer.SubmitAsync(1, NoTimeout, CancellationToken.None).WaitAsync(Wait);
        context.Value = "second caller's request";
        await coalescer.SubmitAsync(2, NoTimeout, CancellationToken.None).WaitAsync(Wait);

        Assert.Equal([null, null], seen);
    }

    [Fact]
    public async Task SendsABatchInHandAsOneCallPerGroupInRunsOfAtMostMaxPerCall()
    {
        var made = new ConcurrentQueue<int[]>();
        var items = new[] { 0, 1, 2, 3, 4, 5, 6, 7, 8, 9 };

        var results = await Coalescer.SendInGroupsAsync(items, maxPerCall: 2, groupOf: i => i % 3 == 0 ? 7 : 1, send: call =>
        {
            made.Enqueue(call);
            return Task.FromResult<IReadOnlyList<string>>(call.Select(i => "r" + i).ToArray());
        });

        Assert.Equal(items.Select(i => "r" + i), results);
        Assert.Equal([[0, 3], [6, 9], [1, 2], [4, 5], [7, 8]], made);
    }

    [Fact]
    public async Task SendsABatchInHandInRunsWhenItsFirstGroupKeyIsNegativeAndNothingForNoItems()
    {
        var made = new ConcurrentQueue<int[]>();
        Task<IReadOnlyList<string>> Send(int[] call)
        {
            made.Enqueue(call);
            return Task.FromResult<IReadOnlyList<string>>(call.Select(i => "r" + i).ToArray());
        }

        var none = await Coalescer.SendInGroupsAsync([], maxPerCall: 2, groupOf: _ => -1, send: (Func<int[], Task<IReadOnlyList<string>>>)Send);
        var results = await Coalescer.SendInGroupsAsync([0, 1, 2, 3, 4], maxPerCall: 2, groupOf: i => i == 0 ? -1 : i, send: (Func<int[], Task<IReadOnlyList<string>>>)Send);

        Assert.Empty(none);
        Assert.Equal(["r0", "r1", "r2", "r3", "r4"], results);
        Assert.Equal([[0, 1], [2, 3], [4]], made);
    }

    [Fact]
    public async Task FailsABatchInHandWhenOneOfItsCallsFailsAfterMakingThemAll()
    {
        var made = new ConcurrentQueue<int[]>();

        var error = await Record.ExceptionAsync(() => Coalescer.SendInGroupsAsync([0, 1, 2, 3], maxPerCall: 10, groupOf: i => i % 2,
            send: call =>
            {
                made.Enqueue(call);
                return call[0] == 0
                    ? Task.FromException<IReadOnlyList<string>>(new InvalidOperationException("slot down"))
                    : Task.FromResult<IReadOnlyList<string>>(call.Select(i => "r" + i).ToArray());
            }));

        Assert.Equal("slot down", Assert.IsType<InvalidOperationException>(error).Message);
        Assert.Equal([[0, 2], [1, 3]], made);
    }

    private static void InterlockedMax(ref int location, int value)
    {
        var current = Volatile.Read(ref location);
        while (value > current && Interlocked.CompareExchange(ref location, value, current) is var seen && seen != current)
        {
            current = seen;
        }
    }

    /// <summary>Calls as they are made, each answered (or failed) by the test.</summary>
    private sealed class Calls
    {
        private readonly Channel<Call> _made = Channel.CreateUnbounded<Call>();
        private readonly ConcurrentQueue<Call> _all = new();

        public IReadOnlyCollection<Call> Made => _all;

        public Coalescer<int, string> Coalescer(int maxBatchSize, int concurrency, Func<int, int>? groupOf = null,
            TimeSpan? stallAfter = null, int? queueCapacity = null, bool resumeAsynchronously = false) =>
            new(Send, new CoalescerOptions
            {
                MaxBatchSize = maxBatchSize,
                Concurrency = concurrency,
                StallAfter = stallAfter,
                QueueCapacity = queueCapacity,
                ResumeCallersAsynchronously = resumeAsynchronously,
                Stopped = static () => new InvalidOperationException("stopped"),
            }, groupOf);

        public async Task<Call> NextAsync() => await _made.Reader.ReadAsync().AsTask().WaitAsync(Wait);

        private Task<IReadOnlyList<string>> Send(int[] items)
        {
            var call = new Call(items);
            _all.Enqueue(call);
            _made.Writer.TryWrite(call);
            return call.Result.Task;
        }
    }

    private sealed class Call(int[] items)
    {
        public int[] Items { get; } = items;

        // Completed inline, as a network answer would complete a call.
        public TaskCompletionSource<IReadOnlyList<string>> Result { get; } = new();

        public void Answer() => Result.SetResult(Items.Select(i => "r" + i).ToArray());

        public void AnswerWith(string[] results) => Result.SetResult(results);

        public void Fail(Exception error) => Result.SetException(error);
    }
}
