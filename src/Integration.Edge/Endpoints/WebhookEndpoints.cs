using System.Diagnostics;
using Integration.Edge.SegmentSync;
using Integration.Edge.Webhooks;
using Microsoft.Net.Http.Headers;

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

        // Heap, and whoever sets a webhook up, reads the answer's body: a wrong method or path gets MoEngage's error shape
        // too, naming what is expected, instead of an empty 405 / 404.
        string[] otherMethods = [HttpMethods.Get, HttpMethods.Put, HttpMethods.Delete, HttpMethods.Patch];
        app.MapMethods("/v1/partner/heap-analytics/segments", otherMethods, MethodNotAllowedAsync);
        app.MapMethods("/v1/partner/heap-analytics/{module}", otherMethods, MethodNotAllowedAsync);
        app.MapFallback("{**path}", NotFoundAsync);
        return app;
    }

    private const string Paths = "/v1/partner/heap-analytics/ followed by user/, events/, sessions/, custom-properties/ or segments/ (?configName=…)";

    private static string RequestId(HttpContext context) => Activity.Current?.TraceId.ToHexString() ?? context.TraceIdentifier;

    private static Task MethodNotAllowedAsync(HttpContext context)
    {
        context.Response.Headers[HeaderNames.Allow] = HttpMethods.Post;
        return MoEngageResponses.FailAsync(context, StatusCodes.Status405MethodNotAllowed,
            $"Heap's webhooks are sent with POST, not {context.Request.Method}.", RequestId(context), "method");
    }

    private static Task NotFoundAsync(HttpContext context) => MoEngageResponses.FailAsync(context, StatusCodes.Status404NotFound,
        $"No webhook at '{Shown(context.Request.Path.Value)}': POST to {Paths}.", RequestId(context), "path");

    private static string Shown(string? path) => path is { Length: > 200 } ? path[..200] + "…" : path ?? "";
}
