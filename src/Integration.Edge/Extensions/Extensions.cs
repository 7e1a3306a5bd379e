using Integration.Edge.Auth;
using Integration.Edge.RateLimiting;
using Integration.Edge.SegmentSync;
using Integration.Edge.Webhooks;

namespace Integration.Edge.Extensions;

internal static class Extensions
{
    public static void AddApplicationServices(this IHostApplicationBuilder builder)
    {
        // The edge's only Redis command is the rate counter's EVALSHA, whose outcome and latency are in its own metrics.
        // Redis command tracing profiles every command and holds it for ~10 s before turning it into a span: under load
        // that more than halved the edge's throughput and tripled the p99 (bench/inbound.sh), so it is off here.
        // Replies are handled on the .NET thread pool rather than StackExchange.Redis's own 10 threads: on a small machine
        // under load that is fewer threads to switch between (bench/inbound.sh: edge and ingestion CPU per request -8 %).
        builder.AddRedisClient("redis", configureSettings: s => s.DisableTracing = true, configureOptions: o =>
        {
            o.AbortOnConnectFail = false;
            o.SocketManager = StackExchange.Redis.SocketManager.ThreadPool;
        });
        // Secrets at rest (sync secrets, secret header values) share one Data Protection key ring in Redis.
        builder.AddSecretProtection();
        builder.AddRedisRateLimiting();

        builder.Services.AddOptions<EdgeOptions>().BindConfiguration(EdgeOptions.SectionName).ValidateDataAnnotations().ValidateOnStart();
        builder.Services.AddSingleton(TimeProvider.System);
        builder.Services.AddSingleton<WorkspaceAuthCache>();
        builder.Services.AddSingleton<SegmentSyncAuthCache>();
        builder.Services.AddSingleton<SegmentSyncHandler>();
        builder.Services.AddSingleton<EdgeMetrics>();
        builder.Services.AddSingleton<WebhookHandler>();
        builder.Services.AddSingleton<IngestionBatcher>();

        builder.Services.AddServiceGrpcClient<Ingestion.V1.Ingestion.IngestionClient>(
            builder.Configuration["Ingestion:Address"] ?? "http://_grpc.ingestion");
    }
}
