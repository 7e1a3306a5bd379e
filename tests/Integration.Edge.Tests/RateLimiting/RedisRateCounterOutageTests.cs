using System.Diagnostics;
using Integration.Edge.RateLimiting;
using Integration.Testing;
using StackExchange.Redis;

namespace Integration.Edge.Tests.RateLimiting;

/// <summary>Kills and blocks its own Redis, so it does not share one with other tests.</summary>
public sealed class RedisRateCounterOutageTests(RedisServer redis) : IClassFixture<RedisServer>
{
    [Fact]
    public async Task IsUnavailableWhileRedisIsDownAndRecoversByItselfWhenRedisReturns()
    {
        await using var edge = await RateCounterHarness.ConnectAsync(redis, timeout: TimeSpan.FromMilliseconds(500));
        var workspace = RateCounterHarness.NewWorkspace();
        var beforeOutage = await RetryUntilAvailableAsync(edge, workspace, TimeSpan.FromSeconds(10));

        redis.Kill();
        var clock = Stopwatch.StartNew();
        var unavailable = await Assert.ThrowsAsync<RateCounterUnavailableException>(
            async () => await edge.AcquireAsync(workspace, 100));
        var failedWithin = clock.Elapsed;
        var stillUnavailable = await Assert.ThrowsAsync<RateCounterUnavailableException>(
            async () => await edge.AcquireAsync(workspace, 100));

        await redis.RestartAsync();
        var afterOutage = await RetryUntilAvailableAsync(edge, workspace, TimeSpan.FromSeconds(30));

        Assert.True(beforeOutage.Allowed);
        Assert.True(failedWithin < TimeSpan.FromSeconds(3), $"took {failedWithin} to give up");
        Assert.Equal(TimeSpan.FromSeconds(1), unavailable.RetryAfter);
        Assert.NotNull(stillUnavailable.InnerException);
        Assert.True(afterOutage.Allowed);
        // A request sent just as Redis died may still be queued and counted after the reconnect.
        Assert.InRange(afterOutage.Remaining, 97, 99);
    }

    [Fact]
    public async Task GivesUpAfterItsTimeoutWhenRedisDoesNotAnswer()
    {
        await using var edge = await RateCounterHarness.ConnectAsync(redis, timeout: TimeSpan.FromMilliseconds(200));
        await using var blocker = await RateCounterHarness.ConnectAsync(redis);
        var workspace = RateCounterHarness.NewWorkspace();
        await RetryUntilAvailableAsync(edge, workspace, TimeSpan.FromSeconds(10));

        RateCounterUnavailableException unavailable;
        TimeSpan gaveUpAfter;
        await using (await StallAsync(blocker))
        {
            var clock = Stopwatch.StartNew();
            unavailable = await Assert.ThrowsAsync<RateCounterUnavailableException>(
                async () => await edge.AcquireAsync(workspace, 100));
            gaveUpAfter = clock.Elapsed;
            // It gave up on a call Redis was holding (not one that failed some other way before being sent).
            await WaitUntilHeldAsync(blocker, "the call it gave up on");
        }
        var afterStall = await RetryUntilAvailableAsync(edge, workspace, TimeSpan.FromSeconds(10));

        Assert.IsAssignableFrom<TimeoutException>(unavailable.InnerException);
        // Its own 200 ms, not the connection's 5 s command timeout (which would also be a TimeoutException).
        Assert.InRange(gaveUpAfter, TimeSpan.FromMilliseconds(150), TimeSpan.FromSeconds(3));
        Assert.True(afterStall.Allowed);
    }

    [Fact]
    public async Task DropsARequestCancelledWhileQueuedWithoutCountingIt()
    {
        // One script call in flight at a time: while it waits behind a stalled Redis, later calls queue.
        await using var edge = await RateCounterHarness.ConnectAsync(redis, concurrency: 1);
        await using var blocker = await RateCounterHarness.ConnectAsync(redis);
        var workspace = RateCounterHarness.NewWorkspace();
        await RetryUntilAvailableAsync(edge, RateCounterHarness.NewWorkspace(), TimeSpan.FromSeconds(10));

        Task<RateDecision> sent, queuedBehind;
        Exception? cancelled;
        bool cancelledWhileRedisStalled;
        await using (await StallAsync(blocker))
        {
            sent = edge.AcquireAsync(workspace, 3).AsTask();
            await WaitUntilHeldAsync(blocker, "the first call");
            using var cancel = new CancellationTokenSource();
            var queued = edge.Counter.TryAcquireAsync(workspace, 3, cancel.Token).AsTask();
            queuedBehind = edge.AcquireAsync(workspace, 3).AsTask();
            await cancel.CancelAsync();
            // Had it waited for its turn, it would have waited for the stall (and then timed out, unavailable).
            cancelled = await Record.ExceptionAsync(() => queued);
            cancelledWhileRedisStalled = !sent.IsCompleted;
        }
        var first = await sent;
        var second = await queuedBehind;
        var next = await edge.AcquireAsync(workspace, 3);

        Assert.IsAssignableFrom<OperationCanceledException>(cancelled);
        Assert.True(cancelledWhileRedisStalled, "the cancelled call waited for Redis");
        // The cancelled request never reached Redis: 3 allowed in a row, not 2.
        Assert.Equal((true, 2), (first.Allowed, first.Remaining));
        Assert.Equal((true, 1), (second.Allowed, second.Remaining));
        Assert.Equal((true, 0), (next.Allowed, next.Remaining));
    }

