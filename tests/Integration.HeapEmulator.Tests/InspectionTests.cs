using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Integration.HeapEmulator.Inspection;

namespace Integration.HeapEmulator.Tests;

public sealed class InspectionTests
{
    [Fact]
    public async Task FiltersEventsByAppIdentityAndEventName()
    {
        await using var emulator = new HeapEmulatorFactory();
        using var http = emulator.CreateHttpClient();
        await http.TrackAsync("alice", "Viewed");
        await http.TrackAsync("alice", "Bought");
        await http.TrackAsync("bob", "Viewed");
        await http.TrackAsync("alice", "Viewed", app: HeapEmulatorFactory.OtherApp);

        Assert.Equal(4, (await http.GetEventsAsync()).Count);
        Assert.Equal(3, (await http.GetEventsAsync("?app_id=test-app")).Count);
        Assert.Equal(3, (await http.GetEventsAsync("?identity=alice")).Count);
        Assert.Equal(3, (await http.GetEventsAsync("?event=Viewed")).Count);
        var page = await http.GetEventsAsync("?app_id=test-app&identity=alice&event=Viewed");
        var only = Assert.Single(page.Events);
        Assert.Equal(("test-app", "alice", "Viewed"), (only.AppId, only.Identity, only.Event));
        Assert.Equal(0, (await http.GetEventsAsync("?identity=carol")).Count);
    }

    [Fact]
    public async Task FiltersEventsByUserId()
    {
        await using var emulator = new HeapEmulatorFactory();
        using var http = emulator.CreateHttpClient();
        await http.PostJsonAsync("/api/track", """{"app_id":"test-app","user_id":42,"event":"E"}""");
        await http.TrackAsync("alice");

        Assert.Equal("42", Assert.Single((await http.GetEventsAsync("?user_id=42")).Events).UserId);
    }

    [Fact]
    public async Task AnswersEventsAsCountAndListInSnakeCase()
    {
        await using var emulator = new HeapEmulatorFactory();
        using var http = emulator.CreateHttpClient();
        await http.TrackAsync("alice", "Viewed", idempotencyKey: "k-1");

        using var document = JsonDocument.Parse(await http.GetStringAsync("/_emulator/events"));

        Assert.Equal(1, document.RootElement.GetProperty("count").GetInt32());
        var recorded = document.RootElement.GetProperty("events")[0];
        Assert.Equal("test-app", recorded.GetProperty("app_id").GetString());
        Assert.Equal("k-1", recorded.GetProperty("idempotency_key").GetString());
        Assert.Equal(emulator.Time.GetUtcNow(), recorded.GetProperty("received_at").GetDateTimeOffset());
    }

    [Fact]
    public async Task CountsAcceptedAndRejectedRequestsByStatus()
    {
        await using var emulator = new HeapEmulatorFactory();
        using var http = emulator.CreateHttpClient();
        await http.TrackAsync("alice");
        await http.AddUserPropertiesAsync("alice");
        await http.TrackAsync("alice", app: "unknown-app");
        await http.PostJsonAsync("/api/track", "{");
        for (var i = 0; i < 31; i++)
        {
            await http.TrackAsync("bob");
        }

        var stats = await http.GetStatsAsync();

        Assert.Equal(32, stats.Accepted);
        Assert.Equal(new Dictionary<string, long> { ["400"] = 2, ["429"] = 1 }, stats.Rejected);
        Assert.Equal(31, stats.EventsRecorded);
        Assert.Equal(1, stats.UsersRecorded);
        Assert.Equal(0, stats.FaultsInjected);
    }

    [Fact]
    public async Task ResetClearsRecordsStatsLimitsAndFaultsButKeepsApps()
    {
        await using var emulator = new HeapEmulatorFactory();
        using var http = emulator.CreateHttpClient();
        await http.PostJsonAsync("/_emulator/apps", """{"app_id":"added-app"}""");
        for (var i = 0; i < 31; i++)
        {
            await http.TrackAsync("alice", idempotencyKey: $"k-{i % 2}");
        }
        await http.AddUserPropertiesAsync("alice");
        await http.AddFaultAsync("""{"status":500,"count":5}""");

        var reset = await http.PostAsync("/_emulator/reset", null);

        Assert.Equal(HttpStatusCode.NoContent, reset.StatusCode);
        var stats = await http.GetStatsAsync();
        Assert.Equal((0, 0, 0, 0, 0), (stats.Accepted, stats.IdempotentRepeats, stats.FaultsInjected, stats.EventsRecorded, stats.UsersRecorded));
        Assert.Empty(stats.Rejected);
        Assert.Equal(0, (await http.GetUsersAsync()).Count);
        Assert.Empty((await http.GetFromJsonAsync<FaultList>("/_emulator/faults", HeapHttp.Json))!.Faults);
        Assert.Equal(HttpStatusCode.OK, (await http.TrackAsync("alice", idempotencyKey: "k-0")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await http.TrackAsync("alice", app: "added-app")).StatusCode);
        Assert.Equal(2, (await http.GetEventsAsync()).Count);
    }

    [Fact]
    public async Task KeepsOnlyTheNewestEventsBeyondItsBound()
    {
        await using var emulator = new HeapEmulatorFactory(new Dictionary<string, string?> { ["HeapEmulator:MaxRecordedEvents"] = "5" });
        using var http = emulator.CreateHttpClient();

        await http.PostJsonAsync("/api/track",
            $$"""{"app_id":"test-app","events":[{{string.Join(",", Enumerable.Range(1, 7).Select(i => $$"""{"identity":"a","event":"E{{i}}"}"""))}}]}""");

        var page = await http.GetEventsAsync();
        Assert.Equal(["E3", "E4", "E5", "E6", "E7"], page.Events.Select(e => e.Event));
        var stats = await http.GetStatsAsync();
        Assert.Equal(5, stats.EventsRecorded);
        Assert.Equal(2, stats.EventsEvicted);
    }
}
