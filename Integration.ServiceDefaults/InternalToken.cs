using Grpc.Core;
using Microsoft.Extensions.Configuration;

namespace Microsoft.Extensions.Hosting;

/// <summary>
/// Guards the internal gRPC services that only other services call (ingestion's Ingestion and Segments):
/// when <c>Internal:Token</c> is configured — the AppHost always configures it — every call must carry
/// <c>authorization: Bearer</c> with that token or with the admin token. Without it (a service started on its
/// own for tests or benchmarks) the services are open, as they are on a private network.
/// </summary>
public sealed class InternalTokenInterceptor(IConfiguration configuration) : BearerTokenInterceptor
{
    public const string ConfigurationKey = "Internal:Token";

    protected override void Authorize(ServerCallContext context)
    {
        var expected = configuration[ConfigurationKey];
        if (string.IsNullOrEmpty(expected))
        {
            return;
        }

        var presented = PresentedTokenHash(context) ?? throw new RpcException(new Status(StatusCode.Unauthenticated,
            "Missing 'authorization: Bearer <token>' metadata: this internal API needs the internal or the admin token."));
        // Both comparisons always run, so the time taken does not tell which token was tried.
        var matches = Matches(presented, expected);
        matches |= Matches(presented, configuration[AdminTokenInterceptor.ConfigurationKey]);
        if (!matches)
        {
            throw new RpcException(new Status(StatusCode.Unauthenticated, "The token is not valid for this internal API."));
        }
    }
}

/// <summary>Adds <c>authorization: Bearer &lt;Internal:Token&gt;</c> to a service's calls on internal gRPC APIs, when configured.</summary>
internal sealed class InternalTokenHandler(IConfiguration configuration) : DelegatingHandler
{
    protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        var token = configuration[InternalTokenInterceptor.ConfigurationKey];
        if (!string.IsNullOrEmpty(token) && !request.Headers.Contains("authorization"))
        {
            request.Headers.TryAddWithoutValidation("authorization", "Bearer " + token);
        }
        return base.SendAsync(request, cancellationToken);
    }
}
