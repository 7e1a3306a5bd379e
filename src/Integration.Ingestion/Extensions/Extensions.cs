using Integration.Ingestion.Demo;
using Integration.Ingestion.Segments;
using Integration.Ingestion.Services;
using Integration.Ingestion.Storage;

namespace Integration.Ingestion.Extensions;

internal static class Extensions
{
    public static void AddApplicationServices(this IHostApplicationBuilder builder)
    {
        // The store traces its own Redis calls (one span per script, see RedisActivityStore): the generic
        // instrumentation profiles every command and holds it for seconds, which under load cost a third
        // of the throughput and doubled the memory.
        // Replies are handled on the .NET thread pool rather than StackExchange.Redis's own 10 threads: on a small machine
        // under load that is fewer threads to switch between (bench/inbound.sh: edge and ingestion CPU per request -8 %).
        builder.AddRedisClient("redis", configureSettings: s => s.DisableTracing = true, configureOptions: o =>
        {
            o.AbortOnConnectFail = false;
            o.SocketManager = StackExchange.Redis.SocketManager.ThreadPool;
        });
        // Secrets at rest (sync secrets, secret header values) share one Data Protection key ring in Redis.
        builder.AddSecretProtection();
        builder.AddApiAccess();

        builder.Services.AddOptions<IngestionOptions>().BindConfiguration(IngestionOptions.SectionName).ValidateDataAnnotations().ValidateOnStart();
        builder.Services.AddOptions<DemoOptions>().BindConfiguration(DemoOptions.SectionName).ValidateDataAnnotations().ValidateOnStart();
        builder.Services.AddSingleton(TimeProvider.System);
        builder.Services.AddSingleton<IWorkspaceStore, RedisWorkspaceStore>();
        builder.Services.AddOptions<StorageOptions>().BindConfiguration(StorageOptions.SectionName).ValidateDataAnnotations().ValidateOnStart();
        builder.Services.AddSingleton<RetentionPolicy>();
        builder.Services.AddSingleton<IRetentionPolicy>(sp => sp.GetRequiredService<RetentionPolicy>());
        builder.Services.AddSingleton<StreamDictionaries>();
        builder.Services.AddSingleton<IActivityStore, RedisActivityStore>();
        builder.Services.AddSingleton<LegacyMigration>();
        builder.Services.AddHostedService(sp => sp.GetRequiredService<LegacyMigration>());
        builder.Services.AddHostedService<UserHashMigration>();
        builder.Services.AddOptions<RetentionSweeperOptions>().BindConfiguration(RetentionSweeperOptions.SectionName).ValidateDataAnnotations().ValidateOnStart();
        builder.Services.AddHostedService<RetentionSweeper>();
        builder.Services.AddSingleton<IHeapSegmentStore, RedisHeapSegmentStore>();
        builder.Services.AddSingleton<SegmentSync>();
        builder.Services.AddSingleton<SegmentSyncMetrics>();
        builder.Services.AddSingleton<SyncSecrets>();
        builder.Services.AddSingleton<IngestionMetrics>();
        builder.Services.AddHostedService<DemoProvisioner>();
        builder.AddSegments();

        builder.Services.AddGrpc(o => o.MaxReceiveMessageSize = 16 * 1024 * 1024)
            // Who may call what (admin, internal or workspace token) is one table: ApiAccess.
            .AddServiceOptions<AdminService>(o => o.Interceptors.Add<ApiAccessInterceptor>())
            .AddServiceOptions<IngestionService>(o => o.Interceptors.Add<ApiAccessInterceptor>())
            .AddServiceOptions<SegmentsService>(o => o.Interceptors.Add<ApiAccessInterceptor>());
        builder.Services.AddGrpcReflection();
        builder.Services.AddGrpcHealthChecks();
    }

    public static void MapIngestionGrpc(this WebApplication app)
    {
        app.MapGrpcService<IngestionService>();
        app.MapGrpcService<AdminService>();
        app.MapGrpcService<SegmentsService>();
        app.MapGrpcHealthChecksService();
        app.MapGrpcReflectionService();
    }
}
