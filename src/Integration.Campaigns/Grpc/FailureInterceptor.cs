using Grpc.Core;
using Grpc.Core.Interceptors;
using StackExchange.Redis;

namespace Integration.Campaigns.Grpc;

/// <summary>
/// Storage being unreachable is Unavailable (retry), never Unknown. Failures of ingestion calls pass through
/// with their own status (Unavailable, DeadlineExceeded …).
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
        catch (SecretUnreadableException ex)
        {
            // The key ring lost the key: the campaign's secret headers must be set again (the message names no value).
            throw new RpcException(new Status(StatusCode.FailedPrecondition, ex.Message));
        }
    }
}
