using System.Text.Json;
using System.Text.Json.Nodes;

namespace Integration.Edge.Tests.Webhooks;

/// <summary>Heap webhook bodies for tests, built as JSON objects so a test can change one field.</summary>
internal static class Payloads
{
    public static JsonObject User(string customerId = "alice@example.com", object? updatedAt = null) => new()
    {
        ["customer_id"] = customerId,
        ["updated_at"] = JsonValue.Create(updatedAt ?? "2026-11-01T10:00:00Z"),
        ["first_name"] = "Alice",
        ["last_name"] = "Liddell",
        ["email"] = "alice@example.com",
        ["phone"] = "",
        ["user_attributes"] = new JsonObject { ["plan"] = "trial", ["seats"] = 3 },
    };

    public static JsonObject Event(string eventName = "Checkout Started", string customerId = "alice@example.com", object? updatedAt = null)
    {
        var body = User(customerId, updatedAt);
        body.Remove("user_attributes");
        body["event_attributes"] = new JsonObject { ["event_name"] = eventName, ["order_id"] = "o-1", ["amount"] = 42.5 };
        return body;
    }

    public static string WorkspaceId() => "ws" + Guid.NewGuid().ToString("N")[..12];

    public static async Task<JsonElement> ReadJsonAsync(HttpResponseMessage response) =>
        JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.Clone();
}
