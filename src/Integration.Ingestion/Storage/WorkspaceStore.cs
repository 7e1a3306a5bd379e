using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using StackExchange.Redis;

namespace Integration.Ingestion.Storage;

/// <summary>
/// A workspace as stored. The data API key is kept only as its SHA-256; <paramref name="RetentionDays"/> is null until one is
/// set (the default, <see cref="StorageOptions.DefaultRetentionDays"/>, applies).
/// </summary>
internal sealed record WorkspaceRecord(string WorkspaceId, string Name, int RateLimitPerSecond, byte[] KeySha256, long CreatedAtMs, int? RetentionDays = null);

/// <summary>An integration config as stored (JSON in the workspace's config hash).</summary>
internal sealed record ConfigRecord(
    [property: JsonPropertyName("config_name")] string ConfigName,
    [property: JsonPropertyName("identifier_kind")] int IdentifierKind,
    [property: JsonPropertyName("modules")] int[] Modules,
    [property: JsonPropertyName("event_name_mapping")] Dictionary<string, string> EventNameMapping);

[JsonSerializable(typeof(ConfigRecord))]
[JsonSerializable(typeof(string))]
internal sealed partial class StorageJsonContext : JsonSerializerContext;

/// <summary>Owns the workspace and integration-config keys (see docs/keyspace.md).</summary>
internal interface IWorkspaceStore
{
    /// <summary>Creates the workspace; false if it exists (and <paramref name="upsert"/> is off).</summary>
    Task<bool> CreateAsync(WorkspaceRecord workspace, bool upsert);
    Task<WorkspaceRecord?> GetAsync(string workspaceId);
    Task<bool> SetKeyAsync(string workspaceId, byte[] keySha256);
    Task<bool> SetRateLimitAsync(string workspaceId, int rateLimitPerSecond);
    /// <summary>The workspace's raw-event retention in days, or null when it has none of its own (the default applies).</summary>
    Task<int?> GetRetentionDaysAsync(string workspaceId);
    Task<bool> SetRetentionDaysAsync(string workspaceId, int retentionDays);
    /// <summary>Whether every user of the workspace stored before the user hash has been merged into it (UserHashMigration).</summary>
    Task<bool> AreUsersMergedAsync(string workspaceId);
    Task MarkUsersMergedAsync(string workspaceId);
    /// <summary>Saves a config; false if it exists and <paramref name="upsert"/> is off.</summary>
    Task<bool> SaveConfigAsync(string workspaceId, ConfigRecord config, bool upsert);
    Task<IReadOnlyList<ConfigRecord>> ListConfigsAsync(string workspaceId);
    Task<ConfigRecord?> GetConfigAsync(string workspaceId, string configName);
    /// <summary>Deletes a config, its sync secret and its claim on the name for segment sync.</summary>
    Task<bool> DeleteConfigAsync(string workspaceId, string configName);

    /// <summary>
    /// The workspace whose config of this name carries a sync secret, or null. The segment-sync URL names only the config,
    /// so such a name belongs to one workspace (the claim), whatever other workspaces name their configs.
    /// </summary>
    Task<string?> GetSyncClaimAsync(string configName);
    /// <summary>Claims the name for the workspace; false if another workspace holds it (pass it as <paramref name="takeOverFrom"/> to replace a dead claim).</summary>
    Task<bool> ClaimSyncNameAsync(string configName, string workspaceId, string? takeOverFrom = null);
    /// <summary>Stores the config's sync secret (already encrypted) under the claim.</summary>
    Task SetSyncSecretAsync(string workspaceId, string configName, string protectedSecret);
    /// <summary>The config's encrypted sync secret, or null.</summary>
    Task<string?> GetSyncSecretAsync(string workspaceId, string configName);
    /// <summary>The names of the workspace's configs that carry a sync secret.</summary>
    Task<IReadOnlySet<string>> ListSyncSecretNamesAsync(string workspaceId);
    /// <summary>Removes the config's sync secret and releases the name; false if it had none.</summary>
    Task<bool> DeleteSyncSecretAsync(string workspaceId, string configName);
}

