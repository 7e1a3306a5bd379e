using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Integration.Campaigns.Delivery;

/// <summary>
/// Where a delivery goes and what that implies: its destination lane (scheme://host:port), whether it
/// targets Heap's track API (then the idempotency key goes into the JSON body and Heap's limits apply),
/// and the body as actually sent.
/// </summary>
internal sealed record DeliveryTarget(
    string Destination,
    string Lane,
    bool IsHeap,
    string? HeapAppId,
    string? HeapIdentity,
    int HeapEventCount,
    bool IsHeapBulk,
    string? Body)
{
    private static readonly string[] HeapPaths = ["/api/track", "/api/add_user_properties"];

    /// <summary>The destination of a URL: <c>scheme://host:port</c>, lower case, without user info, path or query.</summary>
    public static string DestinationOf(string url)
    {
        var uri = new Uri(url, UriKind.Absolute);
        return $"{uri.Scheme}://{uri.IdnHost}:{uri.Port}".ToLowerInvariant();
    }

    /// <summary>A short stable id of a destination, safe in a Redis key.</summary>
    public static string LaneOf(string destination) =>
        Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(destination)).AsSpan(0, 8));

    /// <summary>The request exactly as rendered, nothing added (a test send shows what it sent).</summary>
    public static DeliveryTarget AsIs(DeliveryRequest request)
    {
        var destination = DestinationOf(request.Url);
        return new DeliveryTarget(destination, LaneOf(destination), false, null, null, 0, false, request.Body);
    }

    public static DeliveryTarget For(DeliveryRequest request)
    {
        var destination = DestinationOf(request.Url);
        var lane = LaneOf(destination);
        var path = new Uri(request.Url).AbsolutePath.TrimEnd('/');
        var heapPath = HeapPaths.Any(p => string.Equals(p, path, StringComparison.OrdinalIgnoreCase));
        if (!heapPath || !string.Equals(request.Method, "POST", StringComparison.OrdinalIgnoreCase) || request.Body is null
            || (request.ContentType is { } type && !type.Contains("json", StringComparison.OrdinalIgnoreCase)))
        {
            return new DeliveryTarget(destination, lane, false, null, null, 0, false, request.Body);
        }

        JsonObject? root;
        try
        {
            root = JsonNode.Parse(request.Body) as JsonObject;
        }
        catch (JsonException)
        {
            root = null;
        }
        if (root is null || root["app_id"] is not JsonValue appValue)
        {
            return new DeliveryTarget(destination, lane, false, null, null, 0, false, request.Body);
        }

        var appId = appValue.ToString();
        var items = root["events"] as JsonArray ?? root["users"] as JsonArray;
        if (items is not null)
        {
            // Bulk form: each event carries its own key, derived from the delivery id so a replay repeats them.
            for (var i = 0; i < items.Count; i++)
            {
                if (items[i] is JsonObject item && item["idempotency_key"] is null)
                {
                    item["idempotency_key"] = $"{request.DeliveryId}-{i}";
                }
            }
            var identities = items.OfType<JsonObject>().Select(IdentityOf).Distinct().ToList();
            return new DeliveryTarget(destination, lane, true, appId, identities.Count == 1 ? identities[0] : null,
                items.Count, true, root.ToJsonString());
        }

        if (root["idempotency_key"] is null)
        {
            root["idempotency_key"] = request.DeliveryId;
        }
        return new DeliveryTarget(destination, lane, true, appId, IdentityOf(root), 1, false, root.ToJsonString());
    }

    private static string? IdentityOf(JsonObject item) =>
        (item["identity"] ?? item["user_id"]) is JsonValue value ? value.ToString() : null;
}
