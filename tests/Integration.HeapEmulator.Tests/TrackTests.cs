using System.Net;
using System.Text.Json;

namespace Integration.HeapEmulator.Tests;

public sealed class TrackTests
{
    [Fact]
    public async Task RecordsASingleEventAsSentAndAnswers200WithAnEmptyBody()
    {
        await using var emulator = new HeapEmulatorFactory();
        using var http = emulator.CreateHttpClient();

        var response = await http.PostJsonAsync("/api/track", """
            {
              "app_id": "test-app",
              "identity": "alice@example.com",
              "event": "Order Completed",
              "timestamp": "2025-02-28T09:15:00.250Z",
              "idempotency_key": "order-1",
              "properties": { "order_id": "A-1", "amount": 42.5, "items": 3 }
            }
            """);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("", await response.Content.ReadAsStringAsync());
        var recorded = Assert.Single((await http.GetEventsAsync()).Events);
        Assert.Equal("test-app", recorded.AppId);
        Assert.Equal("alice@example.com", recorded.Identity);
        Assert.Null(recorded.UserId);
        Assert.Equal("Order Completed", recorded.Event);
        Assert.Equal(new DateTimeOffset(2025, 2, 28, 9, 15, 0, 250, TimeSpan.Zero), recorded.Timestamp);
        Assert.Equal("order-1", recorded.IdempotencyKey);
        Assert.Equal(emulator.Time.GetUtcNow(), recorded.ReceivedAt);
        Assert.Equal("A-1", recorded.Properties["order_id"].GetString());
        Assert.Equal(42.5, recorded.Properties["amount"].GetDouble());
        Assert.Equal(3, recorded.Properties["items"].GetInt32());
    }

    [Fact]
    public async Task DefaultsTheTimestampToTheReceiveTime()
    {
        await using var emulator = new HeapEmulatorFactory();
        using var http = emulator.CreateHttpClient();

        await http.TrackAsync("alice");

        var recorded = Assert.Single((await http.GetEventsAsync()).Events);
        Assert.Equal(emulator.Time.GetUtcNow(), recorded.Timestamp);
    }

    [Theory]
    [InlineData("2025-02-28T09:15:00Z", "2025-02-28T09:15:00+00:00")]
    [InlineData("2025-02-28T10:15:00+01:00", "2025-02-28T09:15:00+00:00")]
    [InlineData("2025-02-28T09:15:00.123456789Z", "2025-02-28T09:15:00.1234567+00:00")]
    [InlineData("2025-02-28T09:15", "2025-02-28T09:15:00+00:00")]
    [InlineData("2025-02-28", "2025-02-28T00:00:00+00:00")]
    public async Task AcceptsIso8601Timestamps(string sent, string expected)
    {
        await using var emulator = new HeapEmulatorFactory();
        using var http = emulator.CreateHttpClient();

        var response = await http.PostJsonAsync("/api/track",
            $$"""{"app_id":"test-app","identity":"alice","event":"E","timestamp":"{{sent}}"}""");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var recorded = Assert.Single((await http.GetEventsAsync()).Events);
        Assert.Equal(DateTimeOffset.Parse(expected, System.Globalization.CultureInfo.InvariantCulture), recorded.Timestamp);
    }

    [Fact]
    public async Task RecordsABulkRequestsEventsInOrder()
    {
        await using var emulator = new HeapEmulatorFactory();
        using var http = emulator.CreateHttpClient();

        var response = await http.PostJsonAsync("/api/track", """
            {
              "app_id": "test-app",
              "events": [
                { "identity": "alice", "event": "Signed Up", "properties": { "source": "ads" } },
                { "user_id": 8812345, "event": "Logged In", "timestamp": "2025-01-01T00:00:00Z", "idempotency_key": "k-2" },
                { "identity": "carol", "event": "Logged Out" }
              ]
            }
            """);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var page = await http.GetEventsAsync();
        Assert.Equal(3, page.Count);
        Assert.Equal(["Signed Up", "Logged In", "Logged Out"], page.Events.Select(e => e.Event));
        Assert.Equal("8812345", page.Events[1].UserId);
        Assert.Null(page.Events[1].Identity);
        Assert.Equal("k-2", page.Events[1].IdempotencyKey);
        Assert.Equal("ads", page.Events[0].Properties["source"].GetString());
    }

    [Fact]
    public async Task AcceptsAThousandEventsInOneBulkRequest()
    {
        await using var emulator = new HeapEmulatorFactory();
        using var http = emulator.CreateHttpClient();

        var response = await http.TrackBulkAsync(Enumerable.Range(0, 1000).Select(i => $"user-{i}"));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(1000, (await http.GetEventsAsync()).Count);
    }

    [Fact]
    public async Task AcceptsAUserIdGivenAsAStringOfDigits()
    {
        await using var emulator = new HeapEmulatorFactory();
        using var http = emulator.CreateHttpClient();

        var response = await http.PostJsonAsync("/api/track", """{"app_id":"test-app","user_id":"8812345","event":"E"}""");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("8812345", Assert.Single((await http.GetEventsAsync()).Events).UserId);
    }

    [Fact]
    public async Task JoinsArrayPropertiesWithDoublePipes()
    {
        await using var emulator = new HeapEmulatorFactory();
        using var http = emulator.CreateHttpClient();

        var response = await http.PostJsonAsync("/api/track",
            """{"app_id":"test-app","identity":"alice","event":"E","properties":{"tags":["red","green",3]}}""");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var tags = Assert.Single((await http.GetEventsAsync()).Events).Properties["tags"];
        Assert.Equal(JsonValueKind.String, tags.ValueKind);
        Assert.Equal("red||green||3", tags.GetString());
    }

    [Fact]
    public async Task AcceptsValuesAtTheirLengthLimits()
    {
        await using var emulator = new HeapEmulatorFactory();
        using var http = emulator.CreateHttpClient();
        var eventName = new string('e', 1024);
        var identity = new string('i', 255);
        var value = new string('v', 1023);
        var name = new string('n', 1023);

        var response = await http.PostJsonAsync("/api/track",
            $$$"""{"app_id":"test-app","identity":"{{{identity}}}","event":"{{{eventName}}}","properties":{"{{{name}}}":"{{{value}}}"}}""");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var recorded = Assert.Single((await http.GetEventsAsync()).Events);
        Assert.Equal(eventName, recorded.Event);
        Assert.Equal(identity, recorded.Identity);
        Assert.Equal(value, recorded.Properties[name].GetString());
    }

    [Fact]
    public async Task KeepsIdentitiesCaseSensitive()
    {
        await using var emulator = new HeapEmulatorFactory();
        using var http = emulator.CreateHttpClient();

        await http.TrackAsync("Alice");
        await http.TrackAsync("alice");

        Assert.Equal(1, (await http.GetEventsAsync("?identity=Alice")).Count);
        Assert.Equal(1, (await http.GetEventsAsync("?identity=alice")).Count);
    }
}
