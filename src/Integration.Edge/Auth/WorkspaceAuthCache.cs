using Grpc.Core;
using Integration.Ingestion.V1;
using Microsoft.Extensions.Options;

namespace Integration.Edge.Auth;

/// <summary>Each workspace's key hash, rate limit and configs, cached briefly (webhooks' Basic auth).</summary>
internal sealed class WorkspaceAuthCache(
    Ingestion.V1.Ingestion.IngestionClient ingestion,
    IOptions<EdgeOptions> options,
    TimeProvider time) : CredentialCache<WorkspaceAuth>(options, time)
{
    protected override async Task<WorkspaceAuth?> LookUpAsync(string workspaceId)
    {
        try
        {
            return await ingestion.GetWorkspaceAuthAsync(new GetWorkspaceAuthRequest { WorkspaceId = workspaceId },
                deadline: Time.GetUtcNow().UtcDateTime.AddSeconds(Options.IngestionTimeoutSeconds));
        }
        catch (RpcException ex) when (ex.StatusCode is StatusCode.NotFound or StatusCode.InvalidArgument)
        {
            return null;
        }
    }
}
