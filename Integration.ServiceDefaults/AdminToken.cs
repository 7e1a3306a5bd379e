using System.Security.Cryptography;
using System.Text;
using Grpc.Core;
using Grpc.Core.Interceptors;
using Microsoft.Extensions.Configuration;

namespace Microsoft.Extensions.Hosting;

/// <summary>
/// Guards the administrative gRPC services (admin, campaigns): every call must carry
/// <c>authorization: Bearer &lt;Admin:Token&gt;</c>. The token is compared in constant time and never logged.
/// Register it per service: <c>services.AddGrpc().AddServiceOptions&lt;AdminService&gt;(o =&gt; o.Interceptors.Add&lt;AdminTokenInterceptor&gt;())</c>.
/// </summary>
public sealed class AdminTokenInterceptor(IConfiguration configuration) : Interceptor
{
    public const string ConfigurationKey = "Admin:Token";

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
            // Fail closed: a service without a configured token answers no administrative call.
            throw new RpcException(new Status(StatusCode.Unauthenticated,
                $"The administrative API is disabled: '{ConfigurationKey}' is not configured on this service."));
        }

        var header = context.RequestHeaders.GetValue("authorization");
        const string scheme = "Bearer ";
        if (header is null || !header.StartsWith(scheme, StringComparison.OrdinalIgnoreCase))
        {
            throw new RpcException(new Status(StatusCode.Unauthenticated,
                "Missing 'authorization: Bearer <admin token>' metadata."));
        }

        var presented = Encoding.UTF8.GetBytes(header[scheme.Length..]);
        if (!CryptographicOperations.FixedTimeEquals(SHA256.HashData(presented), SHA256.HashData(Encoding.UTF8.GetBytes(expected))))
        {
            throw new RpcException(new Status(StatusCode.Unauthenticated, "The admin token is not valid."));
        }
    }
}
