using Grpc.Core;
using Integration.Ingestion.V1;
using Microsoft.Extensions.Options;

namespace Integration.Edge.Auth;

/// <summary>What verifies a segment sync for one config name: the workspace, its config and the decrypted sync secret.</summary>
internal sealed record SegmentSyncCredentials(SegmentSyncAuth Auth, byte[] Secret);

/// <summary>
/// The sync credentials of each config name, cached briefly (a rotated secret takes effect within
/// <c>Edge:CredentialCacheSeconds</c>). Ingestion hands the secret over encrypted; it is decrypted here with the shared key
/// ring, so it never travels in clear. A secret that cannot be decrypted throws <see cref="SecretUnreadableException"/>.
/// </summary>
internal sealed class SegmentSyncAuthCache(
    Ingestion.V1.Ingestion.IngestionClient ingestion,
    ISecretProtector protector,
    IOptions<EdgeOptions> options,
    TimeProvider time) : CredentialCache<SegmentSyncCredentials>(options, time)
{
    protected override async Task<SegmentSyncCredentials?> LookUpAsync(string configName)
    {
        SegmentSyncAuth auth;
        try
        {
            auth = await ingestion.GetSegmentSyncAuthAsync(new GetSegmentSyncAuthRequest { ConfigName = configName },
                deadline: Time.GetUtcNow().UtcDateTime.AddSeconds(Options.IngestionTimeoutSeconds));
        }
        catch (RpcException ex) when (ex.StatusCode is StatusCode.NotFound or StatusCode.InvalidArgument)
        {
            return null;
        }
        var secret = protector.Unprotect(SecretPurposes.SegmentSync, auth.ProtectedSyncSecret);
        return new SegmentSyncCredentials(auth, System.Text.Encoding.UTF8.GetBytes(secret));
    }
}
