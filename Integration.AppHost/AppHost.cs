using Integration.AppHost;
using Microsoft.Extensions.Hosting;

var builder = DistributedApplication.CreateBuilder(args);

// Guards the administrative gRPC APIs (admin, campaigns). Development default in appsettings.Development.json.
var adminToken = builder.AddParameter("admin-token", secret: true);

var redis = builder.AddIntegrationRedis("redis");

var ingestion = builder.AddProject<Projects.Integration_Ingestion>("ingestion")
    .WithHostEnvironment()
    .WithFixedPort("grpc", "Ingestion")
    .WithHttpHealthCheck("/health", endpointName: "http")
    .WithEnvironment("Admin__Token", adminToken)
    .WithReference(redis).WaitFor(redis);

var heap = builder.AddProject<Projects.Integration_HeapEmulator>("heap")
    .WithHostEnvironment()
    .WithFixedPort("http", "Heap")
    .WithHttpHealthCheck("/health");

var edge = builder.AddProject<Projects.Integration_Edge>("edge")
    .WithHostEnvironment()
    .WithFixedPort("http", "Edge")
    .WithHttpHealthCheck("/health")
    .WithExternalHttpEndpoints()
    .WithReference(redis).WaitFor(redis)
    // The edge cannot accept anything before ingestion can store it.
    .WithReference(ingestion).WaitFor(ingestion);

// Integration configs print their webhook URLs with the edge's address.
ingestion.WithEnvironment("Ingestion__EdgePublicBaseUrl", edge.GetEndpoint("http"));

if (builder.Environment.IsDevelopment())
{
    // The demo workspace and its heap-demo config, so the README's curl examples work right after start.
    ingestion
        .WithEnvironment("Demo__Enabled", "true")
        .WithEnvironment("Demo__WorkspaceId", builder.AddParameter("demo-workspace-id"))
        .WithEnvironment("Demo__DataApiKey", builder.AddParameter("demo-data-api-key", secret: true));
}

builder.AddProject<Projects.Integration_Campaigns>("campaigns")
    .WithHostEnvironment()
    .WithFixedPort("grpc", "Campaigns")
    .WithHttpHealthCheck("/health", endpointName: "http")
    .WithEnvironment("Admin__Token", adminToken)
    .WithReference(redis).WaitFor(redis)
    .WithReference(ingestion).WaitFor(ingestion)
    .WithReference(heap);

builder.Build().Run();
