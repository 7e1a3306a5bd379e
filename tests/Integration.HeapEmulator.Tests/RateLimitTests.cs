using System.Net;

namespace Integration.HeapEmulator.Tests;

public sealed class RateLimitTests
{
    [Fact]
    public async Task AllowsThirtyRequestsPerIdentityIn30SecondsThenAnswers429()
    {
        await using var emulator = new HeapEmulatorFactory();
        using var http = emulator.CreateHttpClient();

        for (var i = 0; i < 30; i++)
        {
            Assert.Equal(HttpStatusCode.OK, (await http.TrackAsync("alice")).StatusCode);
        }
        var limited = await http.TrackAsync("alice");

        Assert.Equal(HttpStatusCode.TooManyRequests, limited.StatusCode);
        Assert.Equal("30", limited.RetryAfter());
        Assert.Contains("30 requests per 30 s for identity 'alice' of app_id 'test-app'", await limited.ErrorAsync());
        Assert.Equal(30, (await http.GetEventsAsync()).Count);
    }

    [Fact]
    public async Task AdmitsExactlyThirtyOfManyConcurrentRequestsForOneIdentity()
    {
        await using var emulator = new HeapEmulatorFactory();
        using var http = emulator.CreateHttpClient();

        var responses = await Task.WhenAll(Enumerable.Range(0, 60).Select(i => http.TrackAsync("alice", idempotencyKey: $"k-{i}")));

        Assert.Equal(30, responses.Count(response => response.StatusCode == HttpStatusCode.OK));
        Assert.Equal(30, responses.Count(response => response.StatusCode == HttpStatusCode.TooManyRequests));
        Assert.Equal(30, (await http.GetEventsAsync()).Count);
    }

    [Fact]
    public async Task AcceptsTheIdentityAgainOnceTheWindowHasPassed()
    {
        await using var emulator = new HeapEmulatorFactory();
        using var http = emulator.CreateHttpClient();
        for (var i = 0; i < 30; i++)
        {
            await http.TrackAsync("alice");
        }

        emulator.Time.Advance(TimeSpan.FromSeconds(29));
        var stillLimited = await http.TrackAsync("alice");
        emulator.Time.Advance(TimeSpan.FromSeconds(1));
        var accepted = await http.TrackAsync("alice");

        Assert.Equal(HttpStatusCode.TooManyRequests, stillLimited.StatusCode);
        Assert.Equal("1", stillLimited.RetryAfter());
        Assert.Equal(HttpStatusCode.OK, accepted.StatusCode);
    }

    [Fact]
    public async Task SlidesTheWindowRatherThanResettingItAllAtOnce()
    {
        await using var emulator = new HeapEmulatorFactory();
        using var http = emulator.CreateHttpClient();
        for (var i = 0; i < 20; i++)
        {
            await http.TrackAsync("alice");
        }
        emulator.Time.Advance(TimeSpan.FromSeconds(20));
        for (var i = 0; i < 10; i++)
        {
            await http.TrackAsync("alice");
        }

        emulator.Time.Advance(TimeSpan.FromSeconds(10));
        var afterFirstBatchExpired = new List<HttpStatusCode>();
        for (var i = 0; i < 21; i++)
        {
            afterFirstBatchExpired.Add((await http.TrackAsync("alice")).StatusCode);
        }

        Assert.All(afterFirstBatchExpired.Take(20), status => Assert.Equal(HttpStatusCode.OK, status));
        Assert.Equal(HttpStatusCode.TooManyRequests, afterFirstBatchExpired[20]);
    }

    [Fact]
    public async Task CountsEachIdentityAndEachAppSeparately()
    {
        await using var emulator = new HeapEmulatorFactory();
        using var http = emulator.CreateHttpClient();
        for (var i = 0; i < 30; i++)
        {
            await http.TrackAsync("alice");
        }

        Assert.Equal(HttpStatusCode.TooManyRequests, (await http.TrackAsync("alice")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await http.TrackAsync("bob")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await http.TrackAsync("alice", app: HeapEmulatorFactory.OtherApp)).StatusCode);
    }

    [Fact]
    public async Task LimitsUserPropertyUpdatesPerIdentityWithTheirOwnBudget()
    {
        await using var emulator = new HeapEmulatorFactory();
        using var http = emulator.CreateHttpClient();
        for (var i = 0; i < 30; i++)
        {
            Assert.Equal(HttpStatusCode.OK, (await http.AddUserPropertiesAsync("alice")).StatusCode);
        }

        var limited = await http.AddUserPropertiesAsync("alice");

        Assert.Equal(HttpStatusCode.TooManyRequests, limited.StatusCode);
        Assert.Equal("30", limited.RetryAfter());
        Assert.Equal(HttpStatusCode.OK, (await http.TrackAsync("alice")).StatusCode);
    }

