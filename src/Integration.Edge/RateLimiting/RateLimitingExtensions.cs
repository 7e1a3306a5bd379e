using Microsoft.Extensions.DependencyInjection.Extensions;

namespace Integration.Edge.RateLimiting;

public static class RateLimitingExtensions
{
    /// <summary>
    /// Registers the per-workspace rate limiter (<c>IRateCounter</c>, backed by Redis), its options (section
    /// <c>RateLimiting</c>, validated at start) and its meter. Needs the <c>IConnectionMultiplexer</c> that
    /// <c>AddRedisClient("redis")</c> registers.
    /// </summary>
    public static IHostApplicationBuilder AddRedisRateLimiting(this IHostApplicationBuilder builder)
    {
        builder.Services.AddOptions<RateLimitingOptions>()
            .BindConfiguration(RateLimitingOptions.SectionName)
            .ValidateDataAnnotations()
            .ValidateOnStart();

        builder.Services.AddMetrics();
        builder.Services.TryAddSingleton(TimeProvider.System);
        builder.Services.TryAddSingleton<RateLimitMetrics>();
        builder.Services.TryAddSingleton<IRateCounter, RedisRateCounter>();
        return builder;
    }
}
