using Grpc.Health.V1;
using Grpc.Reflection.V1Alpha;
using Xunit;

namespace Integration.Testing;

/// <summary>
/// What every gRPC service of the integration must do at start, whatever it serves: answer /health over
/// HTTP/1.1 (unhealthy without Redis), the gRPC health protocol over prior-knowledge HTTP/2, and reflection.
/// A service's test project derives one class from this.
/// </summary>
public abstract class GrpcServiceStartupTests<TProgram>(RedisServer redis) : IClassFixture<RedisServer> where TProgram : class
{
    private KestrelServiceFactory<TProgram> CreateService(string? redisConnectionString = null) => new(
        new Dictionary<string, string?> { ["ConnectionStrings:redis"] = redisConnectionString ?? redis.ConnectionString },
        grpc: true);

    [Fact]
    public async Task ReportsHealthyOverHttp1WhenRedisAnswers()
    {
        await using var service = CreateService();
        using var http = service.CreateHttpClient();

        var response = await http.GetAsync("/health");

        Assert.Equal(System.Net.HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("Healthy", await response.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task ReportsUnhealthyWhenRedisIsUnreachable()
    {
        await using var service = CreateService($"127.0.0.1:{FreePort.Next()},connectTimeout=500,abortConnect=false");
        using var http = service.CreateHttpClient();

        var response = await http.GetAsync("/health");

        Assert.Equal(System.Net.HttpStatusCode.ServiceUnavailable, response.StatusCode);
    }

    [Fact]
    public async Task AnswersTheGrpcHealthProtocolOverPriorKnowledgeHttp2()
    {
        await using var service = CreateService();
        using var channel = service.CreateGrpcChannel();

        var reply = await new Health.HealthClient(channel).CheckAsync(new HealthCheckRequest(), deadline: DateTime.UtcNow.AddSeconds(60));

        Assert.Equal(HealthCheckResponse.Types.ServingStatus.Serving, reply.Status);
    }

    [Fact]
    public async Task ListsItsServicesThroughGrpcReflection()
    {
        await using var service = CreateService();
        using var channel = service.CreateGrpcChannel();
        using var call = new ServerReflection.ServerReflectionClient(channel).ServerReflectionInfo(deadline: DateTime.UtcNow.AddSeconds(60));

        await call.RequestStream.WriteAsync(new ServerReflectionRequest { ListServices = "" });
        await call.RequestStream.CompleteAsync();
        Assert.True(await call.ResponseStream.MoveNext(CancellationToken.None));
        var services = call.ResponseStream.Current.ListServicesResponse.Service.Select(s => s.Name).ToList();

        Assert.Contains("grpc.health.v1.Health", services);
    }
}
