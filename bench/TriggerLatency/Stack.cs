using InboundBench.Infra;

namespace TriggerLatency;

/// <summary>
/// The whole event-triggered path as separate processes from their Release builds, on loopback, wired by
/// environment variables as the AppHost would: redis-server (AOF everysec), ingestion, edge, campaigns and the Heap
/// emulator (limits off). Every process is killed when the bench ends; logs stay in a temporary folder
/// (kept with BENCH_KEEP_LOGS=1).
/// </summary>
internal sealed class Stack : IAsyncDisposable
{
    public const string AdminToken = "bench-admin-token";
    public const string HeapApp = "bench-app";

    private readonly string _root = Machine.RepositoryRoot();
    private readonly List<ManagedProcess> _processes = [];

    private Stack(string directory) => Directory = directory;

    public string Directory { get; }

    public int RedisPort { get; } = Machine.FreePort();
    public int IngestionHttpPort { get; } = Machine.FreePort();
    public int IngestionGrpcPort { get; } = Machine.FreePort();
    public int EdgePort { get; } = Machine.FreePort();
    public int HeapPort { get; } = Machine.FreePort();
    public int CampaignsHttpPort { get; } = Machine.FreePort();
    public int CampaignsGrpcPort { get; } = Machine.FreePort();

    public Uri Edge => new($"http://127.0.0.1:{EdgePort}");
    public Uri Heap => new($"http://127.0.0.1:{HeapPort}");
    public Uri IngestionGrpc => new($"http://127.0.0.1:{IngestionGrpcPort}");
    public Uri CampaignsGrpc => new($"http://127.0.0.1:{CampaignsGrpcPort}");

    public IReadOnlyList<ManagedProcess> Processes => _processes;

    /// <summary>Starts the stack with <paramref name="campaignReplicas"/> campaigns processes sharing the trigger work.</summary>
    public static async Task<Stack> StartAsync(IDictionary<string, string> campaignSettings, int campaignReplicas = 1)
    {
        var stack = new Stack(System.IO.Directory.CreateTempSubdirectory("trigger-latency-").FullName);
        try
        {
            await stack.StartAllAsync(campaignSettings, campaignReplicas);
            return stack;
        }
        catch
        {
            await stack.DisposeAsync();
            throw;
        }
    }

    private async Task StartAllAsync(IDictionary<string, string> campaignSettings, int campaignReplicas)
    {
        _processes.Add(await ManagedProcess.StartRedisAsync(RedisPort, Directory));
        var redisConnection = $"127.0.0.1:{RedisPort}";

        var ingestion = StartService("ingestion", "Integration.Ingestion", new()
        {
            ["ConnectionStrings__redis"] = redisConnection,
            ["Admin__Token"] = AdminToken,
            ["Kestrel__Endpoints__http__Url"] = $"http://127.0.0.1:{IngestionHttpPort}",
            ["Kestrel__Endpoints__grpc__Url"] = $"http://127.0.0.1:{IngestionGrpcPort}",
        });
        var heap = StartService("heap", "Integration.HeapEmulator", new()
        {
            ["Kestrel__Endpoints__http__Url"] = $"http://127.0.0.1:{HeapPort}",
            ["HeapEmulator__EnforceLimits"] = "false",
            ["HeapEmulator__Apps__0"] = HeapApp,
        });
        await Task.WhenAll(ingestion.WaitHealthyAsync("ingestion", IngestionHttpPort), heap.WaitHealthyAsync("heap", HeapPort));

        var edge = StartService("edge", "Integration.Edge", new()
        {
            ["ConnectionStrings__redis"] = redisConnection,
            ["Ingestion__Address"] = $"http://127.0.0.1:{IngestionGrpcPort}",
            ["Kestrel__Endpoints__http__Url"] = $"http://127.0.0.1:{EdgePort}",
        });
        var campaigns = new List<Task>();
        for (var replica = 0; replica < campaignReplicas; replica++)
        {
            // The first replica answers the bench's gRPC calls; the others only share the runner's work.
            var httpPort = replica == 0 ? CampaignsHttpPort : Machine.FreePort();
            var campaignEnvironment = new Dictionary<string, string>
            {
                ["ConnectionStrings__redis"] = redisConnection,
                ["Admin__Token"] = AdminToken,
                ["Ingestion__Address"] = $"http://127.0.0.1:{IngestionGrpcPort}",
                ["Campaigns__AllowedHosts__0"] = "127.0.0.1",
                ["Kestrel__Endpoints__http__Url"] = $"http://127.0.0.1:{httpPort}",
                ["Kestrel__Endpoints__grpc__Url"] = $"http://127.0.0.1:{(replica == 0 ? CampaignsGrpcPort : Machine.FreePort())}",
            };
            foreach (var (key, value) in campaignSettings)
            {
                campaignEnvironment[key] = value;
            }
            // For experiments: BENCH_CAMPAIGNS_ENV_X=y gives the campaigns processes alone X=y (BENCH_ENV_X: every service).
            foreach (System.Collections.DictionaryEntry entry in Environment.GetEnvironmentVariables())
            {
                if (entry.Key is string key && key.StartsWith("BENCH_CAMPAIGNS_ENV_", StringComparison.Ordinal) && entry.Value is string value)
                {
                    campaignEnvironment[key["BENCH_CAMPAIGNS_ENV_".Length..]] = value;
                }
            }
            var name = replica == 0 ? "campaigns" : $"campaigns{replica + 1}";
            campaigns.Add(StartService(name, "Integration.Campaigns", campaignEnvironment).WaitHealthyAsync(name, httpPort));
        }
        await Task.WhenAll([edge.WaitHealthyAsync("edge", EdgePort), .. campaigns]);
    }

    private ManagedProcess StartService(string name, string project, Dictionary<string, string> environment)
    {
        environment["ASPNETCORE_ENVIRONMENT"] = "Production";
        var dll = Path.Combine(_root, "src", project, "bin/Release/net10.0", project + ".dll");
        var service = ManagedProcess.Start(name, dll, [], environment, Directory);
        _processes.Add(service);
        return service;
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var service in Enumerable.Reverse(_processes))
        {
            service.Dispose();
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
        else
        {
            Console.WriteLine($"logs kept in {Directory}");
        }
    }
}
