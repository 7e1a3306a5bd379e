using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using StackExchange.Redis;

namespace Microsoft.Extensions.Hosting;

/// <summary>A workspace API token as listed (never the token itself).</summary>
public sealed record WorkspaceTokenInfo(string WorkspaceId, string TokenId, string Name, long CreatedAtMs, string CreatedBy);

/// <summary>
/// Workspace API tokens: created by the admin API (ingestion), checked by every guarded gRPC service. Owner of the
/// <c>wstok:{ws}</c> keys (docs/keyspace.md). A token reads <c>wst.&lt;workspace&gt;.&lt;token id&gt;.&lt;secret&gt;</c>,
/// so checking it is one HGET in its workspace's slot; only its SHA-256 is stored, compared in constant time.
/// </summary>
public sealed class WorkspaceTokens(IConnectionMultiplexer redis, TimeProvider time)
{
    /// <summary>Tokens a workspace may have at once (revoke one to make room).</summary>
    public const int MaxPerWorkspace = 100;

    private const string Prefix = "wst.";

    private static readonly string CreateScript = EmbeddedScripts.Read(typeof(WorkspaceTokens), "Access.workspace-token-create.lua");

    private static RedisKey Key(string ws) => $"wstok:{{{ws}}}";

    /// <summary>Whether a presented bearer token has the shape of a workspace token (so it is looked up, not compared).</summary>
    public static bool LooksLikeToken(string presented) => presented.StartsWith(Prefix, StringComparison.Ordinal);

    /// <summary>Creates a token; null when the workspace has <see cref="MaxPerWorkspace"/> already.</summary>
    public async Task<(WorkspaceTokenInfo Info, string Token)?> CreateAsync(string workspaceId, string name, string createdBy)
    {
        var tokenId = "t" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(8));
        var secret = Convert.ToBase64String(RandomNumberGenerator.GetBytes(32)).TrimEnd('=').Replace('+', '-').Replace('/', '_');
        var token = $"{Prefix}{workspaceId}.{tokenId}.{secret}";
        var record = new StoredToken(name, Convert.ToHexStringLower(Hash(token)), time.GetUtcNow().ToUnixTimeMilliseconds(), createdBy);
        var created = (int)await redis.GetDatabase().ScriptEvaluateAsync(CreateScript, [Key(workspaceId)],
            [tokenId, JsonSerializer.Serialize(record, TokenJson.Default.StoredToken), MaxPerWorkspace]);
        return created == 1 ? (Info(workspaceId, tokenId, record), token) : null;
    }

    public async Task<IReadOnlyList<WorkspaceTokenInfo>> ListAsync(string workspaceId) =>
        (await redis.GetDatabase().HashGetAllAsync(Key(workspaceId)))
            .Select(e => Info(workspaceId, e.Name.ToString(), Parse(e.Value)))
            .OrderBy(t => t.CreatedAtMs)
            .ToList();

    /// <summary>Revokes a token at once (the next call with it is refused); false if there was none.</summary>
    public Task<bool> RevokeAsync(string workspaceId, string tokenId) => redis.GetDatabase().HashDeleteAsync(Key(workspaceId), tokenId);

    /// <summary>The token's workspace and id, or null when it is malformed, unknown, revoked or wrong.</summary>
    public async Task<WorkspaceTokenInfo?> AuthenticateAsync(string presented)
    {
        var parts = presented.Split('.');
        if (parts.Length != 4 || parts[1].Length is 0 or > 64 || parts[2].Length is 0 or > 32)
        {
            return null;
        }
        var stored = await redis.GetDatabase().HashGetAsync(Key(parts[1]), parts[2]);
        if (stored.IsNull)
        {
            return null;
        }
        var record = Parse(stored);
        return CryptographicOperations.FixedTimeEquals(Hash(presented), Convert.FromHexString(record.Sha256))
            ? Info(parts[1], parts[2], record)
            : null;
    }

    private static byte[] Hash(string token) => SHA256.HashData(Encoding.UTF8.GetBytes(token));

    private static StoredToken Parse(RedisValue value) => JsonSerializer.Deserialize(value.ToString(), TokenJson.Default.StoredToken)!;

    private static WorkspaceTokenInfo Info(string workspaceId, string tokenId, StoredToken record) =>
        new(workspaceId, tokenId, record.Name, record.CreatedAtMs, record.CreatedBy);
}

internal sealed record StoredToken(
    [property: JsonPropertyName("name")] string Name,
    [property: JsonPropertyName("sha256")] string Sha256,
    [property: JsonPropertyName("created_ms")] long CreatedAtMs,
    [property: JsonPropertyName("created_by")] string CreatedBy);

[JsonSerializable(typeof(StoredToken))]
internal sealed partial class TokenJson : JsonSerializerContext;
