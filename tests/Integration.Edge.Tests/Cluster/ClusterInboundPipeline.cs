extern alias ingestion;

using Grpc.Core;
using Grpc.Net.Client;
using Integration.Admin.V1;
using Integration.Testing;
using StackExchange.Redis;
using AdminClient = Integration.Admin.V1.Admin.AdminClient;
using IngestionClient = Integration.Ingestion.V1.Ingestion.IngestionClient;

namespace Integration.Edge.Tests.Cluster;

/// <summary>
/// The inbound path on a real three-master Redis Cluster: ingestion and the edge on real Kestrel, both given the
/// cluster's connection string, exactly as production would give them a managed Redis Cluster.
/// </summary>
public sealed class ClusterInboundPipeline : IAsyncLifetime
{
    public RedisCluster Cluster { get; } = new();

    internal KestrelServiceFactory<ingestion::Program> Ingestion { get; private set; } = null!;

    internal KestrelServiceFactory<Program> Edge { get; private set; } = null!;

    public GrpcChannel IngestionChannel { get; private set; } = null!;

    public AdminClient AdminApi { get; private set; } = null!;

    public IngestionClient IngestionApi { get; private set; } = null!;

    /// <summary>A cluster-aware client of the tests' own, to look at where keys landed.</summary>
    public ConnectionMultiplexer Redis { get; private set; } = null!;

    public Metadata AdminHeaders { get; } = new() { { "authorization", $"Bearer {InboundPipeline.AdminToken}" } };

    public async Task InitializeAsync()
    {
        await Cluster.InitializeAsync();
        Redis = await ConnectionMultiplexer.ConnectAsync(Cluster.ConnectionString);
        Ingestion = new KestrelServiceFactory<ingestion::Program>(new Dictionary<string, string?>
        {
            ["ConnectionStrings:redis"] = Cluster.ConnectionString,
            ["Admin:Token"] = InboundPipeline.AdminToken,
            ["Logging:LogLevel:Default"] = "Warning",
        }, grpc: true);
        IngestionChannel = Ingestion.CreateGrpcChannel();
        AdminApi = new AdminClient(IngestionChannel);
        IngestionApi = new IngestionClient(IngestionChannel);
        Edge = new KestrelServiceFactory<Program>(new Dictionary<string, string?>
        {
            ["ConnectionStrings:redis"] = Cluster.ConnectionString,
            ["Ingestion:Address"] = $"http://127.0.0.1:{Ingestion.GrpcPort}",
            ["Edge:CredentialCacheSeconds"] = "1",
            ["Edge:UnknownWorkspaceCacheSeconds"] = "1",
            ["RateLimiting:Timeout"] = "00:00:05",
            ["Logging:LogLevel:Default"] = "Warning",
        });
        Edge.StartServer();
    }

    /// <summary>Creates a workspace with an email config named <c>heap</c> and returns its data API key.</summary>
    public async Task<string> CreateWorkspaceAsync(string workspaceId, int rateLimit = 500)
    {
        var created = await AdminApi.CreateWorkspaceAsync(new CreateWorkspaceRequest { WorkspaceId = workspaceId, RateLimitPerSecond = rateLimit },
            AdminHeaders, deadline: DateTime.UtcNow.AddSeconds(60));
        var config = new IntegrationConfig { WorkspaceId = workspaceId, ConfigName = "heap", IdentifierKind = IdentifierKind.Email };
        await AdminApi.CreateIntegrationConfigAsync(new CreateIntegrationConfigRequest { Config = config }, AdminHeaders,
            deadline: DateTime.UtcNow.AddSeconds(60));
        return created.DataApiKey;
    }

    /// <summary>The master (by port) that holds <paramref name="key"/>.</summary>
    public int PortOf(RedisKey key)
    {
        return Redis.GetDatabase().IdentifyEndpoint(key) switch
        {
            System.Net.IPEndPoint ip => ip.Port,
            System.Net.DnsEndPoint dns => dns.Port,
            var other => throw new InvalidOperationException($"Unexpected endpoint {other} for {key}."),
        };
    }

    public async Task DisposeAsync()
    {
        IngestionChannel.Dispose();
        await Edge.DisposeAsync();
        await Ingestion.DisposeAsync();
        await Redis.DisposeAsync();
        await Cluster.DisposeAsync();
    }
}

[CollectionDefinition(Name)]
public sealed class ClusterInboundCollection : ICollectionFixture<ClusterInboundPipeline>
{
    public const string Name = "inbound on Redis Cluster";
}
