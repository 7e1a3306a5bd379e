using System.Diagnostics;
using System.Globalization;
using Grpc.Core;
using Grpc.Net.Client;
using InboundBench.Infra;
using Integration.Admin.V1;
using Integration.Common.V1;
using Integration.Ingestion.V1;
using Integration.Segments.V1;

// Audiences at scale (issue 14, item 5): stores --users users (profile with a country, 0-3 "Purchased" events in the
// last 30 days) through ingestion's Ingest batch RPC into a fresh redis-server, then counts a segment with an event
// filter (did Purchased at least twice in the last 30 days AND country = US) through the Segments gRPC API, --runs
// times, and prints users evaluated per second against the goal (100,000/s). The expected count is known from the
// seed, so a wrong answer fails the bench too.
CultureInfo.DefaultThreadCurrentCulture = CultureInfo.InvariantCulture;
CultureInfo.CurrentCulture = CultureInfo.InvariantCulture;

var help = args.Any(a => a is "-h" or "--help");
if (help || BenchArguments.Parse(args, 0, out _) is not { } options)
{
    Console.WriteLine("AudienceBench [--users 200000] [--runs 3] [--batch 1000] [--concurrency 4] [--goal 100000]");
    return help ? 0 : 2;
}
int Int(string name, int fallback) => options.Int(name, fallback);
var userCount = Int("users", 200_000);
var runs = Int("runs", 3);
var batchSize = Int("batch", 1000);
var concurrency = Int("concurrency", 4);
var goal = Int("goal", 100_000);
const string AdminToken = "bench-admin-token";
const string WorkspaceId = "audience";

Console.WriteLine($"audience bench: {Environment.ProcessorCount} cores, load average {Machine.LoadAverage()}");
Console.WriteLine($"  {userCount:N0} users, {runs} counts, seeding in batches of {batchSize} x {concurrency}");

var directory = Directory.CreateTempSubdirectory("audience-bench-").FullName;
var redisPort = Machine.FreePort();
var httpPort = Machine.FreePort();
var grpcPort = Machine.FreePort();
using var redis = await ManagedProcess.StartRedisAsync(redisPort, directory);
var dll = Path.Combine(Machine.RepositoryRoot(), "src/Integration.Ingestion/bin/Release/net10.0/Integration.Ingestion.dll");
using var ingestion = ManagedProcess.Start("ingestion", dll, [], new Dictionary<string, string>
{
    ["ASPNETCORE_ENVIRONMENT"] = "Production",
    ["ConnectionStrings__redis"] = $"127.0.0.1:{redisPort}",
    ["Admin__Token"] = AdminToken,
    ["Kestrel__Endpoints__http__Url"] = $"http://127.0.0.1:{httpPort}",
    ["Kestrel__Endpoints__grpc__Url"] = $"http://127.0.0.1:{grpcPort}",
}, directory);
await ingestion.WaitHealthyAsync("ingestion", httpPort);

using var channel = GrpcChannel.ForAddress($"http://127.0.0.1:{grpcPort}");
var auth = new Metadata { { "authorization", $"Bearer {AdminToken}" } };
var admin = new Admin.AdminClient(channel);
await admin.CreateWorkspaceAsync(new CreateWorkspaceRequest { WorkspaceId = WorkspaceId }, auth);
await admin.CreateIntegrationConfigAsync(new CreateIntegrationConfigRequest
{
    Config = new IntegrationConfig { WorkspaceId = WorkspaceId, ConfigName = "heap", IdentifierKind = IdentifierKind.ExternalId },
}, auth);

// User u: country US when u % 4 == 0; u % 4 purchases... spread so both conditions matter: purchases = u % 3 (0, 1 or 2),
// within the last 30 days except every fifth user's, which are 40 days old (outside the window).
var now = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
var day = TimeSpan.FromDays(1).TotalMilliseconds;
bool Us(int u) => u % 4 == 0;
int Purchases(int u) => u % 3;
long PurchaseTime(int u, int n) => now - (long)((u % 5 == 0 ? 40 : 1 + (u + n) % 28) * day);
var expected = Enumerable.Range(0, userCount).Count(u => Us(u) && Purchases(u) >= 2 && u % 5 != 0);

