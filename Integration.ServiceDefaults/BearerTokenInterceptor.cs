using System.Security.Cryptography;
using System.Text;
using Grpc.Core;
using Grpc.Core.Interceptors;

namespace Microsoft.Extensions.Hosting;

/// <summary>
/// The shared part of the token-guarded gRPC services: every unary and server-streaming call is authorised
/// first, from its <c>authorization: Bearer &lt;token&gt;</c> metadata. Tokens are compared by their SHA-256 in
/// constant time and never logged.
/// </summary>
public abstract class BearerTokenInterceptor : Interceptor
{
    private const string Scheme = "Bearer ";

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

    /// <summary>Throws <see cref="RpcException"/> (Unauthenticated) unless the call may go on.</summary>
    protected abstract void Authorize(ServerCallContext context);

    /// <summary>The SHA-256 of the presented bearer token, or null when the call carries none.</summary>
    protected static byte[]? PresentedTokenHash(ServerCallContext context)
    {
        var header = context.RequestHeaders.GetValue("authorization");
        return header is not null && header.StartsWith(Scheme, StringComparison.OrdinalIgnoreCase)
            ? SHA256.HashData(Encoding.UTF8.GetBytes(header[Scheme.Length..]))
            : null;
    }

    /// <summary>Whether the presented token is <paramref name="token"/> (never when that is not configured).</summary>
    protected static bool Matches(byte[] presentedHash, string? token) =>
        !string.IsNullOrEmpty(token) &&
        CryptographicOperations.FixedTimeEquals(presentedHash, SHA256.HashData(Encoding.UTF8.GetBytes(token)));
}
