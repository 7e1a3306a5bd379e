extern alias ingestion;

using System.Net.Http.Headers;
using System.Text;
using Grpc.Core;
using Grpc.Net.Client;
using Integration.Admin.V1;
using Integration.Testing;
using AdminClient = Integration.Admin.V1.Admin.AdminClient;
using IngestionClient = Integration.Ingestion.V1.Ingestion.IngestionClient;

namespace Integration.Edge.Tests;

/// <summary>
/// The inbound path as it runs under the AppHost: a real redis-server, the ingestion service on real
/// Kestrel (gRPC over HTTP/2) and the edge on real Kestrel, talking over loopback.
/// </summary>
public sealed class InboundPipeline : IAsyncLifetime
{
    public const string AdminToken = "test-admin-token";

    public RedisServer Redis { get; } = new();

    public KestrelServiceFactory<ingestion::Program> Ingestion { get; private set; } = null!;

    public KestrelServiceFactory<Program> Edge { get; private set; } = null!;

    public GrpcChannel IngestionChannel { get; private set; } = null!;

    public AdminClient AdminApi { get; private set; } = null!;

    public IngestionClient IngestionApi { get; private set; } = null!;

    public Metadata AdminHeaders { get; } = new() { { "authorization", $"Bearer {AdminToken}" } };

    public async Task InitializeAsync()
    {
        await Redis.InitializeAsync();
        Ingestion = new KestrelServiceFactory<ingestion::Program>(new Dictionary<string, string?>
        {
            ["ConnectionStrings:redis"] = Redis.ConnectionString,
            ["Admin:Token"] = AdminToken,
        }, grpc: true);
        IngestionChannel = Ingestion.CreateGrpcChannel();
        AdminApi = new AdminClient(IngestionChannel);
        IngestionApi = new IngestionClient(IngestionChannel);

        Edge = CreateEdge();
        Edge.StartServer();
    }

    /// <summary>An edge replica pointed at this pipeline's Redis and ingestion, with extra settings.</summary>
    public KestrelServiceFactory<Program> CreateEdge(IDictionary<string, string?>? settings = null, string? redisConnectionString = null, string? ingestionAddress = null)
    {
        var all = new Dictionary<string, string?>
        {
            ["ConnectionStrings:redis"] = redisConnectionString ?? Redis.ConnectionString,
            ["Ingestion:Address"] = ingestionAddress ?? $"http://127.0.0.1:{Ingestion.GrpcPort}",
            ["Edge:CredentialCacheSeconds"] = "1",
            ["Edge:UnknownWorkspaceCacheSeconds"] = "1",
        };
        foreach (var (key, value) in settings ?? new Dictionary<string, string?>())
        {
            all[key] = value;
        }
        return new KestrelServiceFactory<Program>(all);
    }

    /// <summary>Creates a workspace with a config and returns its data API key.</summary>
    public async Task<string> CreateWorkspaceAsync(string workspaceId, IdentifierKind kind = IdentifierKind.Email, int rateLimit = 500,
        string configName = "heap", params SyncModule[] modules)
    {
        var created = await AdminApi.CreateWorkspaceAsync(new CreateWorkspaceRequest { WorkspaceId = workspaceId, RateLimitPerSecond = rateLimit },
            AdminHeaders, deadline: DateTime.UtcNow.AddSeconds(60));
        var config = new IntegrationConfig { WorkspaceId = workspaceId, ConfigName = configName, IdentifierKind = kind };
        config.Modules.AddRange(modules);
        await AdminApi.CreateIntegrationConfigAsync(new CreateIntegrationConfigRequest { Config = config }, AdminHeaders, deadline: DateTime.UtcNow.AddSeconds(60));
        return created.DataApiKey;
    }

    public static HttpRequestMessage Webhook(string module, string workspaceId, string key, string json, string configName = "heap", string? path = null)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, path ?? $"/v1/partner/heap-analytics/{module}/?configName={configName}")
        {
            Content = new StringContent(json, Encoding.UTF8, "application/json"),
        };
        request.Headers.Authorization = new AuthenticationHeaderValue("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes($"{workspaceId}:{key}")));
        return request;
    }

    public async Task DisposeAsync()
    {
        IngestionChannel.Dispose();
        await Edge.DisposeAsync();
        await Ingestion.DisposeAsync();
        await Redis.DisposeAsync();
    }
}

[CollectionDefinition(Name)]
public sealed class InboundCollection : ICollectionFixture<InboundPipeline>
{
    public const string Name = "inbound";
}
