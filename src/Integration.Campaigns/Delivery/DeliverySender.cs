using System.Diagnostics;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Integration.Campaigns.Safety;

namespace Integration.Campaigns.Delivery;

/// <summary>The outcome of one HTTP attempt. <see cref="Status"/> is null when there was no response.</summary>
internal sealed record AttemptResult(int? Status, string? Error, string? Excerpt, TimeSpan? RetryAfter, TimeSpan Duration);

/// <summary>One HTTP exchange as it happened: the status (null without a response), headers and the start of the body.</summary>
internal sealed record HttpExchange(
    int? Status, string? Error, IReadOnlyList<KeyValuePair<string, string>> Headers, string? Body, TimeSpan? RetryAfter, TimeSpan Duration);

/// <summary>
/// The one HTTP sender of campaigns: deliveries (each attempt, retry and replay, bulk included) and test sends. Its client
/// connects only through the SSRF guard's connect callback and never follows redirects (DeliveryEngineExtensions).
/// Never retries (the engine does).
/// </summary>
internal sealed class DeliverySender(IHttpClientFactory httpClientFactory, TimeProvider time)
{
    public const string HttpClientName = "Integration.Campaigns.Delivery";
    public const string ActivitySourceName = "Integration.Campaigns.Delivery";

    internal static readonly ActivitySource ActivitySource = new(ActivitySourceName);

    public async Task<AttemptResult> SendAsync(
        DeliveryRequest request, DeliveryTarget target, int attempt, TimeSpan timeout, int excerptBytes, CancellationToken cancellationToken)
    {
        // The trigger's trace (the webhook that caused it) is the parent, so one trace shows event → delivery;
        // HttpClient's instrumentation then carries it on to the destination in traceparent.
        ActivityContext.TryParse(request.TraceParent, null, isRemote: true, out var parent);
        using var activity = ActivitySource.StartActivity("delivery attempt", ActivityKind.Internal, parent);
        activity?.SetTag("integration.campaign.id", request.CampaignId);
        activity?.SetTag("integration.delivery.id", request.DeliveryId);
        activity?.SetTag("integration.delivery.attempt", attempt);
        activity?.SetTag("server.address", target.Destination);

        var exchange = await ExchangeAsync(request, target, timeout, excerptBytes, readSuccessBody: false, cancellationToken);
        if (exchange.Status is { } status)
        {
            activity?.SetTag("http.response.status_code", status);
        }
        if (exchange.Status is not (>= 200 and < 300))
        {
            activity?.SetStatus(ActivityStatusCode.Error, exchange.Error);
        }
        return new AttemptResult(exchange.Status, exchange.Error, exchange.Body, exchange.RetryAfter, exchange.Duration);
    }

    /// <summary>
    /// Sends once and reads the answer: its headers and at most <paramref name="maxBodyBytes"/> of its body (of a non-2xx
    /// answer only, unless <paramref name="readSuccessBody"/>). A timeout or a refused connection is an answer without a status.
    /// </summary>
    public async Task<HttpExchange> ExchangeAsync(
        DeliveryRequest request, DeliveryTarget target, TimeSpan timeout, int maxBodyBytes, bool readSuccessBody, CancellationToken cancellationToken)
    {
        using var message = BuildMessage(request, target);
        using var timeoutSource = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeoutSource.CancelAfter(timeout);
        var started = time.GetTimestamp();
        try
        {
            var client = httpClientFactory.CreateClient(HttpClientName);
            using var response = await client.SendAsync(message, HttpCompletionOption.ResponseHeadersRead, timeoutSource.Token);
            var status = (int)response.StatusCode;
            var body = readSuccessBody || status is < 200 or >= 300
                ? await ReadExcerptAsync(response, maxBodyBytes, timeoutSource.Token)
                : null;
            var headers = response.Headers.Concat(response.Content.Headers)
                .Select(h => KeyValuePair.Create(h.Key, string.Join(", ", h.Value))).ToList();
            var retryAfter = RetryPolicy.RetryAfter(response.Headers.RetryAfter, time.GetUtcNow());
            return new HttpExchange(status, null, headers, body, retryAfter, time.GetElapsedTime(started));
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return new HttpExchange(null, $"timeout after {timeout.TotalSeconds:0.###} s", [], null, null, time.GetElapsedTime(started));
        }
        catch (HttpRequestException ex)
        {
            // The message names the host at most; the URL (with possible secrets) is not in it.
            return new HttpExchange(null, $"connection failure ({ex.HttpRequestError}): {ex.Message}", [], null, null, time.GetElapsedTime(started));
        }
    }

    private static HttpRequestMessage BuildMessage(DeliveryRequest request, DeliveryTarget target)
    {
        var message = new HttpRequestMessage(new HttpMethod(request.Method.ToUpperInvariant()), request.Url);
        if (target.Body is not null)
        {
            var content = new StringContent(target.Body, Encoding.UTF8);
            content.Headers.ContentType = MediaTypeHeaderValue.TryParse(request.ContentType ?? "application/json", out var type)
                ? type
                : new MediaTypeHeaderValue("application/json");
            message.Content = content;
        }
        foreach (var (name, value) in request.Headers)
        {
            if (string.Equals(name, "Content-Type", StringComparison.OrdinalIgnoreCase))
            {
                continue;
            }
            if (!message.Headers.TryAddWithoutValidation(name, value))
            {
                message.Content?.Headers.TryAddWithoutValidation(name, value);
            }
        }
        if (!target.IsHeap && request.Options.IdempotencyHeader is { Length: > 0 } header && !message.Headers.Contains(header))
        {
            message.Headers.TryAddWithoutValidation(header, request.DeliveryId);
        }
        return message;
    }

    private static async Task<string> ReadExcerptAsync(HttpResponseMessage response, int maxBytes, CancellationToken cancellationToken)
    {
        if (maxBytes <= 0)
        {
            return "";
        }
        await using var stream = await response.Content.ReadAsStreamAsync(cancellationToken);
        var buffer = new byte[maxBytes];
        var total = 0;
        int read;
        while (total < maxBytes && (read = await stream.ReadAsync(buffer.AsMemory(total), cancellationToken)) > 0)
        {
            total += read;
        }
        return Encoding.UTF8.GetString(buffer, 0, total);
    }

    /// <summary>The request as it was sent, with credentials redacted, for a dead letter.</summary>
    public static string RedactedRequestJson(DeliveryRequest request, DeliveryTarget? target) =>
        JsonSerializer.Serialize(new RedactedRequestRecord(
            request.Method.ToUpperInvariant(),
            Redaction.Url(request.Url),
            Redaction.Headers(request.Headers),
            Redaction.Body(target?.Body ?? request.Body, request.ContentType),
            request.ContentType), RedisDeliveryStore.Json);
}

/// <summary>A request with its credentials replaced by "***".</summary>
internal sealed record RedactedRequestRecord(
    string Method, string Url, IReadOnlyDictionary<string, string> Headers, string? Body, string? ContentType);
