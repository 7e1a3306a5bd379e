using System.Net.Sockets;
using System.Text;
using Grpc.Core;
using Grpc.Net.Client;
using Integration.Admin.V1;

namespace InboundBench.Infra;

/// <summary>
/// The inbound path as separate processes on loopback: redis-server (AOF on, everysec), ingestion and the edge from
/// their Release builds, wired by environment variables as the AppHost would. Each part can be killed (-9) and started
/// again on the same ports and data folder.
/// </summary>
internal sealed class InboundStack : IAsyncDisposable
{
    public const string AdminToken = "bench-admin-token";
    public const string ConfigName = "heap";

    private readonly string _root = Machine.RepositoryRoot();
    private readonly Dictionary<string, string> _edgeSettings;

    private InboundStack(string directory, Dictionary<string, string> edgeSettings)
    {
        Directory = directory;
        _edgeSettings = edgeSettings;
        RedisPort = Machine.FreePort();
        IngestionHttpPort = Machine.FreePort();
        IngestionGrpcPort = Machine.FreePort();
        EdgePort = Machine.FreePort();
        Channel = GrpcChannel.ForAddress($"http://127.0.0.1:{IngestionGrpcPort}");
    }

    public string Directory { get; }

    public int RedisPort { get; }

    public int IngestionHttpPort { get; }

    public int IngestionGrpcPort { get; }

    public int EdgePort { get; }

    public Uri EdgeAddress => new($"http://127.0.0.1:{EdgePort}");

    public string RedisConnectionString => $"127.0.0.1:{RedisPort}";

    public ManagedProcess Redis { get; private set; } = null!;

    public ManagedProcess Ingestion { get; private set; } = null!;

    public ManagedProcess Edge { get; private set; } = null!;

    public GrpcChannel Channel { get; }

    public static async Task<InboundStack> StartAsync(IDictionary<string, string>? edgeSettings = null)
    {
        var directory = System.IO.Directory.CreateTempSubdirectory("inbound-bench-").FullName;
        var stack = new InboundStack(directory, new Dictionary<string, string>(edgeSettings ?? new Dictionary<string, string>()));
        try
        {
            await stack.StartRedisAsync();
            await stack.StartIngestionAsync();
            await stack.StartEdgeAsync();
            return stack;
        }
        catch
        {
            await stack.DisposeAsync();
            throw;
        }
    }

    public async Task StartRedisAsync()
    {
        Redis = await ManagedProcess.StartRedisAsync(RedisPort, Directory);
    }

    public async Task StartIngestionAsync()
    {
        Ingestion = ManagedProcess.Start("ingestion", Path.Combine(_root, "src/Integration.Ingestion/bin/Release/net10.0/Integration.Ingestion.dll"), [],
            new Dictionary<string, string>
            {
                ["ASPNETCORE_ENVIRONMENT"] = "Production",
                ["ConnectionStrings__redis"] = RedisConnectionString,
                ["Admin__Token"] = AdminToken,
                ["Kestrel__Endpoints__http__Url"] = $"http://127.0.0.1:{IngestionHttpPort}",
                ["Kestrel__Endpoints__grpc__Url"] = $"http://127.0.0.1:{IngestionGrpcPort}",
            }, Directory);
        await Ingestion.WaitHealthyAsync("ingestion", IngestionHttpPort);
    }

    public async Task StartEdgeAsync()
    {
        var environment = new Dictionary<string, string>
        {
            ["ASPNETCORE_ENVIRONMENT"] = "Production",
            ["ConnectionStrings__redis"] = RedisConnectionString,
            ["Ingestion__Address"] = $"http://127.0.0.1:{IngestionGrpcPort}",
            ["Kestrel__Endpoints__http__Url"] = $"http://127.0.0.1:{EdgePort}",
        };
        foreach (var (key, value) in _edgeSettings)
        {
            environment[key] = value;
        }
        Edge = ManagedProcess.Start("edge", Path.Combine(_root, "src/Integration.Edge/bin/Release/net10.0/Integration.Edge.dll"), [],
            environment, Directory);
        await Edge.WaitHealthyAsync("edge", EdgePort);
    }

    /// <summary>Creates workspaces <c>{prefix}0001…</c>, each with config "heap" (email identifier, every module).</summary>
    public async Task<IReadOnlyList<Workspace>> ProvisionAsync(string prefix, int count, int rateLimit)
    {
        var admin = new Admin.AdminClient(Channel);
        var headers = new Metadata { { "authorization", $"Bearer {AdminToken}" } };
        var workspaces = new Workspace[count];
        await Parallel.ForAsync(0, count, new ParallelOptions { MaxDegreeOfParallelism = 8 }, async (i, ct) =>
        {
            var id = $"{prefix}{i + 1:D4}";
            var created = await admin.CreateWorkspaceAsync(new CreateWorkspaceRequest { WorkspaceId = id, RateLimitPerSecond = rateLimit },
                headers, deadline: DateTime.UtcNow.AddSeconds(30), cancellationToken: ct);
            var config = new IntegrationConfig { WorkspaceId = id, ConfigName = ConfigName, IdentifierKind = IdentifierKind.Email };
            config.Modules.AddRange([SyncModule.Users, SyncModule.Events]);
            await admin.CreateIntegrationConfigAsync(new CreateIntegrationConfigRequest { Config = config }, headers,
                deadline: DateTime.UtcNow.AddSeconds(30), cancellationToken: ct);
            workspaces[i] = new Workspace(id, created.DataApiKey);
        });
        return workspaces;
    }

    public async ValueTask DisposeAsync()
    {
        Channel.Dispose();
        foreach (var process in new[] { Edge, Ingestion, Redis })
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

/// <summary>A provisioned workspace and its data API key.</summary>
internal sealed record Workspace(string Id, string Key)
{
    public string BasicAuthorization => "Basic " + Convert.ToBase64String(Encoding.UTF8.GetBytes($"{Id}:{Key}"));
}
