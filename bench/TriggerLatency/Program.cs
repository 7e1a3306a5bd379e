using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using Grpc.Core;
using Grpc.Net.Client;
using Integration.Admin.V1;
using Integration.Campaigns.V1;
using InboundBench.Infra;
using TriggerLatency;

// Event-triggered latency of the whole pipeline: Heap event webhooks at a steady rate into the edge; an active
// event-triggered campaign (no delay) turns each into a track call to the Heap emulator. Per webhook: the time from
// the edge's 200 to the emulator's received_at of the track event carrying the webhook's probe_id (same clock).
CultureInfo.DefaultThreadCurrentCulture = CultureInfo.InvariantCulture;
CultureInfo.CurrentCulture = CultureInfo.InvariantCulture;

var help = args.Any(a => a is "-h" or "--help");
if (help || BenchArguments.Parse(args, 0, out _) is not { } options)
{
    Console.WriteLine("TriggerLatency [--rate 100] [--seconds 15] [--warmup 5] [--users max(500, 2 x rate)] [--replicas 1] [--poll-interval-ms N (default: the service's)] [--results FILE] [--dump FILE]");
    return help ? 0 : 2;
}
int Int(string name, int fallback) => options.Int(name, fallback);
var rate = Int("rate", 100);
var seconds = Int("seconds", 15);
var warmup = Int("warmup", 5);
// Heap takes 30 track calls per identity in 30 s and the delivery engine holds back the rest (its throttle, as Heap
// would answer 429): with fewer users than webhooks per second the bench measures that wait, not the pipeline. The
// default keeps every user at half Heap's limit.
var userCount = Int("users", Math.Max(500, 2 * rate));
var replicas = Int("replicas", 1);
var resultsFile = options.GetValueOrDefault("results");

var campaignSettings = new Dictionary<string, string>();
if (options.TryGetValue("poll-interval-ms", out var poll))
{
    campaignSettings["Campaigns__PollIntervalMs"] = poll;
}

Console.WriteLine($"trigger latency bench: {Environment.ProcessorCount} cores, load average {File.ReadAllText("/proc/loadavg").Trim()}");
Console.WriteLine($"  {rate} webhooks/s for {seconds} s after {warmup} s of warm-up, {userCount} users, {replicas} campaigns replica(s), poll interval: " +
    (poll is null ? "default" : poll + " ms"));

if (rate > userCount)
{
    Console.WriteLine($"  note: {rate / (double)userCount:0.0} track calls per user per second exceed Heap's 30 per identity in 30 s; " +
        "the delivery engine's throttle holds the excess back, so latency grows with the run");
}

await using var stack = await Stack.StartAsync(campaignSettings, replicas);
using var ingestionChannel = GrpcChannel.ForAddress(stack.IngestionGrpc);
using var campaignsChannel = GrpcChannel.ForAddress(stack.CampaignsGrpc);
var auth = new Metadata { { "authorization", $"Bearer {Stack.AdminToken}" } };
DateTime Deadline() => DateTime.UtcNow.AddSeconds(30);

// A workspace with config "heap" (email identifier), and the campaign: every "Probe Fired" → one track call at once.
const string WorkspaceId = "latency";
var admin = new Admin.AdminClient(ingestionChannel);
var workspace = await admin.CreateWorkspaceAsync(new CreateWorkspaceRequest { WorkspaceId = WorkspaceId, RateLimitPerSecond = 10_000 }, auth, Deadline());
var config = new IntegrationConfig { WorkspaceId = WorkspaceId, ConfigName = "heap", IdentifierKind = IdentifierKind.Email };
config.Modules.AddRange([SyncModule.Users, SyncModule.Events]);
await admin.CreateIntegrationConfigAsync(new CreateIntegrationConfigRequest { Config = config }, auth, Deadline());

