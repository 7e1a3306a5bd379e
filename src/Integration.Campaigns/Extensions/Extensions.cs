using Integration.Campaigns.Delivery;
using Integration.Ingestion.V1;

namespace Integration.Campaigns.Extensions;

internal static class Extensions
{
    public static void AddApplicationServices(this IHostApplicationBuilder builder)
    {
        builder.AddRedisClient("redis");

        builder.Services.AddGrpc();
        builder.Services.AddGrpcReflection();
        builder.Services.AddGrpcHealthChecks();
        builder.AddDeliveryEngine();

        builder.Services.AddServiceGrpcClient<Ingestion.V1.Ingestion.IngestionClient>(
            builder.Configuration["Ingestion:Address"] ?? "http://_grpc.ingestion");
    }

    public static void MapCampaignsGrpc(this WebApplication app)
    {
        app.MapGrpcHealthChecksService();
        app.MapGrpcReflectionService();
        app.MapDeliveryEndpoints();
    }
}
