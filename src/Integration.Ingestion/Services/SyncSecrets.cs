using System.Security.Cryptography;
using Integration.Ingestion.Storage;

namespace Integration.Ingestion.Services;

/// <summary>What the edge needs to verify a segment sync addressed to a config name; the secret still encrypted.</summary>
internal sealed record SyncAuthRecord(WorkspaceRecord Workspace, ConfigRecord Config, string ProtectedSecret);

/// <summary>
/// The sync secrets of integration configs: the HMAC keys Heap signs segment syncs with, so they are stored encrypted
/// (never hashed: the edge must compute the HMAC with them) with the shared key ring (<see cref="ISecretProtector"/>,
/// <see cref="SecretPurposes.SegmentSync"/>; the edge decrypts them) and shown only when set. The segment-sync URL carries only
/// the config name, so the name of a config with a sync secret is claimed for its workspace: one name, one workspace.
/// </summary>
internal sealed class SyncSecrets(IWorkspaceStore store, ISecretProtector protector)
{
    public const int MinLength = 16;
    public const int MaxLength = 256;

    /// <summary>A random 256-bit secret, URL-safe.</summary>
    public static string Generate() => Convert.ToBase64String(RandomNumberGenerator.GetBytes(32))
        .TrimEnd('=').Replace('+', '-').Replace('/', '_');

    /// <summary>Why a chosen secret is unusable, or null.</summary>
    public static string? Problem(string secret) =>
        secret.Length is < MinLength or > MaxLength || secret.Any(c => char.IsWhiteSpace(c) || char.IsControl(c))
            ? $"must be {MinLength}-{MaxLength} characters without whitespace or control characters"
            : null;

    /// <summary>
    /// Sets the config's sync secret. Null if done; otherwise the workspace that holds the name for segment sync.
    /// </summary>
    public async Task<string?> SetAsync(string workspaceId, string configName, string secret)
    {
        var owner = await store.GetSyncClaimAsync(configName);
        string? deadOwner = null;
        if (owner is not null && owner != workspaceId)
        {
            // A claim whose config has no secret any more (deleted half-way, or by hand) is free to take.
            if (await store.GetSyncSecretAsync(owner, configName) is not null)
            {
                return owner;
            }
            deadOwner = owner;
        }
        if (!await store.ClaimSyncNameAsync(configName, workspaceId, deadOwner))
        {
            return await store.GetSyncClaimAsync(configName) ?? "another workspace";
        }
        await store.SetSyncSecretAsync(workspaceId, configName, protector.Protect(SecretPurposes.SegmentSync, secret));

        // Another workspace may have taken the claim over between our claim and our write (it saw our claim without a
        // secret); then our secret is unreachable and must not look set.
        if (await store.GetSyncClaimAsync(configName) is { } now && now != workspaceId)
        {
            await store.DeleteSyncSecretAsync(workspaceId, configName);
            return now;
        }
        return null;
    }

    /// <summary>The workspace, config and (encrypted) secret behind a segment-sync URL's config name, or null.</summary>
    public async Task<SyncAuthRecord?> ResolveAsync(string configName)
    {
        if (await store.GetSyncClaimAsync(configName) is not { } owner ||
            await store.GetSyncSecretAsync(owner, configName) is not { } protectedSecret ||
            await store.GetConfigAsync(owner, configName) is not { } config ||
            await store.GetAsync(owner) is not { } workspace)
        {
            return null;
        }
        return new SyncAuthRecord(workspace, config, protectedSecret);
    }
}
