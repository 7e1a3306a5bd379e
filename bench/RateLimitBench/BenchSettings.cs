using System.Globalization;

namespace RateLimitBench;

internal sealed record BenchSettings(string? Redis, int Limit, double Factor, int Seconds, int Replicas, int WarmupSeconds)
{
    public const string Usage = """
        Drives one workspace at a multiple of its limit through the edge's Redis rate limiter and reports the accepted
        rate and the limiter's latency next to a plain PING round trip.

        usage: RateLimitBench [--redis host:port] [--limit 500] [--factor 2] [--seconds 12] [--replicas 4] [--warmup 2]

          --redis     an existing Redis (also: environment variable REDIS); otherwise a redis-server is started on a free port
          --limit     the workspace's limit, requests per second
          --factor    offered load as a multiple of the limit (paced, open loop)
          --seconds   measured duration (at least 10 for the issue's target)
          --replicas  limiter instances, each with its own connection, sharing the offered load (edge replicas)
          --warmup    seconds of load on another workspace before measuring (JIT, connections, script cache)
        """;

    public double OfferedPerSecond => Limit * Factor;

    public static BenchSettings? Parse(string[] args)
    {
        var settings = new BenchSettings(Environment.GetEnvironmentVariable("REDIS") is { Length: > 0 } r ? r : null, 500, 2, 12, 4, 2);
        for (var i = 0; i < args.Length; i++)
        {
            string Value() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value.");
            settings = args[i] switch
            {
                "--redis" => settings with { Redis = Value() },
                "--limit" => settings with { Limit = int.Parse(Value(), CultureInfo.InvariantCulture) },
                "--factor" => settings with { Factor = double.Parse(Value(), CultureInfo.InvariantCulture) },
                "--seconds" => settings with { Seconds = int.Parse(Value(), CultureInfo.InvariantCulture) },
                "--replicas" => settings with { Replicas = int.Parse(Value(), CultureInfo.InvariantCulture) },
                "--warmup" => settings with { WarmupSeconds = int.Parse(Value(), CultureInfo.InvariantCulture) },
                "-h" or "--help" => null,
                _ => throw new ArgumentException($"Unknown argument {args[i]}.\n\n{Usage}"),
            };
            if (settings is null)
            {
                return null;
            }
        }
        if (settings.Limit < 1 || settings.Factor <= 0 || settings.Seconds < 2 || settings.Replicas < 1 || settings.WarmupSeconds < 0)
        {
            throw new ArgumentException($"Out-of-range argument.\n\n{Usage}");
        }
        return settings;
    }
}
