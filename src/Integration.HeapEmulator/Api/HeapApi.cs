using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Integration.HeapEmulator.Emulator;
using Integration.HeapEmulator.Inspection;
using Microsoft.Extensions.Options;

namespace Integration.HeapEmulator.Api;

/// <summary>
/// Heap's server-side API in one order: size cap → parse → validate (app id included) → rate limits →
/// idempotency → record → 200 with an empty body.
/// </summary>
internal sealed partial class HeapApi(
    HeapApps apps,
    HeapRateLimiter limiter,
    EmulatorStore store,
    ApiStats stats,
    HeapEmulatorTelemetry telemetry,
    TimeProvider time,
    IOptions<HeapEmulatorOptions> options,
    ILogger<HeapApi> logger)
{
    public Task<IResult> TrackAsync(HttpRequest request, CancellationToken cancellationToken) =>
        HandleAsync(request, ApiEndpoints.Track, (root, now) => HeapRequestParser.ParseTrack(root, now, apps.Contains), cancellationToken);

    public Task<IResult> AddUserPropertiesAsync(HttpRequest request, CancellationToken cancellationToken) =>
        HandleAsync(request, ApiEndpoints.AddUserProperties, (root, _) => HeapRequestParser.ParseUsers(root, apps.Contains), cancellationToken);

    private async Task<IResult> HandleAsync<TBatch>(
        HttpRequest request,
        string endpoint,
        Func<JsonElement, DateTimeOffset, ParseResult<TBatch>> parse,
        CancellationToken cancellationToken) where TBatch : HeapBatch
    {
        using var activity = HeapEmulatorTelemetry.ActivitySource.StartActivity($"heap {endpoint}");
        var (body, tooLarge) = await ReadBodyAsync(request, options.Value.MaxBodyBytes, cancellationToken);
        if (tooLarge)
        {
            return Reject(endpoint, StatusCodes.Status413PayloadTooLarge,
                $"The body is larger than {options.Value.MaxBodyBytes} bytes.", activity);
        }
        if (body.Length == 0)
        {
            return Reject(endpoint, StatusCodes.Status400BadRequest, "The body is empty; send a JSON object.", activity);
        }

        ParseResult<TBatch> parsed;
        try
        {
            using var document = JsonDocument.Parse(body);
            parsed = parse(document.RootElement, time.GetUtcNow());
        }
        catch (JsonException ex)
        {
            return Reject(endpoint, StatusCodes.Status400BadRequest, $"The body is not valid JSON: {ex.Message}", activity);
        }
        catch (InvalidOperationException ex) when (ex.InnerException is System.Text.DecoderFallbackException)
        {
            // JsonDocument checks the structure up front but a string's UTF-8 only when it is read.
            return Reject(endpoint, StatusCodes.Status400BadRequest, "The body is not valid UTF-8.", activity);
        }
        if (parsed.Value is not { } batch)
        {
            return Reject(endpoint, StatusCodes.Status400BadRequest, parsed.Error!, activity);
        }
        activity?.SetTag("heap.app_id", batch.AppId);
        activity?.SetTag("heap.bulk", batch.Bulk);

        var decision = limiter.TryAcquire(endpoint, batch);
        if (!decision.IsAllowed)
        {
            request.HttpContext.Response.Headers.RetryAfter = decision.RetryAfterSeconds.ToString(CultureInfo.InvariantCulture);
            return Reject(endpoint, StatusCodes.Status429TooManyRequests, decision.Reason!, activity);
        }

        var receivedAt = time.GetUtcNow();
        var traceId = Activity.Current?.TraceId.ToHexString();
        var (recorded, repeats) = batch switch
        {
            TrackBatch events => store.Record(events, receivedAt, traceId),
            UserBatch users => (store.Record(users, receivedAt, traceId), 0),
            _ => throw new UnreachableException(),
        };
        activity?.SetTag("heap.recorded", recorded);
        activity?.SetTag("heap.idempotent_repeats", repeats);
        stats.Accepted();
        telemetry.Request(endpoint, StatusCodes.Status200OK);
        telemetry.Recorded(endpoint, recorded, repeats);
        return Results.Ok();
    }

    private IResult Reject(string endpoint, int status, string message, Activity? activity)
    {
        stats.Rejected(status);
        telemetry.Request(endpoint, status);
        activity?.SetStatus(ActivityStatusCode.Error, message);
        LogRejected(endpoint, status, message);
        return Results.Json(new HeapError(message), InspectionJsonContext.Default.HeapError, statusCode: status);
    }

    private static async Task<(byte[] Body, bool TooLarge)> ReadBodyAsync(HttpRequest request, int maxBytes, CancellationToken cancellationToken)
    {
        if (request.ContentLength > maxBytes)
        {
            return ([], true);
        }
        using var buffer = new MemoryStream();
        var chunk = new byte[16 * 1024];
        int read;
        while ((read = await request.Body.ReadAsync(chunk, cancellationToken)) > 0)
        {
            if (buffer.Length + read > maxBytes)
            {
                return ([], true);
            }
            buffer.Write(chunk, 0, read);
        }
        return (buffer.ToArray(), false);
    }

    [LoggerMessage(Level = LogLevel.Debug, Message = "Heap {Endpoint} answered {Status}: {Reason}")]
    private partial void LogRejected(string endpoint, int status, string reason);
}
