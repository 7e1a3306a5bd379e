using System.Diagnostics;
using Integration.Edge.RateLimiting;
using StackExchange.Redis;

namespace RateLimitBench;

/// <summary>One edge replica: its own connection and its own limiter instance.</summary>
internal sealed record Replica(ConnectionMultiplexer Connection, IRateCounter Counter);

/// <summary>What one run measured; times are Stopwatch ticks.</summary>
internal sealed record RunResult(long[] SentAt, bool[] Allowed, bool[] Unavailable, long[] Latency, long[] PingLatency, TimeSpan Elapsed);

/// <summary>
/// Offers requests at a fixed rate whether or not earlier ones have been answered (open loop), spread round-robin
/// over the replicas, and interleaves a PING on the same connections half a period later as the baseline.
/// </summary>
internal static class OpenLoop
{
    public static async Task<RunResult> RunAsync(Replica[] replicas, string workspace, int limit, double perSecond, TimeSpan duration)
    {
        var count = (int)(perSecond * duration.TotalSeconds);
        var sentAt = new long[count];
        var allowed = new bool[count];
        var unavailable = new bool[count];
        var latency = new long[count];
        var pingLatency = new long[count];
        var pending = new Task[2 * count];
        var start = Stopwatch.GetTimestamp();

        async Task AcquireAsync(int i)
        {
            var counter = replicas[i % replicas.Length].Counter;
            var sent = Stopwatch.GetTimestamp();
            sentAt[i] = sent - start;
            try
            {
                allowed[i] = (await counter.TryAcquireAsync(workspace, limit, CancellationToken.None)).Allowed;
            }
            catch (RateCounterUnavailableException)
            {
                unavailable[i] = true;
            }
            latency[i] = Stopwatch.GetTimestamp() - sent;
        }

        async Task PingAsync(int i)
        {
            var database = replicas[i % replicas.Length].Connection.GetDatabase();
            var sent = Stopwatch.GetTimestamp();
            await database.PingAsync();
            pingLatency[i] = Stopwatch.GetTimestamp() - sent;
        }

        // A dedicated thread paces the load: a 1 ms sleep is the finest the OS offers without burning a core,
        // and requests that fell due during the sleep are sent at once, so the offered rate stays exact.
        var pacer = new Thread(() =>
        {
            int next = 0, nextPing = 0;
            while (nextPing < count)
            {
                var due = Stopwatch.GetElapsedTime(start).TotalSeconds * perSecond;
                for (; next < count && next <= due; next++)
                {
                    pending[next] = AcquireAsync(next);
                }
                for (; nextPing < count && nextPing + 0.5 <= due; nextPing++)
                {
                    pending[count + nextPing] = PingAsync(nextPing);
                }
                Thread.Sleep(1);
            }
        })
        {
            IsBackground = true,
            Name = "pacer",
            Priority = ThreadPriority.AboveNormal,
        };
        pacer.Start();
        await Task.Run(pacer.Join);
        await Task.WhenAll(pending);
        return new RunResult(sentAt, allowed, unavailable, latency, pingLatency, Stopwatch.GetElapsedTime(start));
    }
}
