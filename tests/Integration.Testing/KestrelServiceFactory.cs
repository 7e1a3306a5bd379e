using Grpc.Net.Client;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;

namespace Integration.Testing;

/// <summary>
/// Runs a service of the integration on real Kestrel sockets (HTTP/1.1 for <c>/health</c> and, for gRPC
/// services, an HTTP/2-only endpoint), the way it runs under the AppHost, with the given settings.
/// </summary>
public class KestrelServiceFactory<TProgram> : WebApplicationFactory<TProgram> where TProgram : class
{
    private readonly Dictionary<string, string?> _settings;

    public KestrelServiceFactory(IDictionary<string, string?>? settings = null, bool grpc = false)
    {
        HttpPort = FreePort.Next();
        _settings = new Dictionary<string, string?>
        {
            ["Kestrel:Endpoints:http:Url"] = $"http://127.0.0.1:{HttpPort}",
            ["Kestrel:Endpoints:http:Protocols"] = "Http1",
        };
        if (grpc)
        {
            GrpcPort = FreePort.Next();
            _settings["Kestrel:Endpoints:grpc:Url"] = $"http://127.0.0.1:{GrpcPort}";
            _settings["Kestrel:Endpoints:grpc:Protocols"] = "Http2";
        }
        foreach (var (key, value) in settings ?? new Dictionary<string, string?>())
        {
            _settings[key] = value;
        }
        UseKestrel();
    }

    public int HttpPort { get; }

    public int GrpcPort { get; }

    public Uri HttpAddress => new($"http://127.0.0.1:{HttpPort}");

    /// <summary>A channel speaking prior-knowledge HTTP/2 to the gRPC endpoint.</summary>
    public GrpcChannel CreateGrpcChannel()
    {
        StartServer();
        return GrpcChannel.ForAddress($"http://127.0.0.1:{GrpcPort}");
    }

    /// <summary>An HttpClient on the HTTP/1.1 endpoint.</summary>
    public HttpClient CreateHttpClient()
    {
        StartServer();
        return new HttpClient { BaseAddress = HttpAddress, Timeout = TimeSpan.FromSeconds(30) };
    }

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        builder.UseEnvironment("Testing");
        foreach (var (key, value) in _settings)
        {
            builder.UseSetting(key, value);
        }
    }
}
