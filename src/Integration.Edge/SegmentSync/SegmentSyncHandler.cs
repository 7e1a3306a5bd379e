using System.Buffers;
using System.Diagnostics;
using System.Text.Json;
using Grpc.Core;
using Integration.Edge.Auth;
using Integration.Edge.RateLimiting;
using Integration.Edge.Webhooks;
using Integration.Ingestion.V1;
using Microsoft.Extensions.Options;

namespace Integration.Edge.SegmentSync;

/// <summary>
/// Heap's segment sync (<c>segment.users.sync</c> / <c>segment.users.drain</c>), in one readable order: size cap →
/// signature header → config and its sync credentials → read the body → signature time and HMAC (fail closed) → rate
/// counter → content type → parse and validate → gRPC to ingestion → answer. No Basic auth: the config name finds the
/// workspace, the HMAC proves the sender holds the config's sync secret.
/// </summary>
internal sealed partial class SegmentSyncHandler(
    SegmentSyncAuthCache credentials,
    IRateCounter rateCounter,
    Ingestion.V1.Ingestion.IngestionClient ingestion,
    EdgeMetrics metrics,
    IOptions<EdgeOptions> options,
    TimeProvider time,
    ILogger<SegmentSyncHandler> logger)
{
    /// <summary>The metric tag of this endpoint, next to the webhooks' modules.</summary>
    public const string ModuleTag = "segments";

    private static readonly JsonDocumentOptions JsonOptions = new() { MaxDepth = 16 };
    private const string UnavailableMessage = "Storage is unavailable; the segment sync was not applied. Retry later.";

    public async Task HandleAsync(HttpContext context)
    {
        var started = Stopwatch.GetTimestamp();
        var requestId = Activity.Current?.TraceId.ToHexString() ?? context.TraceIdentifier;
        var (status, outcome) = await HandleCoreAsync(context, requestId);
        metrics.Record(ModuleTag, outcome, status, started);
    }

    private async Task<(int Status, string Outcome)> HandleCoreAsync(HttpContext context, string requestId)
    {
        var settings = options.Value;
        var request = context.Request;

        if (request.ContentLength > settings.MaxSegmentPageBytes)
        {
            return await WebhookHandler.TooLargeAsync(context, settings.MaxSegmentPageBytes, requestId);
        }

        if (!HeapSignature.TryParse(request.Headers[HeapSignature.HeaderName], out var signature, out var problem))
        {
            return await WebhookHandler.FailAsync(context, 401, "unauthenticated", problem, requestId, HeapSignature.HeaderName);
        }

        var configName = request.Query["configName"].ToString();
        if (configName.Length == 0)
        {
            return await WebhookHandler.FailAsync(context, 400, "invalid", "The configName query parameter is required.", requestId, "configName");
        }
        SegmentSyncCredentials? sync;
        try
        {
            sync = await credentials.GetAsync(configName, context.RequestAborted);
        }
        catch (RpcException ex) when (ex.StatusCode is not StatusCode.Cancelled)
        {
            LogIngestionUnavailable(logger, ex, configName, ex.StatusCode);
            return await UnavailableAsync(context, requestId);
        }
        catch (SecretUnreadableException ex)
        {
            // Only an operator setting the secret again helps; Heap keeps retrying meanwhile, so nothing is lost.
            LogSecretUnreadable(logger, ex, configName);
            return await UnavailableAsync(context, requestId);
        }
        if (sync is null)
        {
            return await WebhookHandler.FailAsync(context, 404, "unknown_config",
                $"No integration config named '{WebhookHandler.Truncate(configName)}' has segment sync set up (a sync secret).", requestId, "configName");
        }

        var body = await WebhookHandler.ReadBodyAsync(context, settings.MaxSegmentPageBytes);
        if (body is null)
        {
            return await WebhookHandler.TooLargeAsync(context, settings.MaxSegmentPageBytes, requestId);
        }
        try
        {
            return await AuthenticatedAsync(context, body.Value, signature!, sync, requestId);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(body.Value.Array!);
        }
    }

    private async Task<(int, string)> AuthenticatedAsync(HttpContext context, ArraySegment<byte> body, HeapSignature signature,
        SegmentSyncCredentials sync, string requestId)
    {
        var settings = options.Value;
        var workspaceId = sync.Auth.WorkspaceId;
        if (signature.TimeProblem(time.GetUtcNow().ToUnixTimeMilliseconds(), settings.SegmentSignatureMaxAgeSeconds,
                settings.SegmentSignatureMaxAheadSeconds) is { } stale)
        {
            return await WebhookHandler.FailAsync(context, 401, "unauthenticated", stale, requestId, HeapSignature.HeaderName);
        }
        if (!signature.Matches(sync.Secret, body))
        {
            return await WebhookHandler.FailAsync(context, 401, "unauthenticated",
                $"The {HeapSignature.HeaderName} signature does not match the body: it must be HMAC-SHA256(sync secret, ts + body).",
                requestId, HeapSignature.HeaderName);
        }

        // Counted after authentication, like the webhooks, on the workspace's one budget.
        RateDecision decision;
        try
        {
            decision = await rateCounter.TryAcquireAsync(workspaceId, sync.Auth.RateLimitPerSecond, context.RequestAborted);
        }
        catch (RateCounterUnavailableException ex)
        {
            LogRateCounterUnavailable(logger, ex, workspaceId);
            RateLimitHeaders.ApplyUnavailable(context.Response, ex);
            return await WebhookHandler.FailAsync(context, 503, "unavailable", UnavailableMessage, requestId);
        }
        RateLimitHeaders.Apply(context.Response, decision);
        if (!decision.Allowed)
        {
            return await WebhookHandler.FailAsync(context, 429, "rate_limited",
                $"Rate limit of {decision.Limit} requests per second exceeded for this workspace; retry after the Retry-After delay.", requestId);
        }

        if (!WebhookHandler.IsJson(context.Request.ContentType))
        {
            return await WebhookHandler.FailAsync(context, 415, "unsupported_media_type", "The body must be JSON (Content-Type: application/json).",
                requestId, "Content-Type");
        }

        ParsedSegmentSync? parsed;
        var errors = new List<FieldError>();
        int listedUsers;
        try
        {
            using var document = JsonDocument.Parse(body.AsMemory(), JsonOptions);
            parsed = SegmentSyncParser.Parse(document.RootElement, sync.Auth.Config, settings, errors, out listedUsers);
        }
        catch (JsonException ex)
        {
            return await WebhookHandler.FailAsync(context, 400, "invalid", $"The body is not valid JSON: {ex.Message}", requestId, "body");
        }
        catch (Exception ex) when (ex is InvalidOperationException or ArgumentException)
        {
            return await WebhookHandler.FailAsync(context, 400, "invalid", "The body is not valid UTF-8 JSON.", requestId, "body");
        }
        if (listedUsers > settings.MaxSegmentPageUsers)
        {
            return await WebhookHandler.FailAsync(context, 413, "too_large",
                $"The page lists {listedUsers} users; at most {settings.MaxSegmentPageUsers} are accepted in one page.", requestId, "data");
        }
        if (parsed is null)
        {
            await MoEngageResponses.ValidationFailedAsync(context, errors, requestId);
            return (400, "invalid");
        }

        var page = parsed.Request;
        page.WorkspaceId = workspaceId;
        page.ConfigName = sync.Auth.Config.ConfigName;
        page.RequestId = signature.RequestId;
        Activity.Current?.SetTag("heap.segment.id", page.SegmentId);
        Activity.Current?.SetTag("heap.segment.action", page.Action is SegmentSyncAction.Drain ? "drain" : "sync");

        SyncSegmentResponse result;
        try
        {
            result = await ingestion.SyncSegmentAsync(page,
                deadline: time.GetUtcNow().UtcDateTime.AddSeconds(settings.IngestionTimeoutSeconds), cancellationToken: context.RequestAborted);
        }
        catch (RpcException ex) when (ex.StatusCode is StatusCode.InvalidArgument)
        {
            return await WebhookHandler.FailAsync(context, 400, "invalid", ex.Status.Detail, requestId);
        }
        catch (RpcException ex) when (ex.StatusCode is not StatusCode.Cancelled || !context.RequestAborted.IsCancellationRequested)
        {
            // Not confirmed durable: never a 2xx. Heap retries, and a page is applied once.
            LogIngestionUnavailable(logger, ex, workspaceId, ex.StatusCode);
            return await UnavailableAsync(context, requestId);
        }

        var outcome = result.Outcome is SegmentSyncOutcome.Duplicate ? "duplicate" : "accepted";
        if (parsed.Skipped.Count > 0)
        {
            // Named, not silently dropped; the rest of the page is applied (see SegmentSyncParser).
            await MoEngageResponses.SuccessAsync(context, requestId,
                $"{MoEngageResponses.AcceptedMessage} Skipped {parsed.Skipped.Count} identifier(s) that are not valid for this config: " +
                string.Join("; ", parsed.Skipped.Take(20).Select(e => $"{e.Attribute} {e.Message}")));
            return (200, "accepted_with_skipped");
        }
        await MoEngageResponses.SuccessAsync(context, requestId);
        return (200, outcome);
    }

    private async Task<(int, string)> UnavailableAsync(HttpContext context, string requestId)
    {
        await MoEngageResponses.FailAsync(context, 503, UnavailableMessage, requestId, retryAfterSeconds: options.Value.UnavailableRetryAfterSeconds);
        return (503, "unavailable");
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Ingestion did not answer for segment sync {Subject} ({StatusCode}); answered 503.")]
    private static partial void LogIngestionUnavailable(ILogger logger, Exception exception, string subject, StatusCode statusCode);

    [LoggerMessage(Level = LogLevel.Error, Message = "The sync secret of config {ConfigName} cannot be decrypted; its segment syncs are answered 503 until it is set again (Admin/SetSyncSecret).")]
    private static partial void LogSecretUnreadable(ILogger logger, Exception exception, string configName);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Rate counter unavailable for workspace {WorkspaceId}; answered 503.")]
    private static partial void LogRateCounterUnavailable(ILogger logger, Exception exception, string workspaceId);
}