internal sealed class RedisWorkspaceStore(IConnectionMultiplexer redis) : IWorkspaceStore
{
    /// <summary>The set of every workspace id (global, single-key commands only); the background passes walk it.</summary>
    public const string WorkspacesKey = "workspaces";
    // Global (no hash tag): config name → the workspace whose config of that name carries a sync secret. Single-key commands only.
    private const string SyncClaimsKey = "syncnames";

    private static RedisKey WorkspaceKey(string ws) => $"ws:{{{ws}}}";
    private static RedisKey ConfigsKey(string ws) => $"ws:{{{ws}}}:configs";
    private static RedisKey SyncSecretsKey(string ws) => $"ws:{{{ws}}}:syncsecrets";

    private static readonly string ClaimScript = Scripts.Load("sync_claim.lua");
    private static readonly string ReleaseScript = Scripts.Load("sync_release.lua");

    // Creating sets every field at once and only if the workspace is new (or upsert is asked for).
    private static readonly LuaScript CreateScript = LuaScript.Prepare("""
        if @upsert == '0' and redis.call('EXISTS', @key) == 1 then return 0 end
        local created = redis.call('HGET', @key, 'created_at_ms') or @createdAt
        redis.call('HSET', @key, 'name', @name, 'rate_limit', @rateLimit, 'key_sha256', @keyHash, 'created_at_ms', created)
        return 1
        """);

    private IDatabase Db => redis.GetDatabase();

    public async Task<bool> CreateAsync(WorkspaceRecord workspace, bool upsert)
    {
        var created = (int)await Db.ScriptEvaluateAsync(CreateScript, new
        {
            key = WorkspaceKey(workspace.WorkspaceId),
            upsert = upsert ? "1" : "0",
            name = workspace.Name,
            rateLimit = workspace.RateLimitPerSecond,
            keyHash = Convert.ToHexStringLower(workspace.KeySha256),
            createdAt = workspace.CreatedAtMs,
        });
        if (created == 1)
        {
            // The registry is a convenience for listing; the workspace hash is the record of truth.
            await Db.SetAddAsync(WorkspacesKey, workspace.WorkspaceId);
        }
        return created == 1;
    }

    public async Task<WorkspaceRecord?> GetAsync(string workspaceId)
    {
        var fields = await Db.HashGetAsync(WorkspaceKey(workspaceId), ["name", "rate_limit", "key_sha256", "created_at_ms", "retention_days"]);
        if (fields[2].IsNull)
        {
            return null;
        }
        return new WorkspaceRecord(workspaceId, fields[0].ToString(), (int)fields[1], Convert.FromHexString(fields[2].ToString()), (long)fields[3],
            fields[4].IsNull ? null : (int)fields[4]);
    }

    public Task<bool> SetKeyAsync(string workspaceId, byte[] keySha256) =>
        SetIfExistsAsync(workspaceId, "key_sha256", Convert.ToHexStringLower(keySha256));

    public Task<bool> SetRateLimitAsync(string workspaceId, int rateLimitPerSecond) =>
        SetIfExistsAsync(workspaceId, "rate_limit", rateLimitPerSecond);

    public async Task<int?> GetRetentionDaysAsync(string workspaceId)
    {
        var days = await Db.HashGetAsync(WorkspaceKey(workspaceId), "retention_days");
        return days.IsNull ? null : (int)days;
    }

    public Task<bool> SetRetentionDaysAsync(string workspaceId, int retentionDays) =>
        SetIfExistsAsync(workspaceId, "retention_days", retentionDays);

    public async Task<bool> AreUsersMergedAsync(string workspaceId) => await Db.HashExistsAsync(WorkspaceKey(workspaceId), UsersMergedField);

