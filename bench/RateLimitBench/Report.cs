using System.Diagnostics;

namespace RateLimitBench;

internal static class Report
{
    private const double RateTolerancePercent = 2;
    private const double LatencyTargetMilliseconds = 1;

    /// <summary>Prints the per-second table, the rate error and the latency percentiles; true when both targets are met.</summary>
    public static bool Print(BenchSettings settings, RunResult run, ServerStats server)
    {
        var limit = settings.Limit;
        var seconds = settings.Seconds;
        var offered = new int[seconds];
        var accepted = new int[seconds];
        var unavailable = 0;
        for (var i = 0; i < run.SentAt.Length; i++)
        {
            var second = (int)Math.Min(run.SentAt[i] / Stopwatch.Frequency, seconds - 1);
            offered[second]++;
            accepted[second] += run.Allowed[i] ? 1 : 0;
            unavailable += run.Unavailable[i] ? 1 : 0;
        }

        Console.WriteLine();
        Console.WriteLine("second  offered  accepted  error vs limit");
        for (var s = 0; s < seconds; s++)
        {
            var note = s == 0 ? "  (includes the burst: one second's worth of the limit)" : "";
            Console.WriteLine($"{s + 1,6}  {offered[s],7}  {accepted[s],8}  {Percent(accepted[s], limit),+13:+0.00;-0.00}%{note}");
        }

        // From the second second on the burst is spent and the limiter must hold the limit exactly.
        var steadyAccepted = accepted.Skip(1).Sum();
        var steadyRate = steadyAccepted / (double)(seconds - 1);
        var steadyError = Percent(steadyRate, limit);
        var worstSecond = accepted.Skip(1).Select(a => Percent(a, limit)).MaxBy(Math.Abs);
        var total = accepted.Sum();
        var ideal = limit * (1 + seconds);
        Console.WriteLine();
        Console.WriteLine($"accepted, steady state (s 2-{seconds}): {steadyRate:0.0}/s, error {steadyError:+0.00;-0.00}% " +
            $"(worst single second {worstSecond:+0.00;-0.00}%)");
        Console.WriteLine($"accepted, whole run: {total} of {run.SentAt.Length} offered; GCRA ideal {ideal} " +
            $"(limit x {seconds} s + burst {limit}), error {Percent(total, ideal):+0.00;-0.00}%");
        if (unavailable > 0)
        {
            Console.WriteLine($"unavailable (503): {unavailable}");
        }

        var limiter = Milliseconds(run.Latency);
        var ping = Milliseconds(run.PingLatency);
        Console.WriteLine();
        Console.WriteLine("latency (ms)            p50     p90     p99   p99.9     max");
        Console.WriteLine($"limiter (EVALSHA)  {Row(limiter)}");
        Console.WriteLine($"PING baseline      {Row(ping)}");
        Console.WriteLine($"limiter - PING     {Quantile(limiter, 0.50) - Quantile(ping, 0.50),7:0.000} " +
            $"{Quantile(limiter, 0.90) - Quantile(ping, 0.90),7:0.000} {Quantile(limiter, 0.99) - Quantile(ping, 0.99),7:0.000}");
        Console.WriteLine($"inside Redis (commandstats): EVALSHA {server.MicrosecondsPerCall("evalsha"):0.0} µs/call " +
            $"over {server.Calls("evalsha")} calls, PING {server.MicrosecondsPerCall("ping"):0.0} µs/call");

        var rateOk = Math.Abs(steadyError) <= RateTolerancePercent && unavailable == 0;
        var latencyOk = Quantile(limiter, 0.99) < LatencyTargetMilliseconds;
        Console.WriteLine();
        Console.WriteLine($"target accepted rate within ±{RateTolerancePercent}% of the limit: {(rateOk ? "met" : "MISSED")} ({steadyError:+0.00;-0.00}%)");
        Console.WriteLine($"target limiter p99 under {LatencyTargetMilliseconds} ms: {(latencyOk ? "met" : "MISSED")} ({Quantile(limiter, 0.99):0.000} ms)");
        return rateOk && latencyOk;
    }

    private static double Percent(double value, double reference) => (value - reference) / reference * 100;

    private static double[] Milliseconds(long[] ticks)
    {
        var values = ticks.Select(t => t * 1000.0 / Stopwatch.Frequency).ToArray();
        Array.Sort(values);
        return values;
    }

    private static double Quantile(double[] sorted, double q) =>
        sorted[Math.Clamp((int)Math.Ceiling(q * sorted.Length) - 1, 0, sorted.Length - 1)];

    private static string Row(double[] sorted) =>
        $"{Quantile(sorted, 0.50),7:0.000} {Quantile(sorted, 0.90),7:0.000} {Quantile(sorted, 0.99),7:0.000} " +
        $"{Quantile(sorted, 0.999),7:0.000} {sorted[^1],7:0.000}";
}
