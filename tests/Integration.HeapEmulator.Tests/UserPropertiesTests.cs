using System.Net;

namespace Integration.HeapEmulator.Tests;

public sealed class UserPropertiesTests
{
    [Fact]
    public async Task RecordsASingleUserUpdate()
    {
        await using var emulator = new HeapEmulatorFactory();
        using var http = emulator.CreateHttpClient();

        var response = await http.PostJsonAsync("/api/add_user_properties",
            """{"app_id":"test-app","identity":"alice","properties":{"plan":"gold","seats":5,"roles":["admin","billing"]}}""");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("", await response.Content.ReadAsStringAsync());
        var user = Assert.Single((await http.GetUsersAsync()).Users);
        Assert.Equal("test-app", user.AppId);
        Assert.Equal("alice", user.Identity);
        Assert.Equal("gold", user.Properties["plan"].GetString());
        Assert.Equal(5, user.Properties["seats"].GetInt32());
        Assert.Equal("admin||billing", user.Properties["roles"].GetString());
        Assert.Equal(emulator.Time.GetUtcNow(), user.ReceivedAt);
    }

    [Fact]
    public async Task RecordsABulkUserUpdate()
    {
        await using var emulator = new HeapEmulatorFactory();
        using var http = emulator.CreateHttpClient();

        var response = await http.PostJsonAsync("/api/add_user_properties", """
            {"app_id":"test-app","users":[
              {"identity":"alice","properties":{"plan":"gold"}},
              {"user_id":77,"properties":{"plan":"free"}}
            ]}
            """);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var page = await http.GetUsersAsync();
        Assert.Equal(2, page.Count);
        Assert.Equal("alice", page.Users[0].Identity);
        Assert.Equal("77", page.Users[1].UserId);
        Assert.Equal("free", page.Users[1].Properties["plan"].GetString());
    }

    [Fact]
    public async Task FiltersUsersByAppAndIdentity()
    {
        await using var emulator = new HeapEmulatorFactory();
        using var http = emulator.CreateHttpClient();

        await http.AddUserPropertiesAsync("alice");
        await http.AddUserPropertiesAsync("bob");
        await http.AddUserPropertiesAsync("alice", HeapEmulatorFactory.OtherApp);

        Assert.Equal(3, (await http.GetUsersAsync()).Count);
        Assert.Equal(2, (await http.GetUsersAsync("?identity=alice")).Count);
        var page = await http.GetUsersAsync("?app_id=other-app&identity=alice");
        Assert.Equal("other-app", Assert.Single(page.Users).AppId);
        Assert.Equal(0, (await http.GetUsersAsync("?app_id=other-app&identity=bob")).Count);
    }
}