    public Task MarkUsersMergedAsync(string workspaceId) => SetIfExistsAsync(workspaceId, UsersMergedField, 1);

    private const string UsersMergedField = "users_merged";

    private static readonly LuaScript SetIfExistsScript = LuaScript.Prepare("""
        if redis.call('EXISTS', @key) == 0 then return 0 end
        redis.call('HSET', @key, @field, @value)
        return 1
        """);

    private async Task<bool> SetIfExistsAsync(string workspaceId, string field, RedisValue value) =>
        (int)await Db.ScriptEvaluateAsync(SetIfExistsScript, new { key = WorkspaceKey(workspaceId), field, value }) == 1;

    public async Task<bool> SaveConfigAsync(string workspaceId, ConfigRecord config, bool upsert)
    {
        var json = JsonSerializer.Serialize(config, StorageJsonContext.Default.ConfigRecord);
        if (!upsert)
        {
            return await Db.HashSetAsync(ConfigsKey(workspaceId), config.ConfigName, json, When.NotExists);
        }
        await Db.HashSetAsync(ConfigsKey(workspaceId), config.ConfigName, json);
        return true;
    }

    public async Task<IReadOnlyList<ConfigRecord>> ListConfigsAsync(string workspaceId)
    {
        var entries = await Db.HashGetAllAsync(ConfigsKey(workspaceId));
        return entries
            .Select(e => JsonSerializer.Deserialize(e.Value.ToString(), StorageJsonContext.Default.ConfigRecord)!)
            .OrderBy(c => c.ConfigName, StringComparer.Ordinal)
            .ToList();
    }

    public async Task<ConfigRecord?> GetConfigAsync(string workspaceId, string configName)
    {
        var json = await Db.HashGetAsync(ConfigsKey(workspaceId), configName);
        return json.IsNull ? null : JsonSerializer.Deserialize(json.ToString(), StorageJsonContext.Default.ConfigRecord);
    }

    public async Task<bool> DeleteConfigAsync(string workspaceId, string configName)
    {
        var deleted = await Db.HashDeleteAsync(ConfigsKey(workspaceId), configName);
        await DeleteSyncSecretAsync(workspaceId, configName);
        return deleted;
    }

    public async Task<string?> GetSyncClaimAsync(string configName) => await Db.HashGetAsync(SyncClaimsKey, configName);

    public async Task<bool> ClaimSyncNameAsync(string configName, string workspaceId, string? takeOverFrom = null) =>
        (int)await Db.ScriptEvaluateAsync(ClaimScript, [SyncClaimsKey], [configName, workspaceId, takeOverFrom ?? ""]) == 1;

    public Task SetSyncSecretAsync(string workspaceId, string configName, string protectedSecret) =>
        Db.HashSetAsync(SyncSecretsKey(workspaceId), configName, protectedSecret);

    public async Task<string?> GetSyncSecretAsync(string workspaceId, string configName) =>
        await Db.HashGetAsync(SyncSecretsKey(workspaceId), configName);

    public async Task<IReadOnlySet<string>> ListSyncSecretNamesAsync(string workspaceId) =>
        (await Db.HashKeysAsync(SyncSecretsKey(workspaceId))).Select(k => k.ToString()).ToHashSet(StringComparer.Ordinal);

    public async Task<bool> DeleteSyncSecretAsync(string workspaceId, string configName)
    {
        // The secret first: a claim without a secret is dead and can be taken over, a secret without its claim would be unreachable.
        var deleted = await Db.HashDeleteAsync(SyncSecretsKey(workspaceId), configName);
        await Db.ScriptEvaluateAsync(ReleaseScript, [SyncClaimsKey], [configName, workspaceId]);
        return deleted;
    }

    /// <summary>SHA-256 of a data API key, as stored and as the edge compares it.</summary>
    public static byte[] HashKey(string key) => SHA256.HashData(Encoding.UTF8.GetBytes(key));
}
