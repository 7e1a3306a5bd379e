using System.Diagnostics;
using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using Integration.Campaigns.Delivery;
using StackExchange.Redis;

// Delivery engine benchmark: a raw HttpClient baseline against the Heap emulator, then the engine draining
// pre-enqueued deliveries (throughput), then the engine fed at a steady rate (enqueue → delivered latency).
var redisConnection = Arg("--redis", "127.0.0.1:6379");
var emulator = new Uri(Arg("--emulator", "http://127.0.0.1:5103"));
var count = int.Parse(Arg("--count", "50000"));
var rate = int.Parse(Arg("--rate", "1000"));
var seconds = int.Parse(Arg("--seconds", "10"));
var track = new Uri(emulator, "/api/track");
var run = Guid.NewGuid().ToString("N")[..6];

Console.WriteLine($"delivery bench: {Environment.ProcessorCount} cores, redis {redisConnection}, emulator {emulator}, run {run}");

// 1. Baseline: the same POSTs straight from HttpClient, 64 in flight.
{
    using var http = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = 256 });
    var n = Math.Min(count, 20_000);
    var latencies = new double[n];
    var next = -1;
    var watch = Stopwatch.StartNew();
    await Task.WhenAll(Enumerable.Range(0, 64).Select(async _ =>
    {
        int i;
        while ((i = Interlocked.Increment(ref next)) < n)
        {
            var started = Stopwatch.GetTimestamp();
            using var response = await http.PostAsync(track, new StringContent(Body($"base-{run}-{i}", null), Encoding.UTF8, "application/json"));
            if (response.StatusCode != HttpStatusCode.OK)
            {
                throw new InvalidOperationException($"baseline got {(int)response.StatusCode}: is the emulator running with limits off?");
            }
            latencies[i] = Stopwatch.GetElapsedTime(started).TotalMilliseconds;
        }
    }));
    Report($"baseline  raw HttpClient, 64 in flight: {n} POSTs", n, watch.Elapsed, latencies);
}

var settings = new Dictionary<string, string?>
{
    ["Delivery:Throttle:Enabled"] = "false",
    // The emulator listens on loopback, which the SSRF guard refuses unless allowed.
    ["Campaigns:AllowedHosts"] = "127.0.0.1",
    ["Delivery:MaxConcurrency"] = Arg("--concurrency", "128"),
    ["Delivery:MaxConcurrencyPerDestination"] = Arg("--concurrency", "128"),
    ["Delivery:IdlePollInterval"] = "00:00:00.010",
    ["Delivery:SchedulerInterval"] = "00:00:00.050",
    ["Logging:LogLevel:Default"] = "Warning",
};
var workspace = "bench-" + run;

// 2. Throughput: enqueue everything with no runner, then let one runner drain it.
{
    var requests = Enumerable.Range(0, count).Select(i => Request("drain", i)).ToList();
    await using (var producer = await EngineHost.StartAsync(redisConnection, settings, runner: false))
    {
        var watch = Stopwatch.StartNew();
        await ForEachAsync(requests, 256, r => producer.Queue.EnqueueAsync(r, CancellationToken.None));
        Console.WriteLine($"enqueue   {count} deliveries recorded in Redis: {count / watch.Elapsed.TotalSeconds:F0}/s");
    }
    await using var consumer = await EngineHost.StartAsync(redisConnection, settings, runner: true);
    var drain = Stopwatch.StartNew();
    await consumer.WaitForSucceededAsync(workspace, "drain", count, TimeSpan.FromMinutes(5));
    var elapsed = drain.Elapsed;
    Console.WriteLine($"engine    drained {count} deliveries to the emulator in {elapsed.TotalSeconds:F1} s: {count / elapsed.TotalSeconds:F0} deliveries/s (throttling off)");
}

