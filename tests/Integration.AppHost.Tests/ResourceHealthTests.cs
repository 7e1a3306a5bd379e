namespace Integration.AppHost.Tests;

[Collection(AppHostCollection.Name)]
public sealed class ResourceHealthTests(AppHostFixture fixture)
{
    [Fact]
    public async Task EveryResourceBecomesHealthyWithoutAContainerRuntime()
    {
        using var cts = new CancellationTokenSource(AppHostFixture.StartTimeout);

        foreach (var resource in AppHostFixture.Resources)
        {
            await fixture.App.ResourceNotifications.WaitForResourceHealthyAsync(resource, cts.Token);
        }

        using var edge = fixture.App.CreateHttpClient("edge", "http");
        edge.Timeout = TimeSpan.FromSeconds(60);
        var response = await edge.GetAsync("/health", cts.Token);
        Assert.Equal(System.Net.HttpStatusCode.OK, response.StatusCode);
    }
}
