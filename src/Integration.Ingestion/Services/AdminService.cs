using System.Security.Cryptography;
using System.Text.RegularExpressions;
using Grpc.Core;
using Integration.Admin.V1;
using Integration.Ingestion.Storage;
using Microsoft.Extensions.Options;

namespace Integration.Ingestion.Services;

/// <summary>
/// Workspaces, integration configs, workspace tokens and the audit log (integration.admin.v1.Admin); who may call
/// what is <see cref="ApiAccess"/>'s, checked by <see cref="ApiAccessInterceptor"/>.
/// </summary>
internal sealed partial class AdminService(
    IWorkspaceStore store, SyncSecrets syncSecrets, WorkspaceTokens tokens, AuditLog audit, RetentionPolicy retention,
    IOptions<IngestionOptions> options, IOptions<StorageOptions> storage, TimeProvider time) : Admin.V1.Admin.AdminBase
{
    public const int DefaultRateLimit = 500;
    public const int MaxRateLimit = 100_000;

    public override async Task<CreateWorkspaceResponse> CreateWorkspace(CreateWorkspaceRequest request, ServerCallContext context)
    {
        ValidateWorkspaceId(request.WorkspaceId);
        var rateLimit = request.RateLimitPerSecond == 0 ? DefaultRateLimit : request.RateLimitPerSecond;
        ValidateRateLimit(rateLimit);
        var key = string.IsNullOrEmpty(request.DataApiKey) ? NewKey() : ValidateKey(request.DataApiKey);
        var name = string.IsNullOrWhiteSpace(request.Name) ? request.WorkspaceId : request.Name.Trim();
        if (name.Length > 200)
        {
            throw Invalid("name", "must be at most 200 characters");
        }

        var record = new WorkspaceRecord(request.WorkspaceId, name, rateLimit, RedisWorkspaceStore.HashKey(key), time.GetUtcNow().ToUnixTimeMilliseconds());
        if (!await store.CreateAsync(record, request.Upsert))
        {
            throw new RpcException(new Status(StatusCode.AlreadyExists,
                $"Workspace '{request.WorkspaceId}' exists already. Use RotateWorkspaceKey for a new key, or upsert=true."));
        }
        var stored = await store.GetAsync(request.WorkspaceId) ?? record;
        return new CreateWorkspaceResponse { Workspace = MapToWorkspace(stored), DataApiKey = key };
    }

    public override async Task<Workspace> GetWorkspace(GetWorkspaceRequest request, ServerCallContext context) =>
        MapToWorkspace(await GetExistingAsync(request.WorkspaceId));

    public override async Task<RotateWorkspaceKeyResponse> RotateWorkspaceKey(RotateWorkspaceKeyRequest request, ServerCallContext context)
    {
        ValidateWorkspaceId(request.WorkspaceId);
        var key = NewKey();
        if (!await store.SetKeyAsync(request.WorkspaceId, RedisWorkspaceStore.HashKey(key)))
        {
            throw UnknownWorkspace(request.WorkspaceId);
        }
        return new RotateWorkspaceKeyResponse { DataApiKey = key };
    }

    public override async Task<Workspace> SetRateLimit(SetRateLimitRequest request, ServerCallContext context)
    {
        ValidateWorkspaceId(request.WorkspaceId);
        ValidateRateLimit(request.RateLimitPerSecond);
        if (!await store.SetRateLimitAsync(request.WorkspaceId, request.RateLimitPerSecond))
        {
            throw UnknownWorkspace(request.WorkspaceId);
        }
        return MapToWorkspace(await GetExistingAsync(request.WorkspaceId));
    }

    public override async Task<Workspace> SetRetention(SetRetentionRequest request, ServerCallContext context)
    {
        ValidateWorkspaceId(request.WorkspaceId);
        if (request.RetentionDays is < 1 or > StorageOptions.MaxRetentionDays)
        {
            throw Invalid("retention_days", $"must be between 1 and {StorageOptions.MaxRetentionDays}");
        }
        if (!await store.SetRetentionDaysAsync(request.WorkspaceId, request.RetentionDays))
        {
            throw UnknownWorkspace(request.WorkspaceId);
        }
        // This replica applies it at once; the others within Storage:RetentionCacheSeconds.
        retention.Forget(request.WorkspaceId);
        return MapToWorkspace(await GetExistingAsync(request.WorkspaceId));
    }

    public override async Task<IntegrationConfig> CreateIntegrationConfig(CreateIntegrationConfigRequest request, ServerCallContext context)
    {
        var config = request.Config ?? throw Invalid("config", "is required");
        await GetExistingAsync(config.WorkspaceId);
        if (!ConfigNamePattern().IsMatch(config.ConfigName))
        {
            throw Invalid("config.config_name", "must be 1-64 characters of letters, digits, '_', '.' or '-'");
        }
        if (config.IdentifierKind is IdentifierKind.Unspecified || !Enum.IsDefined(config.IdentifierKind))
        {
            throw Invalid("config.identifier_kind", "must be IDENTIFIER_KIND_EMAIL, IDENTIFIER_KIND_PHONE or IDENTIFIER_KIND_EXTERNAL_ID");
        }
        if (config.Modules.Any(m => m is SyncModule.Unspecified || !Enum.IsDefined(m)))
        {
            throw Invalid("config.modules", "contains an unknown module");
        }
        foreach (var (from, to) in config.EventNameMapping)
        {
            if (string.IsNullOrWhiteSpace(from) || string.IsNullOrWhiteSpace(to) || from.Length > 256 || to.Length > 256)
            {
                throw Invalid("config.event_name_mapping", "names must be 1-256 characters and not blank");
            }
        }

        var modules = config.Modules.Count == 0
            ? [SyncModule.Users, SyncModule.Events, SyncModule.Sessions, SyncModule.CustomProperties]
            : config.Modules.Distinct().Order().ToArray();
        var record = new ConfigRecord(config.ConfigName, (int)config.IdentifierKind, modules.Select(m => (int)m).ToArray(),
            new Dictionary<string, string>(config.EventNameMapping));
        if (!await store.SaveConfigAsync(config.WorkspaceId, record, request.Upsert))
        {
            throw new RpcException(new Status(StatusCode.AlreadyExists,
                $"Integration config '{config.ConfigName}' exists already in workspace '{config.WorkspaceId}'. Delete it first, or upsert=true."));
        }
        return MapToConfig(config.WorkspaceId, record, await store.GetSyncSecretAsync(config.WorkspaceId, config.ConfigName) is not null);
    }

    public override async Task<ListIntegrationConfigsResponse> ListIntegrationConfigs(ListIntegrationConfigsRequest request, ServerCallContext context)
    {
        await GetExistingAsync(request.WorkspaceId);
        var response = new ListIntegrationConfigsResponse();
        var withSecret = await store.ListSyncSecretNamesAsync(request.WorkspaceId);
        response.Configs.AddRange((await store.ListConfigsAsync(request.WorkspaceId))
            .Select(c => MapToConfig(request.WorkspaceId, c, withSecret.Contains(c.ConfigName))));
        return response;
    }

    public override async Task<DeleteIntegrationConfigResponse> DeleteIntegrationConfig(DeleteIntegrationConfigRequest request, ServerCallContext context)
    {
        await GetExistingAsync(request.WorkspaceId);
        return new DeleteIntegrationConfigResponse { Deleted = await store.DeleteConfigAsync(request.WorkspaceId, request.ConfigName) };
    }

    public override async Task<CreateWorkspaceTokenResponse> CreateWorkspaceToken(CreateWorkspaceTokenRequest request, ServerCallContext context)
    {
        await GetExistingAsync(request.WorkspaceId);
        var name = request.Name.Trim();
        if (name.Length is 0 or > 100 || name.Any(char.IsControl))
        {
            throw Invalid("name", "must be 1-100 characters without control characters");
        }
        var created = await tokens.CreateAsync(request.WorkspaceId, name, ApiAccessInterceptor.CallerOf(context).Id)
            ?? throw new RpcException(new Status(StatusCode.ResourceExhausted,
                $"Workspace '{request.WorkspaceId}' has {WorkspaceTokens.MaxPerWorkspace} tokens already; revoke one first."));
        return new CreateWorkspaceTokenResponse { Info = MapToToken(created.Info), Token = created.Token };
    }

    public override async Task<ListWorkspaceTokensResponse> ListWorkspaceTokens(ListWorkspaceTokensRequest request, ServerCallContext context)
    {
        await GetExistingAsync(request.WorkspaceId);
        var response = new ListWorkspaceTokensResponse();
        response.Tokens.AddRange((await tokens.ListAsync(request.WorkspaceId)).Select(MapToToken));
        return response;
    }

    public override async Task<RevokeWorkspaceTokenResponse> RevokeWorkspaceToken(RevokeWorkspaceTokenRequest request, ServerCallContext context)
    {
        ValidateWorkspaceId(request.WorkspaceId);
        if (request.TokenId.Length == 0)
        {
            throw Invalid("token_id", "is required");
        }
        return await tokens.RevokeAsync(request.WorkspaceId, request.TokenId)
            ? new RevokeWorkspaceTokenResponse { Revoked = true }
            : throw new RpcException(new Status(StatusCode.NotFound, $"No token '{request.TokenId}' in workspace '{request.WorkspaceId}'."));
    }

    public override async Task<ListAuditLogResponse> ListAuditLog(ListAuditLogRequest request, ServerCallContext context)
    {
        ValidateWorkspaceId(request.WorkspaceId);
        if (request.PageSize is < 0 or > 1000)
        {
            throw Invalid("page_size", "must be between 1 and 1000 (0: 100)");
        }
        if (request.PageToken.Length > 0 && !AuditLog.IsPageToken(request.PageToken))
        {
            throw Invalid("page_token", "is not a token returned by this API");
        }
        var (entries, next) = await audit.ReadAsync(request.WorkspaceId, request.PageSize == 0 ? 100 : request.PageSize, request.PageToken);
        var response = new ListAuditLogResponse { NextPageToken = next };
        response.Entries.AddRange(entries.Select(e => new Admin.V1.AuditEntry
        {
            Id = e.Id, AtMs = e.AtMs, Actor = e.Actor, Action = e.Action, Target = e.Target, Outcome = e.Outcome,
        }));
        return response;
    }

    private static WorkspaceToken MapToToken(WorkspaceTokenInfo info) => new()
    {
        WorkspaceId = info.WorkspaceId,
        TokenId = info.TokenId,
        Name = info.Name,
        CreatedAtMs = info.CreatedAtMs,
        CreatedBy = info.CreatedBy,
    };

    public override async Task<SetSyncSecretResponse> SetSyncSecret(SetSyncSecretRequest request, ServerCallContext context)
    {
        var config = await GetExistingConfigAsync(request.WorkspaceId, request.ConfigName);
        var secret = request.SyncSecret.Length == 0 ? SyncSecrets.Generate() : request.SyncSecret;
        if (SyncSecrets.Problem(secret) is { } problem)
        {
            throw Invalid("sync_secret", problem);
        }
        if (await syncSecrets.SetAsync(request.WorkspaceId, request.ConfigName, secret) is { } owner)
        {
            throw new RpcException(new Status(StatusCode.AlreadyExists,
                $"A config named '{request.ConfigName}' receives Heap segment syncs in workspace '{owner}' already; the segment-sync URL " +
                "names only the config, so segment sync needs a config name no other workspace uses for it. Create a config with another name."));
        }
        return new SetSyncSecretResponse { SyncSecret = secret, Config = MapToConfig(request.WorkspaceId, config, hasSyncSecret: true) };
    }

    public override async Task<DeleteSyncSecretResponse> DeleteSyncSecret(DeleteSyncSecretRequest request, ServerCallContext context)
    {
        await GetExistingConfigAsync(request.WorkspaceId, request.ConfigName);
        return new DeleteSyncSecretResponse { Deleted = await store.DeleteSyncSecretAsync(request.WorkspaceId, request.ConfigName) };
    }

    private async Task<ConfigRecord> GetExistingConfigAsync(string workspaceId, string configName)
    {
        await GetExistingAsync(workspaceId);
        if (!ConfigNamePattern().IsMatch(configName))
        {
            throw Invalid("config_name", "must be 1-64 characters of letters, digits, '_', '.' or '-'");
        }
        return await store.GetConfigAsync(workspaceId, configName)
            ?? throw new RpcException(new Status(StatusCode.NotFound, $"Workspace '{workspaceId}' has no integration config named '{configName}'."));
    }

    private async Task<WorkspaceRecord> GetExistingAsync(string workspaceId)
    {
        ValidateWorkspaceId(workspaceId);
        return await store.GetAsync(workspaceId) ?? throw UnknownWorkspace(workspaceId);
    }

    private IntegrationConfig MapToConfig(string workspaceId, ConfigRecord record, bool hasSyncSecret)
    {
        var baseUrl = options.Value.EdgePublicBaseUrl.TrimEnd('/');
        var query = "?configName=" + Uri.EscapeDataString(record.ConfigName);
        var config = new IntegrationConfig
        {
            WorkspaceId = workspaceId,
            ConfigName = record.ConfigName,
            IdentifierKind = (IdentifierKind)record.IdentifierKind,
            UserWebhookUrl = $"{baseUrl}/v1/partner/heap-analytics/user/{query}",
            EventsWebhookUrl = $"{baseUrl}/v1/partner/heap-analytics/events/{query}",
            SessionsWebhookUrl = $"{baseUrl}/v1/partner/heap-analytics/sessions/{query}",
            CustomPropertiesWebhookUrl = $"{baseUrl}/v1/partner/heap-analytics/custom-properties/{query}",
            SegmentsWebhookUrl = $"{baseUrl}/v1/partner/heap-analytics/segments/{query}",
            HasSyncSecret = hasSyncSecret,
        };
        config.Modules.AddRange(record.Modules.Select(m => (SyncModule)m));
        config.EventNameMapping.Add(record.EventNameMapping);
        return config;
    }

    private Workspace MapToWorkspace(WorkspaceRecord record) => new()
    {
        WorkspaceId = record.WorkspaceId,
        Name = record.Name,
        RateLimitPerSecond = record.RateLimitPerSecond,
        CreatedAtMs = record.CreatedAtMs,
        RetentionDays = record.RetentionDays ?? storage.Value.DefaultRetentionDays,
    };

    private static string NewKey() => Convert.ToBase64String(RandomNumberGenerator.GetBytes(32))
        .TrimEnd('=').Replace('+', '-').Replace('/', '_');

    private static string ValidateKey(string key)
    {
        if (key.Length is < 8 or > 256 || key.Any(c => char.IsWhiteSpace(c) || char.IsControl(c) || c == ':'))
        {
            throw Invalid("data_api_key", "must be 8-256 characters without whitespace, control characters or ':'");
        }
        return key;
    }

    internal static void ValidateWorkspaceId(string workspaceId)
    {
        if (!WorkspaceIdPattern().IsMatch(workspaceId))
        {
            throw Invalid("workspace_id", "must be 1-64 characters of letters, digits, '_' or '-'");
        }
    }

    private static void ValidateRateLimit(int rateLimit)
    {
        if (rateLimit is < 1 or > MaxRateLimit)
        {
            throw Invalid("rate_limit_per_second", $"must be between 1 and {MaxRateLimit}");
        }
    }

    private static RpcException Invalid(string field, string problem) =>
        new(new Status(StatusCode.InvalidArgument, $"{field} {problem}."));

    private static RpcException UnknownWorkspace(string workspaceId) =>
        new(new Status(StatusCode.NotFound, $"Workspace '{workspaceId}' does not exist."));

    [GeneratedRegex("^[A-Za-z0-9_-]{1,64}$")]
    private static partial Regex WorkspaceIdPattern();

    [GeneratedRegex("^[A-Za-z0-9_.-]{1,64}$")]
    private static partial Regex ConfigNamePattern();
}
