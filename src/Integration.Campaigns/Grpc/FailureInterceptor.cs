using Grpc.Core;
using Grpc.Core.Interceptors;
using Integration.Campaigns.Users;
using StackExchange.Redis;

namespace Integration.Campaigns.Grpc;

/// <summary>
/// Storage or ingestion being unreachable is Unavailable (retry), never Unknown; a peer's InvalidArgument
/// or NotFound passes through with its message.
/// </summary>
internal sealed class FailureInterceptor : Interceptor
{
    public override async Task<TResponse> UnaryServerHandler<TRequest, TResponse>(
        TRequest request, ServerCallContext context, UnaryServerMethod<TRequest, TResponse> continuation)
    {
        try
        {
            return await continuation(request, context);
        }
        catch (Exception ex) when (ex is RedisConnectionException or RedisTimeoutException)
        {
            throw new RpcException(new Status(StatusCode.Unavailable, "Campaign storage is unavailable; retry shortly."));
        }
        catch (RpcException ex) when (RpcFailures.IsTransient(ex) && !context.CancellationToken.IsCancellationRequested)
        {
            throw new RpcException(new Status(StatusCode.Unavailable, $"The ingestion service is unavailable ({ex.Status.Detail}); retry shortly."));
        }
    }
}
