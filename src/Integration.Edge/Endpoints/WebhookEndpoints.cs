using Integration.Edge.SegmentSync;
using Integration.Edge.Webhooks;

namespace Integration.Edge.Endpoints;

internal static class WebhookEndpoints
{
    /// <summary>
    /// Heap's webhook URLs: <c>POST /v1/partner/heap-analytics/{user|events|sessions|custom-properties}/?configName=…</c>
    /// (Basic auth), and its segment sync <c>POST /v1/partner/heap-analytics/segments/?configName=…</c> (signed); slash optional.
    /// </summary>
    public static IEndpointRouteBuilder MapWebhookEndpoints(this IEndpointRouteBuilder app)
    {
        // A literal segment takes precedence over the {module} parameter below.
        app.MapPost("/v1/partner/heap-analytics/segments", (HttpContext context, SegmentSyncHandler handler) => handler.HandleAsync(context))
            .WithName("HeapSegmentSync")
            .DisableAntiforgery();
        app.MapPost("/v1/partner/heap-analytics/{module}", (HttpContext context, string module, WebhookHandler handler) =>
            handler.HandleAsync(context, module))
            .WithName("HeapWebhook")
            .DisableAntiforgery();
        return app;
    }
}
