using System.Security.Cryptography;
using System.Text;
using Grpc.Core;
using Grpc.Core.Interceptors;
using Microsoft.Extensions.Configuration;

namespace Microsoft.Extensions.Hosting;

/// <summary>
/// Guards the internal gRPC services that only other services call (ingestion's Ingestion and Segments):
/// when <c>Internal:Token</c> is configured — the AppHost always configures it — every call must carry
/// <c>authorization: Bearer</c> with that token or with the admin token. Without it (a service started on its
/// own for tests or benchmarks) the services are open, as they are on a private network.
/// </summary>
public sealed class InternalTokenInterceptor(IConfiguration configuration) : Interceptor
{
    public const string ConfigurationKey = "Internal:Token";

    public override Task<TResponse> UnaryServerHandler<TRequest, TResponse>(
        TRequest request, ServerCallContext context, UnaryServerMethod<TRequest, TResponse> continuation)
    {
        Authorize(context);
        return continuation(request, context);
    }

    public override Task ServerStreamingServerHandler<TRequest, TResponse>(
        TRequest request, IServerStreamWriter<TResponse> responseStream, ServerCallContext context,
        ServerStreamingServerMethod<TRequest, TResponse> continuation)
    {
        Authorize(context);
        return continuation(request, responseStream, context);
    }

    private void Authorize(ServerCallContext context)
    {
        var expected = configuration[ConfigurationKey];
        if (string.IsNullOrEmpty(expected))
        {
            return;
        }

        var header = context.RequestHeaders.GetValue("authorization");
        const string scheme = "Bearer ";
        if (header is null || !header.StartsWith(scheme, StringComparison.OrdinalIgnoreCase))
        {
            throw new RpcException(new Status(StatusCode.Unauthenticated,
                "Missing 'authorization: Bearer <token>' metadata: this internal API needs the internal or the admin token."));
        }

        var presented = SHA256.HashData(Encoding.UTF8.GetBytes(header[scheme.Length..]));
        var admin = configuration[AdminTokenInterceptor.ConfigurationKey];
        var matches = CryptographicOperations.FixedTimeEquals(presented, SHA256.HashData(Encoding.UTF8.GetBytes(expected)));
        matches |= !string.IsNullOrEmpty(admin) && CryptographicOperations.FixedTimeEquals(presented, SHA256.HashData(Encoding.UTF8.GetBytes(admin)));
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
