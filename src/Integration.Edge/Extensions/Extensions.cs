using Integration.Edge.Auth;
using Integration.Edge.RateLimiting;
using Integration.Edge.Webhooks;

namespace Integration.Edge.Extensions;

internal static class Extensions
{
    public static void AddApplicationServices(this IHostApplicationBuilder builder)
    {
        builder.AddRedisClient("redis", configureOptions: o => o.AbortOnConnectFail = false);
        builder.AddRedisRateLimiting();

        builder.Services.AddOptions<EdgeOptions>().BindConfiguration(EdgeOptions.SectionName).ValidateDataAnnotations().ValidateOnStart();
        builder.Services.AddSingleton(TimeProvider.System);
        builder.Services.AddSingleton<WorkspaceAuthCache>();
        builder.Services.AddSingleton<EdgeMetrics>();
        builder.Services.AddSingleton<WebhookHandler>();

        builder.Services.AddServiceGrpcClient<Ingestion.V1.Ingestion.IngestionClient>(
            builder.Configuration["Ingestion:Address"] ?? "http://_grpc.ingestion");
    }
}
