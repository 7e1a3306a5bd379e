using Integration.HeapEmulator.Api;

namespace Integration.HeapEmulator.Endpoints;

internal static class HeapApiEndpoints
{
    /// <summary>Heap's server-side API: <c>POST /api/track</c> and <c>POST /api/add_user_properties</c>.</summary>
    public static IEndpointRouteBuilder MapHeapApiEndpoints(this IEndpointRouteBuilder app)
    {
        var api = app.MapGroup("/api").AddEndpointFilter<FaultFilter>();

        api.MapPost("/track", (HttpRequest request, HeapApi heap, CancellationToken cancellationToken) =>
            heap.TrackAsync(request, cancellationToken));

        api.MapPost("/add_user_properties", (HttpRequest request, HeapApi heap, CancellationToken cancellationToken) =>
            heap.AddUserPropertiesAsync(request, cancellationToken));

        return app;
    }
}
