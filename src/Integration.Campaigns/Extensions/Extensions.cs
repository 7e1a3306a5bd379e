using Integration.Campaigns.Controls;
using Integration.Campaigns.Delivery;
using Integration.Campaigns.Grpc;
using Integration.Campaigns.Model;
using Integration.Campaigns.Runner;
using Integration.Campaigns.Sending;
using Integration.Campaigns.Storage;
using Integration.Campaigns.Users;
using Integration.Ingestion.V1;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace Integration.Campaigns.Extensions;

internal static class Extensions
{
    public static void AddApplicationServices(this IHostApplicationBuilder builder)
    {
        // As in ingestion and the edge: no generic Redis instrumentation (it profiles every command and holds it for
        // seconds; the trigger and delivery paths trace their own work), and replies on the .NET thread pool rather
        // than StackExchange.Redis's own 10 threads (fewer threads to switch between on a small machine).
        builder.AddRedisClient("redis", configureSettings: s => s.DisableTracing = true, configureOptions: o =>
        {
            o.AbortOnConnectFail = false;
            o.SocketManager = StackExchange.Redis.SocketManager.ThreadPool;
        });
        // Secrets at rest (sync secrets, secret header values) share one Data Protection key ring in Redis.
        builder.AddSecretProtection();
        builder.AddApiAccess();

        builder.Services.AddGrpc()
            .AddServiceOptions<CampaignsService>(o =>
            {
                o.Interceptors.Add<ApiAccessInterceptor>();
                o.Interceptors.Add<FailureInterceptor>();
            });
        builder.Services.AddGrpcReflection();
        builder.Services.AddGrpcHealthChecks();
        builder.AddDeliveryEngine();

        var ingestion = builder.Configuration["Ingestion:Address"] ?? "http://_grpc.ingestion";
        builder.Services.AddServiceGrpcClient<Ingestion.V1.Ingestion.IngestionClient>(ingestion);
        builder.Services.AddServiceGrpcClient<Segments.V1.Segments.SegmentsClient>(ingestion);

        builder.AddCampaigns();
    }

    /// <summary>The campaign side: API, templates, SSRF guard, stores and the runner loops.</summary>
    public static void AddCampaigns(this IHostApplicationBuilder builder)
    {
        builder.Services.AddOptions<CampaignsOptions>()
            .BindConfiguration(CampaignsOptions.SectionName)
            .ValidateDataAnnotations()
            .ValidateOnStart();
        builder.Services.TryAddSingleton(TimeProvider.System);
        builder.Services.AddSingleton<CampaignMetrics>();
        builder.Services.AddSingleton<ICampaignStore, RedisCampaignStore>();
        builder.Services.AddSingleton<IScheduleStore, RedisScheduleStore>();
        builder.Services.AddSingleton<IPendingSendStore, RedisPendingSendStore>();
        builder.Services.AddSingleton<ITriggerMarkers, RedisTriggerMarkers>();
        builder.Services.AddSingleton<IUserDirectory, GrpcUserDirectory>();
        builder.Services.AddSingleton<CompiledCampaignCache>();
        builder.Services.AddSingleton<CampaignLifecycle>();
        builder.Services.AddSingleton<IWorkspaceSettingsStore, RedisWorkspaceSettingsStore>();
        builder.Services.AddSingleton<IFrequencyCapper, RedisFrequencyCapper>();
        builder.Services.AddSingleton<SendControls>();
        builder.Services.AddSingleton<Goals.ConversionTracker>();
        builder.Services.AddSingleton<CampaignSender>();
        builder.Services.AddSingleton<TriggerIndex>();
        builder.Services.AddSingleton<TriggerPartitionLeases>();
        builder.Services.AddSingleton<TriggerConsumer>();
        builder.Services.AddSingleton<PendingStepRunner>();
        builder.Services.AddSingleton<ScheduledRunner>();
        builder.Services.AddSingleton<ZoneRunner>();
        builder.Services.AddSingleton<FailureInterceptor>();

        if (builder.Configuration.GetValue($"{CampaignsOptions.SectionName}:{nameof(CampaignsOptions.RunnerEnabled)}", true))
        {
            builder.Services.AddHostedService<RunnerLoops>();
            builder.Services.AddHostedService<TriggerStreamSampler>();
        }
    }

    public static void MapCampaignsGrpc(this WebApplication app)
    {
        app.MapGrpcService<CampaignsService>();
        app.MapGrpcHealthChecksService();
        app.MapGrpcReflectionService();
        app.MapDeliveryEndpoints();
    }
}
