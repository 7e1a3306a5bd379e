using Integration.AppHost;

var builder = DistributedApplication.CreateBuilder(args);

var redis = builder.AddIntegrationRedis("redis");

var ingestion = builder.AddProject<Projects.Integration_Ingestion>("ingestion")
    .WithFixedPort("grpc", "Ingestion")
    .WithReference(redis).WaitFor(redis);

var heap = builder.AddProject<Projects.Integration_HeapEmulator>("heap")
    .WithFixedPort("http", "Heap");

builder.AddProject<Projects.Integration_Edge>("edge")
    .WithFixedPort("http", "Edge")
    .WithExternalHttpEndpoints()
    .WithReference(redis).WaitFor(redis)
    // The edge cannot accept anything before ingestion can store it.
    .WithReference(ingestion).WaitFor(ingestion);

builder.AddProject<Projects.Integration_Campaigns>("campaigns")
    .WithFixedPort("grpc", "Campaigns")
    .WithReference(redis).WaitFor(redis)
    .WithReference(ingestion).WaitFor(ingestion)
    .WithReference(heap);

builder.Build().Run();
