using Grpc.Core;
using Microsoft.Extensions.Configuration;

namespace Microsoft.Extensions.Hosting;

/// <summary>
/// Guards the administrative gRPC services (admin, campaigns): every call must carry
/// <c>authorization: Bearer &lt;Admin:Token&gt;</c>. The token is compared in constant time and never logged.
/// Register it per service: <c>services.AddGrpc().AddServiceOptions&lt;AdminService&gt;(o =&gt; o.Interceptors.Add&lt;AdminTokenInterceptor&gt;())</c>.
/// </summary>
public sealed class AdminTokenInterceptor(IConfiguration configuration) : BearerTokenInterceptor
{
    public const string ConfigurationKey = "Admin:Token";

    protected override void Authorize(ServerCallContext context)
    {
        var expected = configuration[ConfigurationKey];
        if (string.IsNullOrEmpty(expected))
        {
            // Fail closed: a service without a configured token answers no administrative call.
            throw new RpcException(new Status(StatusCode.Unauthenticated,
                $"The administrative API is disabled: '{ConfigurationKey}' is not configured on this service."));
        }

        var presented = PresentedTokenHash(context) ?? throw new RpcException(new Status(StatusCode.Unauthenticated,
            "Missing 'authorization: Bearer <admin token>' metadata."));
        if (!Matches(presented, expected))
        {
            throw new RpcException(new Status(StatusCode.Unauthenticated, "The admin token is not valid."));
        }
    }
}
