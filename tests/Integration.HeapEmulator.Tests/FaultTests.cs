using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using Integration.HeapEmulator.Inspection;

namespace Integration.HeapEmulator.Tests;

public sealed class FaultTests
{
    [Fact]
    public async Task AnswersTheNextRequestsWithTheInjectedStatusAndRetryAfter()
    {
        await using var emulator = new HeapEmulatorFactory();
        using var http = emulator.CreateHttpClient();
        await http.AddFaultAsync("""{"status":429,"count":3,"retry_after_seconds":2}""");

        var faulted = new List<HttpResponseMessage>();
        for (var i = 0; i < 3; i++)
        {
            faulted.Add(await http.TrackAsync("alice", idempotencyKey: $"k-{i}"));
        }
        var afterwards = await http.TrackAsync("alice", idempotencyKey: "k-3");

        Assert.All(faulted, response =>
        {
            Assert.Equal(HttpStatusCode.TooManyRequests, response.StatusCode);
            Assert.Equal("2", response.RetryAfter());
        });
        Assert.Equal(HttpStatusCode.OK, afterwards.StatusCode);
        Assert.Equal("k-3", Assert.Single((await http.GetEventsAsync()).Events).IdempotencyKey);
        var stats = await http.GetStatsAsync();
        Assert.Equal(3, stats.Rejected["429"]);
        Assert.Equal(3, stats.FaultsInjected);
        Assert.Equal(1, stats.Accepted);
    }

    [Fact]
    public async Task AnswersWithoutRetryAfterWhenNoneWasAskedFor()
    {
        await using var emulator = new HeapEmulatorFactory();
        using var http = emulator.CreateHttpClient();
        await http.AddFaultAsync("""{"status":503,"count":1}""");

        var response = await http.AddUserPropertiesAsync("alice");

        Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
        Assert.Null(response.RetryAfter());
        Assert.Contains("Injected fault: 503", await response.ErrorAsync());
        Assert.Equal(0, (await http.GetUsersAsync()).Count);
    }

    [Fact]
    public async Task InjectsAStatusIntoAnEvenlySpreadPercentageOfRequestsUntilCleared()
    {
        await using var emulator = new HeapEmulatorFactory();
        using var http = emulator.CreateHttpClient();
        await http.AddFaultAsync("""{"status":500,"percent":50}""");

        var statuses = new List<HttpStatusCode>();
        for (var i = 0; i < 10; i++)
        {
            statuses.Add((await http.TrackAsync($"user-{i}")).StatusCode);
        }
        var cleared = await http.DeleteAsync("/_emulator/faults");
        var afterClearing = await http.TrackAsync("user-10");

        Assert.Equal(5, statuses.Count(status => status == HttpStatusCode.InternalServerError));
        Assert.Equal([HttpStatusCode.OK, HttpStatusCode.InternalServerError], statuses.Take(2));
        Assert.Equal(HttpStatusCode.NoContent, cleared.StatusCode);
        Assert.Equal(HttpStatusCode.OK, afterClearing.StatusCode);
        Assert.Equal(6, (await http.GetEventsAsync()).Count);
    }

    [Fact]
    public async Task StopsAPercentageFaultAfterItsCount()
    {
        await using var emulator = new HeapEmulatorFactory();
        using var http = emulator.CreateHttpClient();
        await http.AddFaultAsync("""{"status":502,"percent":50,"count":2}""");

        var statuses = new List<HttpStatusCode>();
        for (var i = 0; i < 8; i++)
        {
            statuses.Add((await http.TrackAsync($"user-{i}")).StatusCode);
        }

        Assert.Equal(2, statuses.Count(status => status == HttpStatusCode.BadGateway));
        Assert.Empty((await http.GetFromJsonAsync<FaultList>("/_emulator/faults", HeapHttp.Json))!.Faults);
    }

    [Fact]
    public async Task AddsLatencyAndThenAnswersNormally()
    {
        await using var emulator = new HeapEmulatorFactory();
        using var http = emulator.CreateHttpClient();
        await http.AddFaultAsync("""{"latency_ms":300,"count":1}""");

        var stopwatch = Stopwatch.StartNew();
        var response = await http.TrackAsync("alice");
        stopwatch.Stop();

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.True(stopwatch.Elapsed >= TimeSpan.FromMilliseconds(290), $"answered after {stopwatch.Elapsed}");
        Assert.Equal(1, (await http.GetEventsAsync()).Count);
        Assert.Empty((await http.GetFromJsonAsync<FaultList>("/_emulator/faults", HeapHttp.Json))!.Faults);
    }

