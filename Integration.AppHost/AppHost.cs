using Integration.AppHost;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Hosting;

var builder = DistributedApplication.CreateBuilder(args);

// Guards the administrative gRPC APIs (admin, campaigns). Development default in appsettings.Development.json.
var adminToken = builder.AddParameter("admin-token", secret: true);
// Guards ingestion's internal APIs (Ingestion, Segments), which only the edge and campaigns call.
var internalToken = builder.AddParameter("internal-token", secret: true);

var redis = builder.AddIntegrationRedis("redis");

var ingestion = builder.AddProject<Projects.Integration_Ingestion>("ingestion")
    .WithHostEnvironment()
    .WithConfiguredReplicas("Ingestion")
    .WithFixedPort("grpc", "Ingestion")
    .WithHttpHealthCheck("/health", endpointName: "http")
    .WithEnvironment("Admin__Token", adminToken)
    .WithEnvironment("Internal__Token", internalToken)
    .WithReference(redis).WaitFor(redis);

var heap = builder.AddProject<Projects.Integration_HeapEmulator>("heap")
    .WithHostEnvironment()
    .WithFixedPort("http", "Heap")
    .WithHttpHealthCheck("/health");

var edge = builder.AddProject<Projects.Integration_Edge>("edge")
    .WithHostEnvironment()
    .WithConfiguredReplicas("Edge")
    .WithFixedPort("http", "Edge")
    .WithHttpHealthCheck("/health")
    .WithExternalHttpEndpoints()
    .WithEnvironment("Internal__Token", internalToken)
    .WithReference(redis).WaitFor(redis)
    // The edge cannot accept anything before ingestion can store it.
    .WithReference(ingestion).WaitFor(ingestion);

// Integration configs print their webhook URLs with the edge's address.
ingestion.WithEnvironment("Ingestion__EdgePublicBaseUrl", edge.GetEndpoint("http"));

var campaigns = builder.AddProject<Projects.Integration_Campaigns>("campaigns")
    .WithHostEnvironment()
    .WithConfiguredReplicas("Campaigns")
    .WithFixedPort("grpc", "Campaigns")
    .WithHttpHealthCheck("/health", endpointName: "http")
    .WithEnvironment("Admin__Token", adminToken)
    .WithEnvironment("Internal__Token", internalToken)
    .WithReference(redis).WaitFor(redis)
    .WithReference(ingestion).WaitFor(ingestion)
    .WithReference(heap);

if (builder.Environment.IsDevelopment())
{
    // The demo workspace and its heap-demo config, so the README's curl examples work right after start.
    var demoWorkspace = builder.AddParameter("demo-workspace-id");
    var demoKey = builder.AddParameter("demo-data-api-key", secret: true);
    // The key Heap's segment sync signs with for heap-demo (README: "Try the segment sync").
    var demoSyncSecret = builder.AddParameter("demo-sync-secret", secret: true);
    ingestion
        .WithEnvironment("Demo__Enabled", "true")
        .WithEnvironment("Demo__WorkspaceId", demoWorkspace)
        .WithEnvironment("Demo__DataApiKey", demoKey)
        .WithEnvironment("Demo__SyncSecret", demoSyncSecret);

    // Realistic Heap webhooks against the demo workspace, so the dashboard fills up within a minute.
    if (builder.Configuration.GetValue("HeapTraffic:Enabled", true))
    {
        builder.AddProject<Projects.Integration_HeapTraffic>("heap-traffic")
            .WithHostEnvironment()
            .WithEnvironment("HeapTraffic__WorkspaceId", demoWorkspace)
            .WithEnvironment("HeapTraffic__DataApiKey", demoKey)
            // It also creates the guide's three campaigns (drop-off, feature adoption, trial conversion) aimed at the emulator.
            .WithEnvironment("HeapTraffic__AdminToken", adminToken)
            .WithEnvironment("HeapTraffic__HeapTrackUrl", ReferenceExpression.Create($"{heap.GetEndpoint("http")}/api/track"))
            .WithReference(edge).WaitFor(edge)
            .WithReference(campaigns).WaitFor(campaigns);
    }
}

builder.Build().Run();