// 3. Latency: deliveries enqueued at a steady rate while the runner runs; enqueue → 2xx recorded.
{
    await using var host = await EngineHost.StartAsync(redisConnection, settings, runner: true);
    var total = rate * seconds;
    var enqueuedAt = new long[total];
    var requests = Enumerable.Range(0, total).Select(i => Request("steady", i)).ToList();
    var watch = Stopwatch.StartNew();
    var pending = new List<Task>();
    for (var i = 0; i < total; i++)
    {
        var due = TimeSpan.FromSeconds((double)i / rate);
        if (watch.Elapsed < due)
        {
            await Task.Delay(due - watch.Elapsed);
        }
        enqueuedAt[i] = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        pending.Add(host.Queue.EnqueueAsync(requests[i], CancellationToken.None));
    }
    await Task.WhenAll(pending);
    await host.WaitForSucceededAsync(workspace, "steady", total, TimeSpan.FromMinutes(2));
    var store = host.Store;
    var latencies = new double[total];
    await ForEachAsync(Enumerable.Range(0, total).ToList(), 128, async i =>
    {
        var record = await store.GetAsync(workspace, requests[i].DeliveryId);
        var last = record!.History[^1];
        latencies[i] = last.StartedMs + last.DurationMs - enqueuedAt[i];
    });
    Report($"latency   enqueue → 2xx from the emulator at {rate}/s for {seconds} s", total, watch.Elapsed, latencies, throughput: false);
}

string Arg(string name, string fallback)
{
    var i = Array.IndexOf(args, name);
    return i >= 0 && i + 1 < args.Length ? args[i + 1] : fallback;
}

string Body(string identity, string? _) =>
    new JsonObject { ["app_id"] = "heap-demo-app", ["identity"] = identity, ["event"] = "Bench" }.ToJsonString();

DeliveryRequest Request(string campaign, int i)
{
    var identity = $"{campaign}-{run}-{i}";
    return new DeliveryRequest(DeliveryIds.For(campaign, 0, identity, run), workspace, campaign, 0, identity, run, "POST",
        track.ToString(), new Dictionary<string, string>(), Body(identity, null), "application/json", null, new DeliveryOptions(), null);
}

static async Task ForEachAsync<T>(IReadOnlyList<T> items, int parallelism, Func<T, Task> action)
{
    var next = -1;
    await Task.WhenAll(Enumerable.Range(0, parallelism).Select(async _ =>
    {
        int i;
        while ((i = Interlocked.Increment(ref next)) < items.Count)
        {
            await action(items[i]);
        }
    }));
}

static void Report(string title, int n, TimeSpan elapsed, double[] latencies, bool throughput = true)
{
    Array.Sort(latencies);
    double P(double q) => latencies[Math.Min(latencies.Length - 1, (int)(q * latencies.Length))];
    Console.WriteLine($"{title}: " + (throughput ? $"{n / elapsed.TotalSeconds:F0}/s, " : "") +
        $"p50 {P(0.50):F1} ms, p99 {P(0.99):F1} ms, max {latencies[^1]:F1} ms");
}

/// <summary>The delivery engine as the campaigns service registers it, without the rest of the service.</summary>
internal sealed class EngineHost : IAsyncDisposable
{
    private readonly WebApplication _app;

    private EngineHost(WebApplication app) => _app = app;

    public IDeliveryQueue Queue => _app.Services.GetRequiredService<IDeliveryQueue>();

    public IDeliveryStore Store => _app.Services.GetRequiredService<IDeliveryStore>();

    public static async Task<EngineHost> StartAsync(string redis, Dictionary<string, string?> settings, bool runner)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Configuration.Sources.Clear();
        builder.Configuration.AddInMemoryCollection(settings);
        builder.Configuration.AddInMemoryCollection([new("Delivery:RunnerEnabled", runner ? "true" : "false")]);
        builder.Services.AddSingleton<IConnectionMultiplexer>(_ => ConnectionMultiplexer.Connect(redis));
        builder.Services.AddGrpc();
        builder.AddDeliveryEngine();
        var app = builder.Build();
        await app.StartAsync();
        return new EngineHost(app);
    }

    public async Task WaitForSucceededAsync(string workspace, string campaign, long expected, TimeSpan timeout)
    {
        var admin = _app.Services.GetRequiredService<IDeadLetterStore>();
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            var counters = await admin.GetCountersAsync(workspace, campaign);
            if (counters[DeliveryCounterNames.Succeeded] >= expected)
            {
                return;
            }
            if (counters[DeliveryCounterNames.DeadLettered] > 0 || DateTime.UtcNow > deadline)
            {
                throw new InvalidOperationException(
                    $"{campaign}: {counters[DeliveryCounterNames.Succeeded]} of {expected} succeeded, {counters[DeliveryCounterNames.DeadLettered]} dead-lettered.");
            }
            await Task.Delay(20);
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}
