using Microsoft.Extensions.Configuration;

namespace Microsoft.Extensions.Hosting;

/// <summary>Adds <c>authorization: Bearer &lt;Internal:Token&gt;</c> to a service's calls on internal gRPC APIs, when configured.</summary>
internal sealed class InternalTokenHandler(IConfiguration configuration) : DelegatingHandler
{
    protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        var token = configuration[ApiAccessInterceptor.InternalTokenKey];
        if (!string.IsNullOrEmpty(token) && !request.Headers.Contains("authorization"))
        {
            request.Headers.TryAddWithoutValidation("authorization", "Bearer " + token);
        }
        return base.SendAsync(request, cancellationToken);
    }
}
