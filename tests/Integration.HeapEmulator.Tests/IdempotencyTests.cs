using System.Net;

namespace Integration.HeapEmulator.Tests;

public sealed class IdempotencyTests
{
    [Fact]
    public async Task RecordsAnEventOnceWhenItsIdempotencyKeyRepeats()
    {
        await using var emulator = new HeapEmulatorFactory();
        using var http = emulator.CreateHttpClient();

        var first = await http.TrackAsync("alice", idempotencyKey: "delivery-1");
        var repeat = await http.TrackAsync("alice", idempotencyKey: "delivery-1");

        Assert.Equal(HttpStatusCode.OK, first.StatusCode);
        Assert.Equal(HttpStatusCode.OK, repeat.StatusCode);
        Assert.Equal("delivery-1", Assert.Single((await http.GetEventsAsync()).Events).IdempotencyKey);
        var stats = await http.GetStatsAsync();
        Assert.Equal(1, stats.IdempotentRepeats);
        Assert.Equal(2, stats.Accepted);
    }

    [Fact]
    public async Task RecordsEventsWithDifferentOrNoKeysEachTime()
    {
        await using var emulator = new HeapEmulatorFactory();
        using var http = emulator.CreateHttpClient();

        await http.TrackAsync("alice", idempotencyKey: "delivery-1");
        await http.TrackAsync("alice", idempotencyKey: "delivery-2");
        await http.TrackAsync("alice");
        await http.TrackAsync("alice");

        Assert.Equal(4, (await http.GetEventsAsync()).Count);
        Assert.Equal(0, (await http.GetStatsAsync()).IdempotentRepeats);
    }

    [Fact]
    public async Task KeepsIdempotencyKeysPerApp()
    {
        await using var emulator = new HeapEmulatorFactory();
        using var http = emulator.CreateHttpClient();

        await http.TrackAsync("alice", idempotencyKey: "delivery-1");
        await http.TrackAsync("alice", app: HeapEmulatorFactory.OtherApp, idempotencyKey: "delivery-1");

        Assert.Equal(2, (await http.GetEventsAsync()).Count);
    }

    [Fact]
    public async Task RecognisesRepeatsWithinAndAcrossBulkRequests()
    {
        await using var emulator = new HeapEmulatorFactory();
        using var http = emulator.CreateHttpClient();

        var bulk = await http.PostJsonAsync("/api/track", """
            {"app_id":"test-app","events":[
              {"identity":"alice","event":"E","idempotency_key":"k1"},
              {"identity":"alice","event":"E","idempotency_key":"k1"},
              {"identity":"bob","event":"E","idempotency_key":"k2"}
            ]}
            """);
        var single = await http.TrackAsync("bob", "E", idempotencyKey: "k2");

        Assert.Equal(HttpStatusCode.OK, bulk.StatusCode);
        Assert.Equal(HttpStatusCode.OK, single.StatusCode);
        Assert.Equal(["k1", "k2"], (await http.GetEventsAsync()).Events.Select(e => e.IdempotencyKey));
        Assert.Equal(2, (await http.GetStatsAsync()).IdempotentRepeats);
    }

    [Fact]
    public async Task DoesNotSpendAKeyOnARequestThatWasRefused()
    {
        await using var emulator = new HeapEmulatorFactory();
        using var http = emulator.CreateHttpClient();
        await http.AddFaultAsync("""{"status":503,"count":1}""");

        var faulted = await http.TrackAsync("alice", idempotencyKey: "retry-me");
        var retried = await http.TrackAsync("alice", idempotencyKey: "retry-me");

        Assert.Equal(HttpStatusCode.ServiceUnavailable, faulted.StatusCode);
        Assert.Equal(HttpStatusCode.OK, retried.StatusCode);
        Assert.Equal("retry-me", Assert.Single((await http.GetEventsAsync()).Events).IdempotencyKey);
    }
}