var spec = new CampaignSpec { Name = "Trigger latency probe", EventTriggered = new EventTriggeredDelivery { EventName = "Probe Fired" } };
spec.Steps.Add(new RequestStep
{
    Method = "POST",
    Url = new Uri(stack.Heap, "/api/track").ToString(),
    BodyFormat = BodyFormat.Json,
    Body = $$$"""{"app_id":"{{{Stack.HeapApp}}}","identity":"{{UserAttribute['ID']}}","event":"Probe Delivered","properties":{"probe_id":"{{EventAttribute['probe_id']}}"}}""",
});
await new Campaigns.CampaignsClient(campaignsChannel).CreateCampaignAsync(
    new CreateCampaignRequest { WorkspaceId = WorkspaceId, Spec = spec, Activate = true }, auth, Deadline());

var basic = "Basic " + Convert.ToBase64String(Encoding.UTF8.GetBytes($"{WorkspaceId}:{workspace.DataApiKey}"));
using var http = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = 64, PooledConnectionLifetime = TimeSpan.FromMinutes(10) })
{
    BaseAddress = stack.Edge,
    Timeout = TimeSpan.FromSeconds(10),
};
var accepted = new ConcurrentDictionary<string, DateTimeOffset>();
var refused = new ConcurrentBag<string>();
var sequence = 0;

async Task SendAsync(string probeId)
{
    var user = Interlocked.Increment(ref sequence) % userCount;
    var body = $$$"""{"customer_id":"probe{{{user}}}@example.com","updated_at":"{{{DateTime.UtcNow:yyyy-MM-ddTHH:mm:ss.fffZ}}}","email":"probe{{{user}}}@example.com","first_name":"Probe","last_name":"Bench","phone":"","event_attributes":{"event_name":"Probe Fired","probe_id":"{{{probeId}}}"}}""";
    using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/partner/heap-analytics/events/?configName=heap")
    {
        Content = new StringContent(body, Encoding.UTF8, "application/json"),
    };
    request.Headers.TryAddWithoutValidation("Authorization", basic);
    try
    {
        using var response = await http.SendAsync(request);
        var answeredAt = DateTimeOffset.UtcNow;
        if ((int)response.StatusCode == 200)
        {
            accepted[probeId] = answeredAt;
        }
        else
        {
            refused.Add($"{probeId}: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
        }
    }
    catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException)
    {
        refused.Add($"{probeId}: {ex.Message}");
    }
}

// Open loop: webhooks go out on schedule whatever the answers take, as Heap would send them.
async Task<List<string>> PaceAsync(string prefix, int duration)
{
    var ids = new List<string>();
    var inFlight = new List<Task>();
    var total = rate * duration;
    var watch = Stopwatch.StartNew();
    while (ids.Count < total)
    {
        var due = Math.Min(total, (int)(watch.Elapsed.TotalSeconds * rate) + 1);
        while (ids.Count < due)
        {
            var id = $"{prefix}-{ids.Count:D6}";
            ids.Add(id);
            inFlight.Add(SendAsync(id));
        }
        await Task.Delay(2);
    }
    await Task.WhenAll(inFlight);
    return ids;
}

await RedisCli("CONFIG", "RESETSTAT");
var cpuBefore = stack.Processes.ToDictionary(p => p.Name, p => Machine.CpuSeconds(p.Pid));
var run = Guid.NewGuid().ToString("N")[..6];
var warmupIds = await PaceAsync($"w{run}", warmup);
var measuredStarted = Stopwatch.StartNew();
// The second half of the measured run, when the JIT has mostly settled: CPU against the track calls Heap received then.
var secondHalf = Task.Run(async () =>
{
    await Task.Delay(TimeSpan.FromSeconds(seconds / 2.0));
    return (At: DateTimeOffset.UtcNow, Cpu: stack.Processes.ToDictionary(p => p.Name, p => Machine.CpuSeconds(p.Pid)));
});
var measuredIds = await PaceAsync($"m{run}", seconds);
var measuredFor = measuredStarted.Elapsed.TotalSeconds;
var (halfFrom, cpuAtHalf) = await secondHalf;
var halfTo = DateTimeOffset.UtcNow;
var cpuSecondHalf = stack.Processes.ToDictionary(p => p.Name, p => Machine.CpuSeconds(p.Pid) - cpuAtHalf[p.Name]);

