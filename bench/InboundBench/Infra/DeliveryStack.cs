using System.Net.Http.Json;
using System.Net.Sockets;
using System.Text.Json.Nodes;
using Grpc.Core;
using Grpc.Net.Client;

namespace InboundBench.Infra;

/// <summary>
/// The campaign side as separate processes on loopback: redis-server (AOF on, everysec), ingestion, the Heap emulator
/// and campaigns from their Release builds, wired by environment variables as the AppHost would. Campaigns can be
/// killed (-9) and started again on the same ports.
/// </summary>
internal sealed class DeliveryStack : IAsyncDisposable
{
    public const string AdminToken = "bench-admin-token";
    public const string HeapApp = "fault-suite-app";

    private readonly string _root = Machine.RepositoryRoot();
    private readonly Dictionary<string, string> _campaignSettings;

    private DeliveryStack(string directory, Dictionary<string, string> campaignSettings)
    {
        Directory = directory;
        _campaignSettings = campaignSettings;
        RedisPort = Machine.FreePort();
        IngestionHttpPort = Machine.FreePort();
        IngestionGrpcPort = Machine.FreePort();
        HeapPort = Machine.FreePort();
        CampaignsHttpPort = Machine.FreePort();
        CampaignsGrpcPort = Machine.FreePort();
        IngestionChannel = GrpcChannel.ForAddress($"http://127.0.0.1:{IngestionGrpcPort}");
        CampaignsChannel = GrpcChannel.ForAddress($"http://127.0.0.1:{CampaignsGrpcPort}");
        Heap = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{HeapPort}"), Timeout = TimeSpan.FromSeconds(10) };
    }

    public string Directory { get; }

    public int RedisPort { get; }

    public int IngestionHttpPort { get; }

    public int IngestionGrpcPort { get; }

    public int HeapPort { get; }

    public int CampaignsHttpPort { get; }

    public int CampaignsGrpcPort { get; }

    public string RedisConnectionString => $"127.0.0.1:{RedisPort}";

    public string HeapTrackUrl => $"http://127.0.0.1:{HeapPort}/api/track";

    public GrpcChannel IngestionChannel { get; }

    public GrpcChannel CampaignsChannel { get; }

    /// <summary>The emulator, for its <c>/_emulator/*</c> API.</summary>
    public HttpClient Heap { get; }

    public static Metadata AdminHeaders { get; } = new() { { "authorization", $"Bearer {AdminToken}" } };

    public ManagedProcess RedisProcess { get; private set; } = null!;

    public ManagedProcess IngestionProcess { get; private set; } = null!;

    public ManagedProcess HeapProcess { get; private set; } = null!;

    public ManagedProcess CampaignsProcess { get; private set; } = null!;

    /// <param name="campaignSettings">Extra environment of the campaigns process (e.g. <c>Delivery__LogLength</c>).</param>
    public static async Task<DeliveryStack> StartAsync(IDictionary<string, string>? campaignSettings = null)
    {
        var directory = System.IO.Directory.CreateTempSubdirectory("delivery-faults-").FullName;
        var stack = new DeliveryStack(directory, new Dictionary<string, string>(campaignSettings ?? new Dictionary<string, string>()));
        try
        {
            await stack.StartRedisAsync();
            await Task.WhenAll(stack.StartIngestionAsync(), stack.StartHeapAsync());
            await stack.StartCampaignsAsync();
            return stack;
        }
        catch
        {
            await stack.DisposeAsync();
            throw;
        }
    }

    private async Task StartRedisAsync()
    {
        RedisProcess = await ManagedProcess.StartRedisAsync(RedisPort, Directory);
    }