    [Fact]
    public async Task DelaysAnInjectedStatusByItsLatency()
    {
        await using var emulator = new HeapEmulatorFactory();
        using var http = emulator.CreateHttpClient();
        await http.AddFaultAsync("""{"status":504,"latency_ms":200,"count":1}""");

        var stopwatch = Stopwatch.StartNew();
        var response = await http.TrackAsync("alice");
        stopwatch.Stop();

        Assert.Equal(HttpStatusCode.GatewayTimeout, response.StatusCode);
        Assert.True(stopwatch.Elapsed >= TimeSpan.FromMilliseconds(190), $"answered after {stopwatch.Elapsed}");
    }

    [Fact]
    public async Task DropsTheConnectionOfTheNextRequests()
    {
        await using var emulator = new HeapEmulatorFactory();
        using var control = emulator.CreateHttpClient();
        await control.AddFaultAsync("""{"drop_connection":true,"count":2}""");

        for (var i = 0; i < 2; i++)
        {
            // A fresh client each time: HttpClient may resend a request whose pooled connection died, which would eat the next fault.
            using var http = emulator.CreateHttpClient();
            await Assert.ThrowsAsync<HttpRequestException>(() => http.TrackAsync("alice", idempotencyKey: $"k-{i}"));
        }
        using var last = emulator.CreateHttpClient();
        var afterwards = await last.TrackAsync("alice", idempotencyKey: "k-2");

        Assert.Equal(HttpStatusCode.OK, afterwards.StatusCode);
        Assert.Equal("k-2", Assert.Single((await control.GetEventsAsync()).Events).IdempotencyKey);
        var stats = await control.GetStatsAsync();
        Assert.Equal(2, stats.DroppedConnections);
        Assert.Equal(2, stats.FaultsInjected);
    }

    [Fact]
    public async Task LeavesTheEmulatorApiAndHealthAlone()
    {
        await using var emulator = new HeapEmulatorFactory();
        using var http = emulator.CreateHttpClient();
        await http.AddFaultAsync("""{"status":503}""");

        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync("/_emulator/stats")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync("/_emulator/events")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync("/health")).StatusCode);
        Assert.Equal(HttpStatusCode.ServiceUnavailable, (await http.TrackAsync("alice")).StatusCode);
        Assert.Equal(HttpStatusCode.ServiceUnavailable, (await http.TrackAsync("bob")).StatusCode);
    }

    [Fact]
    public async Task ListsActiveFaultsWithWhatRemains()
    {
        await using var emulator = new HeapEmulatorFactory();
        using var http = emulator.CreateHttpClient();
        var created = await http.AddFaultAsync("""{"status":429,"count":3,"retry_after_seconds":2}""");
        await http.TrackAsync("alice");

        var rule = (await created.Content.ReadFromJsonAsync<FaultRule>(HeapHttp.Json))!;
        var listed = Assert.Single((await http.GetFromJsonAsync<FaultList>("/_emulator/faults", HeapHttp.Json))!.Faults);

        Assert.Equal(3, rule.Remaining);
        Assert.Equal(rule with { Remaining = 2 }, listed);
    }

    [Theory]
    [InlineData("""{}""", "at least one of status, latency_ms or drop_connection")]
    [InlineData("""{"count":2}""", "at least one of status, latency_ms or drop_connection")]
    [InlineData("""{"status":200}""", "status must be an HTTP error status from 400 to 599")]
    [InlineData("""{"status":600}""", "status must be an HTTP error status from 400 to 599")]
    [InlineData("""{"status":500,"drop_connection":true}""", "status and drop_connection exclude each other")]
    [InlineData("""{"status":500,"count":0}""", "count must be at least 1")]
    [InlineData("""{"status":500,"percent":0}""", "percent must be from 1 to 100")]
    [InlineData("""{"status":500,"percent":101}""", "percent must be from 1 to 100")]
    [InlineData("""{"latency_ms":100,"retry_after_seconds":2}""", "retry_after_seconds needs a status")]
    [InlineData("""{"status":429,"retry_after_seconds":-1}""", "retry_after_seconds must not be negative")]
    [InlineData("""{"latency_ms":-5}""", "latency_ms must be from 0 to 120000")]
    [InlineData("""{"stauts":500}""", "stauts")]
    [InlineData("""{"status":"five hundred"}""", "not a valid FaultRequest")]
    [InlineData("""not json""", "not a valid FaultRequest")]
    public async Task RejectsAnInvalidFaultNamingTheProblem(string body, string expected)
    {
        await using var emulator = new HeapEmulatorFactory();
        using var http = emulator.CreateHttpClient();

        var response = await http.PostJsonAsync("/_emulator/faults", body);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Contains(expected, await response.ErrorAsync());
        Assert.Empty((await http.GetFromJsonAsync<FaultList>("/_emulator/faults", HeapHttp.Json))!.Faults);
    }
}
