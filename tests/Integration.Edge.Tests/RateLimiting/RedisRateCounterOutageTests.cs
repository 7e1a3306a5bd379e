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

        // A script that spins for 1.5 s holds Redis's only thread, as a stalled server would.
        var busy = blocker.Database.ScriptEvaluateAsync("""
            local start = redis.call('TIME')
            repeat
              local now = redis.call('TIME')
            until (now[1] - start[1]) * 1000000 + (now[2] - start[2]) > 1500000
            return 1
            """);
        await Task.Delay(100);
        var clock = Stopwatch.StartNew();
        var unavailable = await Assert.ThrowsAsync<RateCounterUnavailableException>(
            async () => await edge.AcquireAsync(workspace, 100));
        var gaveUpAfter = clock.Elapsed;
        await busy;
        var afterStall = await RetryUntilAvailableAsync(edge, workspace, TimeSpan.FromSeconds(10));

        Assert.IsAssignableFrom<TimeoutException>(unavailable.InnerException);
        Assert.InRange(gaveUpAfter, TimeSpan.FromMilliseconds(150), TimeSpan.FromSeconds(1));
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

        var busy = BlockRedis(blocker, TimeSpan.FromSeconds(1.5));
        await Task.Delay(100);
        var sent = edge.AcquireAsync(workspace, 3).AsTask();
        await Task.Delay(100);
        using var cancel = new CancellationTokenSource();
        var queued = edge.Counter.TryAcquireAsync(workspace, 3, cancel.Token).AsTask();
        var queuedBehind = edge.AcquireAsync(workspace, 3).AsTask();
        await Task.Delay(50);
        await cancel.CancelAsync();
        var cancelled = await Record.ExceptionAsync(() => queued);
        var cancelledWhileRedisStalled = !busy.IsCompleted;
        await busy;
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

        var busy = BlockRedis(blocker, TimeSpan.FromSeconds(1.5));
        await Task.Delay(100);
        var sent = edge.AcquireAsync(workspace, 100).AsTask();
        await Task.Delay(100);
        var queued = edge.AcquireAsync(workspace, 100).AsTask();
        await Task.Delay(50);
        edge.Counter.Dispose();
        var failed = await Record.ExceptionAsync(() => queued);
        var failedWhileRedisStalled = !busy.IsCompleted;
        var afterDisposal = await Record.ExceptionAsync(async () => await edge.AcquireAsync(workspace, 100));
        await busy;
        var inFlight = await sent;

        var unavailable = Assert.IsType<RateCounterUnavailableException>(failed);
        Assert.IsType<ObjectDisposedException>(unavailable.InnerException);
        Assert.True(failedWhileRedisStalled, "the queued call waited for Redis");
        Assert.IsType<RateCounterUnavailableException>(afterDisposal);
        // A call already sent is answered as usual.
        Assert.True(inFlight.Allowed);
    }

    /// <summary>A script that spins for <paramref name="duration"/> holds Redis's only thread, as a stalled server would.</summary>
    private static Task<RedisResult> BlockRedis(RateCounterHarness blocker, TimeSpan duration) =>
        blocker.Database.ScriptEvaluateAsync($$"""
            local start = redis.call('TIME')
            repeat
              local now = redis.call('TIME')
            until (now[1] - start[1]) * 1000000 + (now[2] - start[2]) > {{(long)duration.TotalMicroseconds}}
            return 1
            """);

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
