using System.Buffers;
using System.Diagnostics;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Grpc.Core;
using Integration.Edge.Auth;
using Integration.Edge.RateLimiting;
using Integration.Ingestion.V1;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Options;

namespace Integration.Edge.Webhooks;

/// <summary>
/// Heap's webhook, in one readable order: size cap → authenticate (fail closed) → rate counter →
/// module, content type and config → read and validate → translate → gRPC to ingestion → answer.
/// </summary>
internal sealed partial class WebhookHandler(
    WorkspaceAuthCache credentials,
    IRateCounter rateCounter,
    IngestionBatcher batcher,
    EdgeMetrics metrics,
    IOptions<EdgeOptions> options,
    TimeProvider time,
    ILogger<WebhookHandler> logger)
{
    private static readonly JsonDocumentOptions JsonOptions = new() { MaxDepth = 16 };
    private const string UnavailableMessage = "Storage is unavailable; the data was not accepted. Retry later.";

    public async Task HandleAsync(HttpContext context, string moduleName)
    {
        var started = Stopwatch.GetTimestamp();
        var requestId = Activity.Current?.TraceId.ToHexString() ?? context.TraceIdentifier;
        var module = HeapModules.FromPath(moduleName);
        var (status, outcome) = await HandleCoreAsync(context, module, moduleName, requestId);
        metrics.Record(HeapModules.TagOf(module), outcome, status, started);
    }

    private async Task<(int Status, string Outcome)> HandleCoreAsync(HttpContext context, HeapModule? module, string moduleName, string requestId)
    {
        var settings = options.Value;
        var request = context.Request;

        if (request.ContentLength > settings.MaxBodyBytes)
        {
            return await TooLargeAsync(context, requestId);
        }

        if (!BasicCredentials.TryParse(request.Headers.Authorization, out var workspaceId, out var key, out var problem))
        {
            return await FailAsync(context, 401, "unauthenticated", problem, requestId, "Authorization");
        }

        WorkspaceAuth? workspace;
        try
        {
            workspace = await credentials.GetAsync(workspaceId, context.RequestAborted);
        }
        catch (RpcException ex) when (ex.StatusCode is not StatusCode.Cancelled)
        {
            LogIngestionUnavailable(logger, ex, workspaceId, ex.StatusCode);
            return await UnavailableAsync(context, requestId);
        }
        if (workspace is null || !KeyMatches(key, workspace.KeySha256.Span))
        {
            return await FailAsync(context, 401, "unauthenticated",
                "Authentication failed: unknown workspace id or wrong data API key.", requestId, "Authorization");
        }

        // Counted after authentication (floods of bad credentials never spend a workspace's budget)
        // and before validation (malformed requests count).
        RateDecision decision;
        try
        {
            decision = await rateCounter.TryAcquireAsync(workspaceId, workspace.RateLimitPerSecond, context.RequestAborted);
        }
        catch (RateCounterUnavailableException ex)
        {
            LogRateCounterUnavailable(logger, ex, workspaceId);
            // The limiter says when to come back (RateLimiting:UnavailableRetryAfter).
            RateLimitHeaders.ApplyUnavailable(context.Response, ex);
            return await FailAsync(context, 503, "unavailable", UnavailableMessage, requestId);
        }
        RateLimitHeaders.Apply(context.Response, decision);
        if (!decision.Allowed)
        {
            return await FailAsync(context, 429, "rate_limited",
                $"Rate limit of {decision.Limit} requests per second exceeded for this workspace; retry after the Retry-After delay.", requestId);
        }

        if (module is null)
        {
            return await FailAsync(context, 400, "invalid",
                $"Unknown module '{Truncate(moduleName)}' in the path: use /v1/partner/heap-analytics/ followed by {HeapModules.Paths}.", requestId, "module");
        }
        if (!IsJson(request.ContentType))
        {
            return await FailAsync(context, 415, "unsupported_media_type", "The body must be JSON (Content-Type: application/json).", requestId, "Content-Type");
        }

        var configName = request.Query["configName"].ToString();
        if (configName.Length == 0)
        {
            return await FailAsync(context, 400, "invalid", "The configName query parameter is required.", requestId, "configName");
        }
        var config = workspace.Configs.FirstOrDefault(c => c.ConfigName == configName);
        if (config is null)
        {
            return await FailAsync(context, 404, "unknown_config",
                $"No integration config named '{Truncate(configName)}' in this workspace.", requestId, "configName");
        }
        if (!config.Modules.Contains((int)module.Value))
        {
            return await FailAsync(context, 400, "invalid",
                $"The {HeapModules.PathOf(module.Value)} module is not enabled in integration config '{configName}'; " +
                "enable it in the config (integration.admin.v1.SyncModule) to accept these payloads.", requestId, "module");
        }

        var body = await ReadBodyAsync(context, settings.MaxBodyBytes);
        if (body is null)
        {
            return await TooLargeAsync(context, requestId);
        }
        try
        {
            return await IngestAsync(context, body.Value, module.Value, workspaceId, config, requestId);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(body.Value.Array!);
        }
    }

    private async Task<(int, string)> IngestAsync(HttpContext context, ArraySegment<byte> body, HeapModule module, string workspaceId,
        EdgeConfig config, string requestId)
    {
        ParsedPayload? payload;
        var errors = new List<FieldError>();
        try
        {
            using var document = JsonDocument.Parse(body.AsMemory(), JsonOptions);
            payload = HeapPayloadParser.Parse(document.RootElement, module, config, time.GetUtcNow().ToUnixTimeMilliseconds(), options.Value, errors);
        }
        catch (JsonException ex)
        {
            return await FailAsync(context, 400, "invalid", $"The body is not valid JSON: {ex.Message}", requestId, "body");
        }
        catch (Exception ex) when (ex is InvalidOperationException or ArgumentException)
        {
            // Invalid UTF-8 inside a string surfaces when the string is read, not when it is parsed.
            return await FailAsync(context, 400, "invalid", "The body is not valid UTF-8 JSON.", requestId, "body");
        }
        if (payload is null)
        {
            await MoEngageResponses.ValidationFailedAsync(context, errors, requestId);
            return (400, "invalid");
        }

        var item = new IngestItem
        {
            WorkspaceId = workspaceId,
            ConfigName = config.ConfigName,
            PayloadId = PayloadId(module, config.ConfigName, body),
            Traceparent = Activity.Current?.Id ?? "",
        };
        if (payload.Event is { } e)
        {
            e.Module = (int)module;
            item.Event = e;
        }
        else
        {
            item.User = payload.User;
        }

        IngestItemResult result;
        try
        {
            result = await batcher.SubmitAsync(item, context.RequestAborted);
        }
        catch (RpcException ex) when (ex.StatusCode is not StatusCode.Cancelled || !context.RequestAborted.IsCancellationRequested)
        {
            // Not confirmed durable: never a 2xx. Heap retries on 503.
            LogIngestionUnavailable(logger, ex, workspaceId, ex.StatusCode);
            return await UnavailableAsync(context, requestId);
        }
        catch (OperationCanceledException) when (context.RequestAborted.IsCancellationRequested)
        {
            // Heap hung up before the answer; it will retry, and a repeat is recognised.
            return (499, "client_closed");
        }
        if (result.Outcome is IngestOutcome.Invalid)
        {
            return await FailAsync(context, 400, "invalid", result.Error, requestId);
        }

        await MoEngageResponses.SuccessAsync(context, requestId);
        return (200, "accepted");
    }

    /// <summary>The body in a pooled buffer, or null if it is larger than the cap (the rest is not read).</summary>
    internal static async Task<ArraySegment<byte>?> ReadBodyAsync(HttpContext context, int maxBytes)
    {
        if (context.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } sizeFeature)
        {
            sizeFeature.MaxRequestBodySize = maxBytes + 1L;
        }

        var length = context.Request.ContentLength is { } declared ? (int)declared : 4096;
        var buffer = ArrayPool<byte>.Shared.Rent(Math.Min(Math.Max(length, 1), maxBytes + 1));
        var total = 0;
        try
        {
            while (true)
            {
                if (total == buffer.Length)
                {
                    if (buffer.Length > maxBytes)
                    {
                        ArrayPool<byte>.Shared.Return(buffer);
                        return null;
                    }
                    var bigger = ArrayPool<byte>.Shared.Rent(Math.Min(buffer.Length * 2, maxBytes + 1));
                    buffer.AsSpan(0, total).CopyTo(bigger);
                    ArrayPool<byte>.Shared.Return(buffer);
                    buffer = bigger;
                }
                var read = await context.Request.Body.ReadAsync(buffer.AsMemory(total), context.RequestAborted);
                if (read == 0)
                {
                    break;
                }
                total += read;
                if (total > maxBytes)
                {
                    ArrayPool<byte>.Shared.Return(buffer);
                    return null;
                }
            }
        }
        catch (BadHttpRequestException)
        {
            ArrayPool<byte>.Shared.Return(buffer);
            return null;
        }
        return new ArraySegment<byte>(buffer, 0, total);
    }

    private static bool KeyMatches(string key, ReadOnlySpan<byte> storedHash)
    {
        Span<byte> presented = stackalloc byte[SHA256.HashSizeInBytes];
        var length = Encoding.UTF8.GetMaxByteCount(key.Length);
        var rented = length > 256 ? ArrayPool<byte>.Shared.Rent(length) : null;
        var keyBytes = rented ?? stackalloc byte[256];
        SHA256.HashData(keyBytes[..Encoding.UTF8.GetBytes(key, keyBytes)], presented);
        if (rented is not null)
        {
            ArrayPool<byte>.Shared.Return(rented);
        }
        return storedHash.Length == SHA256.HashSizeInBytes && CryptographicOperations.FixedTimeEquals(presented, storedHash);
    }

    /// <summary>Content hash of a webhook (module, config name, body): Heap's retries of one payload get the same id.</summary>
    private static string PayloadId(HeapModule module, string configName, ArraySegment<byte> body)
    {
        var prefix = module switch
        {
            HeapModule.User => "user\n"u8,
            HeapModule.Events => "events\n"u8,
            HeapModule.Sessions => "sessions\n"u8,
            _ => "custom-properties\n"u8,
        };
        var length = prefix.Length + Encoding.UTF8.GetMaxByteCount(configName.Length) + 1 + body.Count;
        var buffer = ArrayPool<byte>.Shared.Rent(length);
        try
        {
            prefix.CopyTo(buffer);
            var written = prefix.Length + Encoding.UTF8.GetBytes(configName, buffer.AsSpan(prefix.Length));
            buffer[written++] = (byte)'\n';
            body.AsSpan().CopyTo(buffer.AsSpan(written));
            written += body.Count;
            Span<byte> digest = stackalloc byte[SHA256.HashSizeInBytes];
            SHA256.HashData(buffer.AsSpan(0, written), digest);
            return Convert.ToHexStringLower(digest[..16]);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    internal static bool IsJson(string? contentType) =>
        contentType is not null &&
        Microsoft.Net.Http.Headers.MediaTypeHeaderValue.TryParse(contentType, out var media) &&
        (media.MediaType.Equals("application/json", StringComparison.OrdinalIgnoreCase) ||
         media.MediaType.Value?.EndsWith("+json", StringComparison.OrdinalIgnoreCase) == true);

    internal static string Truncate(string value) => value.Length <= 64 ? value : value[..64] + "…";

    internal static async Task<(int, string)> FailAsync(HttpContext context, int status, string outcome, string message, string requestId, string? attribute = null)
    {
        await MoEngageResponses.FailAsync(context, status, message, requestId, attribute);
        return (status, outcome);
    }

    private Task<(int, string)> TooLargeAsync(HttpContext context, string requestId) =>
        TooLargeAsync(context, options.Value.MaxBodyBytes, requestId);

    internal static async Task<(int, string)> TooLargeAsync(HttpContext context, int maxBytes, string requestId)
    {
        // The connection is closed after the answer, so the unread rest of the body is never read.
        context.Response.Headers.Connection = "close";
        return await FailAsync(context, 413, "too_large", $"The body is larger than {maxBytes / 1024} KB.", requestId, "body");
    }

    private async Task<(int, string)> UnavailableAsync(HttpContext context, string requestId)
    {
        await MoEngageResponses.FailAsync(context, 503, UnavailableMessage, requestId,
            retryAfterSeconds: options.Value.UnavailableRetryAfterSeconds);
        return (503, "unavailable");
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Ingestion did not confirm a write for workspace {WorkspaceId} ({StatusCode}); answered 503.")]
    private static partial void LogIngestionUnavailable(ILogger logger, Exception exception, string workspaceId, StatusCode statusCode);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Rate counter unavailable for workspace {WorkspaceId}; answered 503.")]
    private static partial void LogRateCounterUnavailable(ILogger logger, Exception exception, string workspaceId);
}