    [Fact]
    public async Task FailsQueuedCallersAsUnavailableWhenDisposed()
    {
        await using var edge = await RateCounterHarness.ConnectAsync(redis, concurrency: 1);
        await using var blocker = await RateCounterHarness.ConnectAsync(redis);
        var workspace = RateCounterHarness.NewWorkspace();
        await RetryUntilAvailableAsync(edge, workspace, TimeSpan.FromSeconds(10));

        Task<RateDecision> sent;
        Exception? failed, afterDisposal;
        bool failedWhileRedisStalled;
        await using (await StallAsync(blocker))
        {
            sent = edge.AcquireAsync(workspace, 100).AsTask();
            await WaitUntilHeldAsync(blocker, "the first call");
            var queued = edge.AcquireAsync(workspace, 100).AsTask();
            edge.Counter.Dispose();
            failed = await Record.ExceptionAsync(() => queued);
            failedWhileRedisStalled = !sent.IsCompleted;
            afterDisposal = await Record.ExceptionAsync(async () => await edge.AcquireAsync(workspace, 100));
        }
        var inFlight = await sent;

        var unavailable = Assert.IsType<RateCounterUnavailableException>(failed);
        Assert.IsType<ObjectDisposedException>(unavailable.InnerException);
        Assert.True(failedWhileRedisStalled, "the queued call waited for Redis");
        Assert.IsType<RateCounterUnavailableException>(afterDisposal);
        // A call already sent is answered as usual.
        Assert.True(inFlight.Allowed);
    }

    /// <summary>
    /// Stalls Redis for the rate counter until disposed: <c>CLIENT PAUSE … WRITE</c> holds every script that may
    /// write (the counter's does) at Redis, unanswered, as a stalled server would, while the blocker's own
    /// commands still get through. The stall lasts exactly as long as the test needs it — a fixed-length stall
    /// (a script spinning for 1.5 s) could end before a slow machine got to the point it was there for. The
    /// pause's own 30 s limit only matters if the test dies before lifting it.
    /// </summary>
    private static async Task<IAsyncDisposable> StallAsync(RateCounterHarness blocker)
    {
        var server = blocker.Connection.GetServer(blocker.Connection.GetEndPoints()[0]);
        await server.ExecuteAsync("CLIENT", "PAUSE", "30000", "WRITE");
        return new Unpause(server);
    }

    private sealed class Unpause(IServer server) : IAsyncDisposable
    {
        public async ValueTask DisposeAsync() => await server.ExecuteAsync("CLIENT", "UNPAUSE");
    }

    /// <summary>How many clients Redis holds a command of (the paused script calls).</summary>
    private static async Task<long> HeldCallsAsync(RateCounterHarness blocker)
    {
        var server = blocker.Connection.GetServer(blocker.Connection.GetEndPoints()[0]);
        var info = await server.InfoRawAsync("clients") ?? "";
        var line = info.Split('\n', StringSplitOptions.TrimEntries).Single(l => l.StartsWith("blocked_clients:", StringComparison.Ordinal));
        return long.Parse(line["blocked_clients:".Length..], System.Globalization.CultureInfo.InvariantCulture);
    }

    /// <summary>Waits until a script call has reached Redis and is held there (so it holds the counter's one place).</summary>
    private static async Task WaitUntilHeldAsync(RateCounterHarness blocker, string what)
    {
        var clock = Stopwatch.StartNew();
        while (await HeldCallsAsync(blocker) < 1)
        {
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(20), $"{what} did not reach Redis within 20 s");
            await Task.Delay(10);
        }
    }

    private static async Task<RateDecision> RetryUntilAvailableAsync(RateCounterHarness edge, string workspace, TimeSpan within)
    {
        var clock = Stopwatch.StartNew();
        while (true)
        {
            try
            {
                return await edge.AcquireAsync(workspace, 100);
            }
            catch (RateCounterUnavailableException) when (clock.Elapsed < within)
            {
                await Task.Delay(100);
            }
        }
    }
}
