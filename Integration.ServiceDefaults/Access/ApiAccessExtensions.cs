using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace Microsoft.Extensions.Hosting;

public static class ApiAccessExtensions
{
    /// <summary>
    /// Adds what <see cref="ApiAccessInterceptor"/> needs: workspace tokens and the audit log (both in Redis: needs the
    /// service's <c>IConnectionMultiplexer</c>). Each gRPC service then adds the interceptor in its service options.
    /// </summary>
    public static TBuilder AddApiAccess<TBuilder>(this TBuilder builder) where TBuilder : IHostApplicationBuilder
    {
        builder.Services.TryAddSingleton(TimeProvider.System);
        builder.Services.AddOptions<AuditOptions>().BindConfiguration(AuditOptions.SectionName).ValidateDataAnnotations().ValidateOnStart();
        builder.Services.TryAddSingleton<WorkspaceTokens>();
        builder.Services.TryAddSingleton<AuditLog>();
        builder.Services.TryAddSingleton<ApiAccessInterceptor>();
        return builder;
    }
}