IEnumerable<IngestItem> ItemsOf(int u)
{
    var cid = "user" + u.ToString(CultureInfo.InvariantCulture);
    var profile = new UserRecord { CustomerId = cid, UpdatedAtMs = now };
    profile.Attributes["country"] = new AttributeValue { StringValue = Us(u) ? "US" : "DE" };
    profile.Attributes["plan"] = new AttributeValue { StringValue = u % 2 == 0 ? "pro" : "free" };
    profile.Attributes["seats"] = new AttributeValue { NumberValue = u % 50 };
    yield return new IngestItem { WorkspaceId = WorkspaceId, ConfigName = "heap", PayloadId = Guid.NewGuid().ToString("N"), User = profile };
    for (var n = 0; n < Purchases(u); n++)
    {
        var e = new EventRecord { User = new UserRecord { CustomerId = cid }, EventName = "Purchased", EventTimeMs = PurchaseTime(u, n), Module = 2 };
        e.Attributes["amount"] = new AttributeValue { NumberValue = 10 + u % 90 };
        e.Attributes["currency"] = new AttributeValue { StringValue = "USD" };
        yield return new IngestItem { WorkspaceId = WorkspaceId, ConfigName = "heap", PayloadId = Guid.NewGuid().ToString("N"), Event = e };
    }
}

var ingest = new Ingestion.IngestionClient(channel);
var seedWatch = Stopwatch.StartNew();
var batches = Enumerable.Range(0, userCount).SelectMany(ItemsOf).Chunk(batchSize).ToList();
long records = 0;
await Parallel.ForEachAsync(batches, new ParallelOptions { MaxDegreeOfParallelism = concurrency }, async (batch, ct) =>
{
    var request = new IngestBatchRequest();
    request.Items.AddRange(batch);
    var response = await ingest.IngestAsync(request, auth, DateTime.UtcNow.AddSeconds(60), ct);
    if (response.Results.FirstOrDefault(r => r.Outcome is not IngestOutcome.Stored) is { } bad)
    {
        throw new InvalidOperationException($"seeding: {bad.Outcome} {bad.Error}");
    }
    Interlocked.Add(ref records, batch.Length);
});
Console.WriteLine($"seeded {records:N0} records ({userCount:N0} users) in {seedWatch.Elapsed.TotalSeconds:F1} s");

var segment = new SegmentDefinition();
segment.Filters.Add(new Filter
{
    Event = new EventFilter
    {
        EventName = "Purchased", Condition = EventCondition.Count, CountOperator = CountOperator.AtLeast, Count = 2, WithinLastDays = 30,
    },
});
segment.Filters.Add(new Filter
{
    Attribute = new AttributeFilter { Attribute = "country", Operator = AttributeOperator.Equals, Value = new AttributeValue { StringValue = "US" } },
});
var segments = new Segments.SegmentsClient(channel);
var rates = new List<double>();
var correct = true;
for (var run = 0; run < runs; run++)
{
    var cpuBefore = (Redis: Machine.CpuSeconds(redis.Pid), Ingestion: Machine.CpuSeconds(ingestion.Pid));
    var watch = Stopwatch.StartNew();
    var count = await segments.CountSegmentAsync(new CountSegmentRequest { WorkspaceId = WorkspaceId, Segment = segment }, auth, DateTime.UtcNow.AddMinutes(5));
    var seconds = watch.Elapsed.TotalSeconds;
    var rate = count.Total / seconds;
    rates.Add(rate);
    correct &= count.Matching == expected && count.Total == userCount;
    Console.WriteLine($"count {run + 1}: {count.Matching:N0} of {count.Total:N0} users match (expected {expected:N0}) in {seconds:F2} s: " +
        $"{rate:N0} users/s; cpu redis {Machine.CpuSeconds(redis.Pid) - cpuBefore.Redis:F2} s, ingestion {Machine.CpuSeconds(ingestion.Pid) - cpuBefore.Ingestion:F2} s");
}

var best = rates.Max();
var median = rates.Order().ElementAt(rates.Count / 2);
var met = correct && best >= goal;
Console.WriteLine($"load average after: {Machine.LoadAverage()}");
Console.WriteLine($"audience count: {median:N0} users/s median, {best:N0} best over {userCount:N0} users (32 partitions in parallel); " +
    $"target >= {goal:N0} users/s: {(met ? "MET" : correct ? "MISSED" : "WRONG COUNT")}");
try
{
    Directory.Delete(directory, recursive: true);
}
catch (IOException)
{
}
return met ? 0 : 1;