// Every accepted webhook must come out as exactly one track call; wait up to 30 s for the last ones.
var expected = warmupIds.Concat(measuredIds).Where(accepted.ContainsKey).ToHashSet();
Dictionary<string, List<DateTimeOffset>> received = [];
var waitUntil = DateTime.UtcNow.AddSeconds(30);
do
{
    received = await ReceivedAsync();
    if (expected.All(received.ContainsKey))
    {
        break;
    }
    await Task.Delay(250);
}
while (DateTime.UtcNow < waitUntil);
var cpu = stack.Processes.ToDictionary(p => p.Name, p => Machine.CpuSeconds(p.Pid) - cpuBefore[p.Name]);
var commandStats = await RedisCli("INFO", "commandstats");

// Redis's own account of the run (CONFIG RESETSTAT before the warm-up): which commands the pipeline sends, and how
// many calls and how much server time each costs per trigger. Commands a script runs are counted under their own
// names as well as inside EVALSHA's time.
async Task<string> RedisCli(params string[] arguments)
{
    var info = new ProcessStartInfo("redis-cli") { RedirectStandardOutput = true, UseShellExecute = false };
    info.ArgumentList.Add("-p");
    info.ArgumentList.Add(stack.RedisPort.ToString(CultureInfo.InvariantCulture));
    foreach (var argument in arguments)
    {
        info.ArgumentList.Add(argument);
    }
    using var process = Process.Start(info)!;
    var output = await process.StandardOutput.ReadToEndAsync();
    await process.WaitForExitAsync();
    return output;
}

async Task<Dictionary<string, List<DateTimeOffset>>> ReceivedAsync()
{
    using var document = JsonDocument.Parse(await http.GetStringAsync(
        new Uri(stack.Heap, $"/_emulator/events?app_id={Stack.HeapApp}&event=Probe%20Delivered")));
    var byProbe = new Dictionary<string, List<DateTimeOffset>>();
    foreach (var recorded in document.RootElement.GetProperty("events").EnumerateArray())
    {
        var probe = recorded.GetProperty("properties").GetProperty("probe_id").GetString()!;
        var at = recorded.GetProperty("received_at").GetDateTimeOffset();
        (byProbe.TryGetValue(probe, out var list) ? list : byProbe[probe] = []).Add(at);
    }
    return byProbe;
}

var latencies = measuredIds
    .Where(id => accepted.ContainsKey(id) && received.ContainsKey(id))
    .Select(id => (received[id].Min() - accepted[id]).TotalMilliseconds)
    .Order()
    .ToArray();
if (options.GetValueOrDefault("dump") is { } dump)
{
    // For diagnosis: probe, edge 200 (Unix ms), emulator received_at (Unix ms), one line per measured webhook.
    await File.WriteAllLinesAsync(dump, measuredIds.Where(id => accepted.ContainsKey(id) && received.ContainsKey(id))
        .Select(id => $"{id} {accepted[id].ToUnixTimeMilliseconds()} {received[id].Min().ToUnixTimeMilliseconds()}"));
}
var missing = expected.Count(id => !received.ContainsKey(id));
var duplicated = received.Count(pair => pair.Value.Count > 1);
var measuredAccepted = measuredIds.Count(accepted.ContainsKey);
double Percentile(double p) => latencies.Length == 0 ? double.NaN : latencies[Math.Min(latencies.Length - 1, (int)Math.Ceiling(p * latencies.Length) - 1)];

Console.WriteLine($"  sent {measuredIds.Count} measured webhooks in {measuredFor:0.0} s ({measuredIds.Count / measuredFor:0} /s), " +
    $"{measuredAccepted} answered 200, {refused.Count} refused or failed (warm-up included)");
