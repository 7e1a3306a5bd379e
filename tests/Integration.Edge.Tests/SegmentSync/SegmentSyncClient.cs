using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using Integration.Admin.V1;

namespace Integration.Edge.Tests.SegmentSync;

/// <summary>Heap's side of a segment sync: bodies shaped as heap/heap-api-reference sends them, signed with Heap-Hash.</summary>
internal static class SegmentSyncClient
{
    public const long SegmentId = 1338065;

    /// <summary>A workspace with a config that has a sync secret; returns the secret.</summary>
    public static async Task<string> SetUpAsync(InboundPipeline pipeline, string workspaceId, string configName,
        IdentifierKind kind = IdentifierKind.Email, string secret = "")
    {
        await pipeline.CreateWorkspaceAsync(workspaceId, kind, configName: configName);
        var set = await pipeline.AdminApi.SetSyncSecretAsync(
            new SetSyncSecretRequest { WorkspaceId = workspaceId, ConfigName = configName, SyncSecret = secret },
            pipeline.AdminHeaders, deadline: DateTime.UtcNow.AddSeconds(60));
        return set.SyncSecret;
    }

    public static JsonObject Sync(string taskId, int page, int totalPages, string[]? add = null, string[]? remove = null,
        string segmentName = "Free Customers", long segmentId = SegmentId)
    {
        var data = new JsonObject
        {
            ["segment"] = new JsonObject { ["id"] = segmentId, ["name"] = segmentName },
            ["sync_info"] = new JsonObject { ["page_number"] = page, ["total_pages"] = totalPages, ["sync_task_id"] = taskId },
        };
        if (add is not null)
        {
            data["add"] = new JsonArray(add.Select(id => (JsonNode)new JsonObject { ["id"] = id }).ToArray());
        }
        if (remove is not null)
        {
            data["remove"] = new JsonArray(remove.Select(id => (JsonNode)new JsonObject { ["id"] = id }).ToArray());
        }
        return Envelope("segment.users.sync", data);
    }

    public static JsonObject Drain(long segmentId = SegmentId) =>
        Envelope("segment.users.drain", new JsonObject { ["segment"] = new JsonObject { ["id"] = segmentId, ["name"] = "Segment To Drain" } });

    private static JsonObject Envelope(string action, JsonObject data) => new()
    {
        ["id_token"] = "7a36ae58-c4b9-11eb-8529-0242ac130003",
        ["action_type"] = action,
        ["customer_config"] = new JsonObject
        {
            ["fields"] = new JsonArray(new JsonObject
            {
                ["field_id"] = "workspace",
                ["field_display_name"] = "Workspace",
                ["value"] = new JsonObject { ["id"] = "workspace_1", ["display_name"] = "Workspace 1" },
            }),
        },
        ["data"] = data,
    };

    /// <summary>Heap-Hash for a body: ts (Unix milliseconds unless given) and the hex or base64 HMAC-SHA256 of ts + body.</summary>
    public static string Sign(string secret, string body, string? timestamp = null, bool base64 = false)
    {
        timestamp ??= DateTimeOffset.UtcNow.ToUnixTimeMilliseconds().ToString(CultureInfo.InvariantCulture);
        var digest = HMACSHA256.HashData(Encoding.UTF8.GetBytes(secret), Encoding.UTF8.GetBytes(timestamp + body));
        return $"ts:{timestamp},hmac:{(base64 ? Convert.ToBase64String(digest) : Convert.ToHexStringLower(digest))}";
    }

    public static HttpRequestMessage Request(string configName, string body, string? heapHash, string? path = null,
        string contentType = "application/json")
    {
        var request = new HttpRequestMessage(HttpMethod.Post, path ?? $"/v1/partner/heap-analytics/segments/?configName={configName}")
        {
            Content = new StringContent(body, Encoding.UTF8, contentType),
        };
        if (heapHash is not null)
        {
            request.Headers.TryAddWithoutValidation("Heap-Hash", heapHash);
        }
        return request;
    }

    public static HttpRequestMessage Signed(string configName, string secret, JsonObject body)
    {
        var json = body.ToJsonString();
        return Request(configName, json, Sign(secret, json));
    }

    public static string NewConfigName() => "sync-" + Guid.NewGuid().ToString("N")[..12];
}
