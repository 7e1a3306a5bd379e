using Integration.Campaigns.Safety;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace Integration.Campaigns.Delivery;

internal static class DeliveryEngineExtensions
{
    /// <summary>
    /// Registers the delivery engine: the durable queue (<see cref="IDeliveryQueue"/>), the runner, the
    /// throttle, the HTTP client it sends with, metrics and the gRPC <c>Deliveries</c> service.
    /// Needs an <c>IConnectionMultiplexer</c> (AddRedisClient) and AddGrpc.
    /// </summary>
    public static IHostApplicationBuilder AddDeliveryEngine(this IHostApplicationBuilder builder)
    {
        builder.Services.AddOptions<DeliveryEngineOptions>()
            .BindConfiguration(DeliveryEngineOptions.SectionName)
            .ValidateDataAnnotations()
            .ValidateOnStart();
        builder.Services.AddSingleton<IValidateOptions<DeliveryEngineOptions>, DeliveryEngineOptionsValidator>();

        builder.Services.TryAddSingleton(TimeProvider.System);
        builder.Services.AddSingleton<NewLaneSignal>();
        builder.Services.AddSingleton<RedisDeliveryStore>();
        builder.Services.AddSingleton<IDeliveryQueue>(sp => sp.GetRequiredService<RedisDeliveryStore>());
        builder.Services.AddSingleton<IDeliveryStore>(sp => sp.GetRequiredService<RedisDeliveryStore>());
        builder.Services.AddSingleton<IDeadLetterStore>(sp => sp.GetRequiredService<RedisDeliveryStore>());
        builder.Services.AddSingleton<IDeliverySkips>(sp => sp.GetRequiredService<RedisDeliveryStore>());
        builder.Services.AddSingleton<IDeliveryThrottle, RedisDeliveryThrottle>();
        builder.Services.AddSingleton<DeliverySender>();
        builder.Services.AddSingleton<DeliveryMetrics>();
        builder.Services.AddHostedService<DeliveryRunner>();

        // Every outbound connection of campaigns is made here: the SSRF guard checks the address actually dialled.
        builder.Services.TryAddSingleton<IHostResolver, DnsHostResolver>();
        builder.Services.TryAddSingleton<IUrlGuard, UrlGuard>();
        var http = builder.Services.AddHttpClient(DeliverySender.HttpClientName, client => client.Timeout = Timeout.InfiniteTimeSpan)
            .ConfigurePrimaryHttpMessageHandler(sp => new SocketsHttpHandler
            {
                // A redirect could lead past the SSRF checks the campaign URL passed; 3xx is an answer, not a detour.
                AllowAutoRedirect = false,
                ConnectCallback = sp.GetRequiredService<IUrlGuard>().ConnectAsync,
                PooledConnectionLifetime = TimeSpan.FromMinutes(2),
                MaxConnectionsPerServer = 256,
            });
#pragma warning disable EXTEXP0001 // RemoveAllResilienceHandlers is experimental but documented; the engine owns retries and timeouts.
        http.RemoveAllResilienceHandlers();
#pragma warning restore EXTEXP0001

        builder.AddApiAccess();
        // Delivery records keep their secret header values encrypted.
        builder.AddSecretProtection();
        builder.Services.AddGrpc().AddServiceOptions<DeliveriesService>(o => o.Interceptors.Add<ApiAccessInterceptor>());
        return builder;
    }

    /// <summary>Maps the gRPC <c>Deliveries</c> service.</summary>
    public static WebApplication MapDeliveryEndpoints(this WebApplication app)
    {
        app.MapGrpcService<DeliveriesService>();
        return app;
    }

    private sealed class DeliveryEngineOptionsValidator : IValidateOptions<DeliveryEngineOptions>
    {
        // DataAnnotations does not descend into IValidatableObject of the root when attributes fail first; run it always.
        public ValidateOptionsResult Validate(string? name, DeliveryEngineOptions options)
        {
            var failures = options.Validate(new System.ComponentModel.DataAnnotations.ValidationContext(options))
                .Select(r => r.ErrorMessage ?? "invalid").ToList();
            return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
        }
    }
}
