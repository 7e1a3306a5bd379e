using System.Globalization;
using InboundBench.Faults;
using InboundBench.Infra;
using InboundBench.Storage;
using InboundBench.Throughput;

CultureInfo.DefaultThreadCurrentCulture = CultureInfo.InvariantCulture;
CultureInfo.CurrentCulture = CultureInfo.InvariantCulture;

const string Usage = """
    InboundBench throughput [--seconds 15] [--warmup 15] [--threads 2] [--connections 64] [--workspaces 200] [--limit 500] [--no-bare] [--results FILE]
    InboundBench storage [--events 100000] [--users 5000] [--concurrency 32] [--results FILE]
    InboundBench faults [--only kill-ingestion|kill-redis|bad-input|kill-campaigns|heap-faults|outbound] [--results FILE]
    """;

// Anywhere on the line: 'bench/faults.sh --help' arrives as 'faults --help' and must not start the whole suite.
if (args.Length == 0 || args.Any(a => a is "-h" or "--help"))
{
    Console.WriteLine(Usage);
    return 0;
}

if (BenchArguments.Parse(args, 1, out var unexpected) is not { } options)
{
    Console.Error.WriteLine($"unexpected argument '{unexpected}'\n{Usage}");
    return 2;
}
int Int(string name, int fallback) => options.Int(name, fallback);

return args[0] switch
{
    "throughput" => await ThroughputBench.RunAsync(new ThroughputSettings(
        Seconds: Int("seconds", 15), WarmupSeconds: Int("warmup", 15), Threads: Int("threads", 2), Connections: Int("connections", 64),
        Workspaces: Int("workspaces", 200), RateLimit: Int("limit", 500), SkipBare: options.ContainsKey("no-bare"),
        ResultsFile: options.GetValueOrDefault("results"))),
    "storage" => await StorageBench.RunAsync(new StorageSettings(
        Events: Int("events", 100_000), Users: Int("users", 5_000), Concurrency: Int("concurrency", 32), ResultsFile: options.GetValueOrDefault("results"))),
    "faults" => await FaultSuite.RunAsync(options.GetValueOrDefault("only"), options.GetValueOrDefault("results")),
    _ => Fail($"unknown command '{args[0]}'\n{Usage}"),
};

static int Fail(string message)
{
    Console.Error.WriteLine(message);
    return 2;
}
