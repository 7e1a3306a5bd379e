using System.Text.Json;
using System.Text.Json.Serialization;
using Microsoft.Net.Http.Headers;

namespace Integration.Edge.Webhooks;

internal sealed record SuccessBody(
    [property: JsonPropertyName("status")] string Status,
    [property: JsonPropertyName("message")] string Message,
    [property: JsonPropertyName("request_id")] string RequestId);

internal sealed record ErrorDetail(
    [property: JsonPropertyName("type")] string Type,
    [property: JsonPropertyName("message")] string Message,
    [property: JsonPropertyName("attribute"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? Attribute,
    [property: JsonPropertyName("request_id")] string RequestId,
    [property: JsonPropertyName("errors"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] IReadOnlyList<FieldErrorBody>? Errors);

internal sealed record FieldErrorBody(
    [property: JsonPropertyName("attribute")] string Attribute,
    [property: JsonPropertyName("message")] string Message);

internal sealed record FailBody(
    [property: JsonPropertyName("status")] string Status,
    [property: JsonPropertyName("error")] ErrorDetail Error);

[JsonSerializable(typeof(SuccessBody))]
[JsonSerializable(typeof(FailBody))]
internal sealed partial class EdgeJsonContext : JsonSerializerContext;

/// <summary>Answers in MoEngage's Data API shapes (DESIGN §3).</summary>
internal static class MoEngageResponses
{
    public const string AcceptedMessage = "Your request has been accepted and will be processed soon.";

    public static Task SuccessAsync(HttpContext context, string requestId, string message = AcceptedMessage)
    {
        context.Response.StatusCode = StatusCodes.Status200OK;
        return WriteAsync(context, new SuccessBody("success", message, requestId), EdgeJsonContext.Default.SuccessBody);
    }

    public static Task FailAsync(HttpContext context, int status, string message, string requestId, string? attribute = null,
        IReadOnlyList<FieldError>? errors = null, int? retryAfterSeconds = null)
    {
        context.Response.StatusCode = status;
        if (retryAfterSeconds is { } seconds)
        {
            context.Response.Headers[HeaderNames.RetryAfter] = seconds.ToString(System.Globalization.CultureInfo.InvariantCulture);
        }
        var detail = new ErrorDetail(TypeOf(status), message, attribute, requestId,
            errors?.Select(e => new FieldErrorBody(e.Attribute, e.Message)).ToList());
        return WriteAsync(context, new FailBody("fail", detail), EdgeJsonContext.Default.FailBody);
    }

    /// <summary>A 400 naming every offending field: attribute lists them all, errors gives each message.</summary>
    public static Task ValidationFailedAsync(HttpContext context, IReadOnlyList<FieldError> errors, string requestId)
    {
        var attributes = string.Join(",", errors.Select(e => e.Attribute).Distinct());
        var message = string.Join("; ", errors.Select(e => $"{e.Attribute} {e.Message}"));
        return FailAsync(context, StatusCodes.Status400BadRequest, message, requestId, attributes, errors);
    }

    private static string TypeOf(int status) => status switch
    {
        400 => "Bad Request",
        401 => "Authentication required",
        404 => "Not Found",
        405 => "Method Not Allowed",
        413 => "Payload Too Large",
        415 => "Unsupported Media Type",
        429 => "Rate Limit Exceeded",
        503 => "Service Unavailable",
        _ => "Error",
    };

    /// <summary>
    /// Serialised first, then written once with its Content-Length: the headers and the body leave in one send,
    /// without chunked framing or a second write to end it.
    /// </summary>
    private static Task WriteAsync<T>(HttpContext context, T body, System.Text.Json.Serialization.Metadata.JsonTypeInfo<T> typeInfo)
    {
        var json = JsonSerializer.SerializeToUtf8Bytes(body, typeInfo);
        context.Response.ContentType = "application/json; charset=utf-8";
        context.Response.ContentLength = json.Length;
        return context.Response.Body.WriteAsync(json, context.RequestAborted).AsTask();
    }
}
