using System.Net;
using System.Net.Http.Json;
using Integration.HeapEmulator.Inspection;

namespace Integration.HeapEmulator.Tests;

public sealed class AppTests
{
    [Fact]
    public async Task AcceptsAnAppAddedThroughTheEmulatorApi()
    {
        await using var emulator = new HeapEmulatorFactory();
        using var http = emulator.CreateHttpClient();
        var before = await http.TrackAsync("alice", app: "new-app");

        var added = await http.PostJsonAsync("/_emulator/apps", """{"app_id":"new-app"}""");
        var addedAgain = await http.PostJsonAsync("/_emulator/apps", """{"app_id":"new-app"}""");
        var after = await http.TrackAsync("alice", app: "new-app");

        Assert.Equal(HttpStatusCode.BadRequest, before.StatusCode);
        Assert.Equal(HttpStatusCode.Created, added.StatusCode);
        Assert.Equal("new-app", (await added.Content.ReadFromJsonAsync<AppRegistration>(HeapHttp.Json))!.AppId);
        Assert.Equal(HttpStatusCode.OK, addedAgain.StatusCode);
        Assert.Equal(HttpStatusCode.OK, after.StatusCode);
        var apps = await http.GetFromJsonAsync<AppList>("/_emulator/apps", HeapHttp.Json);
        Assert.Equal(["new-app", "other-app", "test-app"], apps!.Apps);
    }

    [Theory]
    [InlineData("""{}""")]
    [InlineData("""{"app_id":""}""")]
    [InlineData("""{"app_id":"   "}""")]
    [InlineData("""{"appid":"typo"}""")]
    [InlineData("""not json""")]
    public async Task RejectsAnAppRegistrationWithoutAnAppId(string body)
    {
        await using var emulator = new HeapEmulatorFactory();
        using var http = emulator.CreateHttpClient();

        var response = await http.PostJsonAsync("/_emulator/apps", body);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.NotEmpty(await response.ErrorAsync());
        Assert.Equal(["other-app", "test-app"], (await http.GetFromJsonAsync<AppList>("/_emulator/apps", HeapHttp.Json))!.Apps);
    }

    [Fact]
    public async Task HasTheDemoAppFromTheStartInDevelopment()
    {
        await using var emulator = new HeapEmulatorFactory(withApps: false, environment: "Development");
        using var http = emulator.CreateHttpClient();

        var response = await http.TrackAsync("alice", app: "heap-demo-app");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(["heap-demo-app"], (await http.GetFromJsonAsync<AppList>("/_emulator/apps", HeapHttp.Json))!.Apps);
    }

    [Fact]
    public async Task AddsTheDemoAppToConfiguredAppsInDevelopment()
    {
        await using var emulator = new HeapEmulatorFactory(environment: "Development");
        using var http = emulator.CreateHttpClient();

        var apps = await http.GetFromJsonAsync<AppList>("/_emulator/apps", HeapHttp.Json);

        Assert.Equal(["heap-demo-app", "other-app", "test-app"], apps!.Apps);
    }

    [Fact]
    public async Task HasNoAppsOutsideDevelopmentUnlessConfigured()
    {
        await using var emulator = new HeapEmulatorFactory(withApps: false);
        using var http = emulator.CreateHttpClient();

        var response = await http.TrackAsync("alice", app: "heap-demo-app");

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Contains("app_id 'heap-demo-app' is not a known Heap app", await response.ErrorAsync());
        Assert.Empty((await http.GetFromJsonAsync<AppList>("/_emulator/apps", HeapHttp.Json))!.Apps);
    }
}
