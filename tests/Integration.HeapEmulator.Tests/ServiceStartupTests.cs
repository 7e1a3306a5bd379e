using System.Net;
using Integration.Testing;

namespace Integration.HeapEmulator.Tests;

public sealed class ServiceStartupTests
{
    [Fact]
    public async Task ReportsHealthyOverHttp()
    {
        await using var service = new KestrelServiceFactory<Program>();
        using var http = service.CreateHttpClient();

        var response = await http.GetAsync("/health");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }
}
