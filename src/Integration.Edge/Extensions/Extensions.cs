namespace Integration.Edge.Extensions;

internal static class Extensions
{
    public static void AddApplicationServices(this IHostApplicationBuilder builder)
    {
        builder.AddRedisClient("redis");

        builder.Services.AddServiceGrpcClient<Ingestion.V1.Ingestion.IngestionClient>(
            builder.Configuration["Ingestion:Address"] ?? "http://_grpc.ingestion");
    }
}