foreach (var problem in refused.Take(5))
{
    Console.WriteLine($"    {problem}");
}
Console.WriteLine($"  CPU seconds during the run: {string.Join(", ", cpu.Select(pair => $"{pair.Key} {pair.Value:0.0}"))}");
// Every accepted webhook (warm-up included) is one trigger; campaigns' share covers the whole trigger path in that
// process: stream read, match, audience call, render, enqueue, and the delivery engine's HTTP call to Heap.
var campaignsCpu = cpu.Where(pair => pair.Key.StartsWith("campaigns", StringComparison.Ordinal)).Sum(pair => pair.Value);
var cpuPerTriggerUs = expected.Count == 0 ? double.NaN : campaignsCpu / expected.Count * 1e6;
Console.WriteLine($"  CPU per trigger: campaigns {cpuPerTriggerUs:0} µs (goal <= 300 µs); " +
    string.Join(", ", cpu.Select(pair => $"{pair.Key} {(expected.Count == 0 ? double.NaN : pair.Value / expected.Count * 1e6):0} µs")));
var handledInSecondHalf = received.Values.Count(times => times.Min() >= halfFrom && times.Min() < halfTo);
if (handledInSecondHalf > 0)
{
    Console.WriteLine($"  CPU per trigger in the second half of the measured run ({handledInSecondHalf} track calls at Heap in " +
        $"{(halfTo - halfFrom).TotalSeconds:0.0} s): campaigns {cpuSecondHalf.Where(p => p.Key.StartsWith("campaigns", StringComparison.Ordinal)).Sum(p => p.Value) / handledInSecondHalf * 1e6:0} µs; " +
        string.Join(", ", cpuSecondHalf.Select(pair => $"{pair.Key} {pair.Value / handledInSecondHalf * 1e6:0} µs")));
}
if (expected.Count > 0)
{
    var stats = commandStats.Split('\n', StringSplitOptions.TrimEntries)
        .Where(line => line.StartsWith("cmdstat_", StringComparison.Ordinal))
        .Select(line =>
        {
            var fields = line[(line.IndexOf(':') + 1)..].Split(',').Select(f => f.Split('=')).ToDictionary(f => f[0], f => f[1]);
            return (Command: line[8..line.IndexOf(':')], Calls: long.Parse(fields["calls"], CultureInfo.InvariantCulture),
                Usec: long.Parse(fields["usec"], CultureInfo.InvariantCulture));
        })
        .OrderByDescending(s => s.Usec)
        .ToList();
    Console.WriteLine($"  redis per trigger (INFO commandstats over {expected.Count} triggers; a script's commands count under their own names too):");
    foreach (var (command, calls, usec) in stats.Take(20))
    {
        Console.WriteLine($"    {command,-22} {calls / (double)expected.Count,6:0.00} calls  {usec / (double)expected.Count,7:0.0} µs");
    }
}
Console.WriteLine($"trigger latency (edge 200 -> track received by the emulator): p50 {Percentile(0.50):0.0} ms, p90 {Percentile(0.90):0.0} ms, " +
    $"p99 {Percentile(0.99):0.0} ms, max {(latencies.Length > 0 ? latencies[^1] : double.NaN):0.0} ms; matched {latencies.Length}/{measuredIds.Count}");
Console.WriteLine($"triggered sends: {expected.Count - missing} of {expected.Count} accepted webhooks (warm-up included) arrived, " +
    $"{missing} missing, {duplicated} twice");

var p99 = Percentile(0.99);
var ok = missing == 0 && duplicated == 0 && refused.IsEmpty && latencies.Length == measuredIds.Count;
var met = ok && p99 < 1_000;
Console.WriteLine($"target p99 < 1000 ms: {(met ? "met" : ok ? "MISSED" : "not measured: webhooks refused or triggered sends missing")}");
if (resultsFile is not null)
{
    await File.WriteAllTextAsync(resultsFile, string.Join('|', "trigger", Percentile(0.5).ToString("0.0"), Percentile(0.9).ToString("0.0"),
        p99.ToString("0.0"), latencies.Length > 0 ? latencies[^1].ToString("0.0") : "NaN", latencies.Length, measuredIds.Count, missing) + "\n");
}
return met ? 0 : 1;
