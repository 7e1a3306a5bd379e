using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Integration.HeapEmulator.Inspection;

namespace Integration.HeapEmulator.Tests;

/// <summary>Small helpers for speaking to the emulator the way a Heap client does.</summary>
internal static class HeapHttp
{
    public static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web)
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
    };

    public static Task<HttpResponseMessage> PostJsonAsync(this HttpClient http, string path, string json) =>
        http.PostAsync(path, new StringContent(json, Encoding.UTF8, "application/json"));

    public static Task<HttpResponseMessage> TrackAsync(this HttpClient http, string identity, string eventName = "Purchase",
        string app = HeapEmulatorFactory.App, string? idempotencyKey = null) =>
        http.PostJsonAsync("/api/track", new JsonObject
        {
            ["app_id"] = app,
            ["identity"] = identity,
            ["event"] = eventName,
            ["idempotency_key"] = idempotencyKey,
        }.ToJsonString());

    public static Task<HttpResponseMessage> TrackBulkAsync(this HttpClient http, IEnumerable<string> identities,
        string app = HeapEmulatorFactory.App, string eventName = "Bulk Event") =>
        http.PostJsonAsync("/api/track", new JsonObject
        {
            ["app_id"] = app,
            ["events"] = new JsonArray([.. identities.Select(identity =>
                (JsonNode)new JsonObject { ["identity"] = identity, ["event"] = eventName })]),
        }.ToJsonString());

    public static Task<HttpResponseMessage> AddUserPropertiesAsync(this HttpClient http, string identity, string app = HeapEmulatorFactory.App) =>
        http.PostJsonAsync("/api/add_user_properties", new JsonObject
        {
            ["app_id"] = app,
            ["identity"] = identity,
            ["properties"] = new JsonObject { ["plan"] = "gold" },
        }.ToJsonString());

    public static async Task<EventsPage> GetEventsAsync(this HttpClient http, string query = "") =>
        (await http.GetFromJsonAsync<EventsPage>("/_emulator/events" + query, Json))!;

    public static async Task<UsersPage> GetUsersAsync(this HttpClient http, string query = "") =>
        (await http.GetFromJsonAsync<UsersPage>("/_emulator/users" + query, Json))!;

    public static async Task<EmulatorStats> GetStatsAsync(this HttpClient http) =>
        (await http.GetFromJsonAsync<EmulatorStats>("/_emulator/stats", Json))!;

    public static async Task<HttpResponseMessage> AddFaultAsync(this HttpClient http, string json)
    {
        var response = await http.PostJsonAsync("/_emulator/faults", json);
        Assert.Equal(System.Net.HttpStatusCode.Created, response.StatusCode);
        return response;
    }

    public static async Task<string> ErrorAsync(this HttpResponseMessage response) =>
        (await response.Content.ReadFromJsonAsync<HeapError>(Json))!.Error;

    public static string? RetryAfter(this HttpResponseMessage response) =>
        response.Headers.TryGetValues("Retry-After", out var values) ? values.Single() : null;
}
