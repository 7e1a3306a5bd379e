using Integration.Edge.Webhooks;

namespace Integration.Edge.Endpoints;

internal static class WebhookEndpoints
{
    /// <summary>Heap's webhook URL: <c>POST /v1/partner/heap-analytics/{events|user}/?configName=…</c> (slash optional).</summary>
    public static IEndpointRouteBuilder MapWebhookEndpoints(this IEndpointRouteBuilder app)
    {
        app.MapPost("/v1/partner/heap-analytics/{module}", (HttpContext context, string module, WebhookHandler handler) =>
            handler.HandleAsync(context, module))
            .WithName("HeapWebhook")
            .DisableAntiforgery();
        return app;
    }
}