    [Fact]
    public async Task LimitsBulkEventsToAThousandPerIdentityPerMinute()
    {
        await using var emulator = new HeapEmulatorFactory();
        using var http = emulator.CreateHttpClient();

        var full = await http.TrackBulkAsync(Enumerable.Repeat("alice", 1000));
        emulator.Time.Advance(TimeSpan.FromSeconds(15));
        var limited = await http.TrackBulkAsync(["alice"]);
        var otherIdentity = await http.TrackBulkAsync(["bob"]);
        emulator.Time.Advance(TimeSpan.FromSeconds(45));
        var afterAMinute = await http.TrackBulkAsync(["alice"]);

        Assert.Equal(HttpStatusCode.OK, full.StatusCode);
        Assert.Equal(HttpStatusCode.TooManyRequests, limited.StatusCode);
        Assert.Equal("45", limited.RetryAfter());
        Assert.Contains("1000 bulk items per minute for identity 'alice'", await limited.ErrorAsync());
        Assert.Equal(HttpStatusCode.OK, otherIdentity.StatusCode);
        Assert.Equal(HttpStatusCode.OK, afterAMinute.StatusCode);
        Assert.Equal(1001, (await http.GetEventsAsync("?identity=alice")).Count);
    }

    [Fact]
    public async Task LimitsBulkEventsToFifteenThousandPerAppPerMinute()
    {
        await using var emulator = new HeapEmulatorFactory();
        using var http = emulator.CreateHttpClient();
        for (var batch = 0; batch < 15; batch++)
        {
            var identities = Enumerable.Range(0, 1000).Select(i => $"user-{batch}-{i % 10}");
            Assert.Equal(HttpStatusCode.OK, (await http.TrackBulkAsync(identities)).StatusCode);
        }

        var limited = await http.TrackBulkAsync(["newcomer"]);
        var otherApp = await http.TrackBulkAsync(["newcomer"], app: HeapEmulatorFactory.OtherApp);
        emulator.Time.Advance(TimeSpan.FromMinutes(1));
        var afterAMinute = await http.TrackBulkAsync(["newcomer"]);

        Assert.Equal(HttpStatusCode.TooManyRequests, limited.StatusCode);
        Assert.Equal("60", limited.RetryAfter());
        Assert.Contains("15000 bulk items per minute for app_id 'test-app'", await limited.ErrorAsync());
        Assert.Equal(HttpStatusCode.OK, otherApp.StatusCode);
        Assert.Equal(HttpStatusCode.OK, afterAMinute.StatusCode);
    }

    [Fact]
    public async Task LimitsBulkUserUpdatesPerIdentity()
    {
        await using var emulator = new HeapEmulatorFactory();
        using var http = emulator.CreateHttpClient();
        var users = string.Join(",", Enumerable.Repeat("""{"identity":"alice","properties":{"n":1}}""", 1000));

        var full = await http.PostJsonAsync("/api/add_user_properties", $$"""{"app_id":"test-app","users":[{{users}}]}""");
        var limited = await http.PostJsonAsync("/api/add_user_properties",
            """{"app_id":"test-app","users":[{"identity":"alice","properties":{"n":2}}]}""");

        Assert.Equal(HttpStatusCode.OK, full.StatusCode);
        Assert.Equal(HttpStatusCode.TooManyRequests, limited.StatusCode);
    }

    [Fact]
    public async Task RecordsNothingFromARequestThatWouldExceedALimit()
    {
        await using var emulator = new HeapEmulatorFactory();
        using var http = emulator.CreateHttpClient();
        await http.TrackBulkAsync(Enumerable.Repeat("alice", 999));

        var limited = await http.TrackBulkAsync(["bob", "alice", "alice"]);
        var fits = await http.TrackBulkAsync(["bob", "alice"]);

        Assert.Equal(HttpStatusCode.TooManyRequests, limited.StatusCode);
        Assert.Equal(HttpStatusCode.OK, fits.StatusCode);
        Assert.Equal(1, (await http.GetEventsAsync("?identity=bob")).Count);
        Assert.Equal(1000, (await http.GetEventsAsync("?identity=alice")).Count);
    }

    [Fact]
    public async Task DoesNotCountRefusedRequestsAgainstTheBudget()
    {
        await using var emulator = new HeapEmulatorFactory();
        using var http = emulator.CreateHttpClient();
        for (var i = 0; i < 40; i++)
        {
            await http.TrackAsync("alice");
        }

        emulator.Time.Advance(TimeSpan.FromSeconds(30));

        Assert.Equal(HttpStatusCode.OK, (await http.TrackAsync("alice")).StatusCode);
        Assert.Equal(10, (await http.GetStatsAsync()).Rejected["429"]);
    }

    [Fact]
    public async Task EnforcesNoLimitsWhenSwitchedOff()
    {
        await using var emulator = new HeapEmulatorFactory(new Dictionary<string, string?> { ["HeapEmulator:EnforceLimits"] = "false" });
        using var http = emulator.CreateHttpClient();

        var statuses = new List<HttpStatusCode>();
        for (var i = 0; i < 40; i++)
        {
            statuses.Add((await http.TrackAsync("alice")).StatusCode);
        }
        statuses.Add((await http.TrackBulkAsync(Enumerable.Repeat("alice", 1000))).StatusCode);
        statuses.Add((await http.TrackBulkAsync(["alice"])).StatusCode);

        Assert.All(statuses, status => Assert.Equal(HttpStatusCode.OK, status));
        Assert.Equal(1041, (await http.GetEventsAsync()).Count);
    }
}
