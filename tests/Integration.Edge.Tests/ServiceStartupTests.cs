using System.Net;
using Integration.Testing;

namespace Integration.Edge.Tests;

public sealed class ServiceStartupTests(RedisServer redis) : IClassFixture<RedisServer>
{
    [Fact]
    public async Task ReportsHealthyOverHttpWhenRedisAnswers()
    {
        await using var service = new KestrelServiceFactory<Program>(new Dictionary<string, string?>
        {
            ["ConnectionStrings:redis"] = redis.ConnectionString,
        });
        using var http = service.CreateHttpClient();

        var response = await http.GetAsync("/health");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }
}