    private async Task StartIngestionAsync()
    {
        IngestionProcess = ManagedProcess.Start("ingestion", Service("Integration.Ingestion"), [],
            new Dictionary<string, string>
            {
                ["ASPNETCORE_ENVIRONMENT"] = "Production",
                ["ConnectionStrings__redis"] = RedisConnectionString,
                ["Admin__Token"] = AdminToken,
                ["Kestrel__Endpoints__http__Url"] = $"http://127.0.0.1:{IngestionHttpPort}",
                ["Kestrel__Endpoints__grpc__Url"] = $"http://127.0.0.1:{IngestionGrpcPort}",
            }, Directory);
        await IngestionProcess.WaitHealthyAsync("ingestion", IngestionHttpPort);
    }

    private async Task StartHeapAsync()
    {
        // Heap's rate limits stay on: the engine's throttle has to keep under them while it retries.
        HeapProcess = ManagedProcess.Start("heap", Service("Integration.HeapEmulator"), [],
            new Dictionary<string, string>
            {
                ["ASPNETCORE_ENVIRONMENT"] = "Production",
                ["Kestrel__Endpoints__http__Url"] = $"http://127.0.0.1:{HeapPort}",
                ["HeapEmulator__Apps__0"] = HeapApp,
                ["Logging__LogLevel__Default"] = "Warning",
            }, Directory);
        await HeapProcess.WaitHealthyAsync("heap", HeapPort);
    }

    /// <summary>Starts campaigns (again, after a kill: same ports, a new runner consumer name).</summary>
    public async Task StartCampaignsAsync()
    {
        var environment = new Dictionary<string, string>
        {
            ["ASPNETCORE_ENVIRONMENT"] = "Production",
            ["ConnectionStrings__redis"] = RedisConnectionString,
            ["Admin__Token"] = AdminToken,
            ["Ingestion__Address"] = $"http://127.0.0.1:{IngestionGrpcPort}",
            ["Campaigns__AllowedHosts__0"] = "127.0.0.1",
            ["Kestrel__Endpoints__http__Url"] = $"http://127.0.0.1:{CampaignsHttpPort}",
            ["Kestrel__Endpoints__grpc__Url"] = $"http://127.0.0.1:{CampaignsGrpcPort}",
        };
        foreach (var (key, value) in _campaignSettings)
        {
            environment[key] = value;
        }
        CampaignsProcess = ManagedProcess.Start("campaigns", Service("Integration.Campaigns"), [], environment, Directory);
        await CampaignsProcess.WaitHealthyAsync("campaigns", CampaignsHttpPort);
    }

    /// <summary>POST /_emulator/faults with a rule such as <c>{"status":429,"retry_after_seconds":2,"count":50}</c>.</summary>
    public async Task AddFaultAsync(string ruleJson)
    {
        using var content = new StringContent(ruleJson, System.Text.Encoding.UTF8, "application/json");
        using var response = await Heap.PostAsync("/_emulator/faults", content);
        if (!response.IsSuccessStatusCode)
        {
            throw new InvalidOperationException($"fault {ruleJson} refused: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
        }
    }

    public async Task ClearFaultsAsync()
    {
        using var response = await Heap.DeleteAsync("/_emulator/faults");
        response.EnsureSuccessStatusCode();
    }

    public async Task<JsonObject> HeapStatsAsync() =>
        (await Heap.GetFromJsonAsync<JsonObject>("/_emulator/stats"))!;

    public async Task<JsonArray> HeapEventsAsync() =>
        (JsonArray)(await Heap.GetFromJsonAsync<JsonObject>($"/_emulator/events?app_id={HeapApp}"))!["events"]!;

    private string Service(string project) => Path.Combine(_root, $"src/{project}/bin/Release/net10.0/{project}.dll");

    public async ValueTask DisposeAsync()
    {
        IngestionChannel.Dispose();
        CampaignsChannel.Dispose();
        Heap.Dispose();
        foreach (var process in new[] { CampaignsProcess, HeapProcess, IngestionProcess, RedisProcess })
        {
            process?.Dispose();
        }
        await Task.Yield();
        if (Environment.GetEnvironmentVariable("BENCH_KEEP_LOGS") is null)
        {
            try
            {
                System.IO.Directory.Delete(Directory, recursive: true);
            }
            catch (IOException)
            {
            }
        }
    }
}
