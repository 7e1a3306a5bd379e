using System.Globalization;
using Integration.HeapEmulator.Emulator;
using Integration.HeapEmulator.Inspection;

namespace Integration.HeapEmulator.Api;

/// <summary>Applies injected faults to Heap's API (never to <c>/_emulator/*</c>); a faulted request is not recorded.</summary>
internal sealed partial class FaultFilter(FaultInjector faults, ApiStats stats, HeapEmulatorTelemetry telemetry, ILogger<FaultFilter> logger)
    : IEndpointFilter
{
    public async ValueTask<object?> InvokeAsync(EndpointFilterInvocationContext context, EndpointFilterDelegate next)
    {
        var fault = faults.Next();
        if (fault == FaultDecision.None)
        {
            return await next(context);
        }
        var http = context.HttpContext;
        var endpoint = ApiEndpoints.FromPath(http.Request.Path);
        if (fault.Latency > TimeSpan.Zero)
        {
            // Wall-clock time on purpose: latency is about the caller's real timeouts, not the emulator's clock.
            try
            {
                await Task.Delay(fault.Latency, http.RequestAborted);
            }
            catch (OperationCanceledException)
            {
                return Results.Empty;
            }
        }
        if (fault.DropConnection)
        {
            LogFault(endpoint, "dropped connection");
            stats.ConnectionDropped();
            telemetry.Dropped(endpoint);
            http.Abort();
            return Results.Empty;
        }
        if (fault.Status is { } status)
        {
            LogFault(endpoint, status.ToString(CultureInfo.InvariantCulture));
            stats.FaultInjected(status);
            telemetry.Request(endpoint, status);
            if (fault.RetryAfterSeconds is { } retryAfter)
            {
                http.Response.Headers.RetryAfter = retryAfter.ToString(CultureInfo.InvariantCulture);
            }
            return Results.Json(new HeapError($"Injected fault: {status}."), InspectionJsonContext.Default.HeapError, statusCode: status);
        }
        return await next(context);
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Injected fault on Heap {Endpoint}: {Fault}")]
    private partial void LogFault(string endpoint, string fault);
}
