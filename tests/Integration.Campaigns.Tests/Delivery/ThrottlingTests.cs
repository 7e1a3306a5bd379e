using System.Diagnostics;
using Integration.Campaigns.Delivery;
using Microsoft.Extensions.Options;
using StackExchange.Redis;

namespace Integration.Campaigns.Tests.Delivery;

/// <summary>The emulator enforcing Heap's per-identity limit, scaled down (5 requests per 2 s) so the test is short.</summary>
public sealed class StrictEmulatorFixture() : EmulatorFixture(new Dictionary<string, string?>
{
    ["HeapEmulator:EnforceLimits"] = "true",
    ["HeapEmulator:RequestsPerIdentity"] = "5",
    ["HeapEmulator:RequestWindowSeconds"] = "2",
});

public sealed class ThrottlingTests(StrictEmulatorFixture fixture) : IClassFixture<StrictEmulatorFixture>
{
    [Fact]
    public async Task ThrottlingKeepsHeapsPerIdentityLimitSoTheEmulatorNeverAnswers429()
    {
        var workspace = "ws-" + Guid.NewGuid().ToString("N")[..8];
        var settings = new Dictionary<string, string?>
        {
            ["Delivery:Throttle:Enabled"] = "true",
            ["Delivery:Throttle:HeapIdentityLimit"] = "5",
            ["Delivery:Throttle:HeapIdentityWindow"] = "00:00:02",
            // Heap counts a request when it arrives, the throttle when it lets it go: the margin covers the time in
            // between, which on a loaded 2-core CI machine reached several hundred ms (a 200 ms margin let 429s through).
            ["Delivery:Throttle:SafetyMargin"] = "00:00:01",
        };
        // Two replicas share one budget through Redis.
        await using var first = await DeliveryTestHost.StartAsync(fixture.Redis.ConnectionString, settings);
        await using var second = await DeliveryTestHost.StartAsync(fixture.Redis.ConnectionString, settings);
        var identity = "user-" + Guid.NewGuid().ToString("N")[..10];
        var requests = Enumerable.Range(0, 15)
            .Select(i => Deliveries.HeapTrack(fixture.EmulatorAddress, workspace, "c-throttle", identity, trigger: "t" + i))
            .ToList();

        foreach (var request in requests)
        {
            await first.Queue.EnqueueAsync(request, CancellationToken.None);
        }
        await Deliveries.EventuallyAsync(() => first.Store.GetCountersAsync(workspace, "c-throttle"),
            c => c[DeliveryCounterNames.Succeeded] == 15, TimeSpan.FromSeconds(30), "15 deliveries to succeed");

        var stats = await fixture.Http.StatsAsync();
        Assert.False(stats.Rejected.ContainsKey("429"), "the emulator answered 429: " + string.Join(", ", stats.Rejected));
        Assert.Equal(15, (await fixture.Http.EventsAsync(identity)).Count);
        var counters = await first.Store.GetCountersAsync(workspace, "c-throttle");
        Assert.True(counters[DeliveryCounterNames.Throttled] > 0, "nothing was throttled");
        Assert.Equal(0, counters[DeliveryCounterNames.Retried]);
        Assert.Equal(15, counters[DeliveryCounterNames.Sent]);
    }

    [Fact]
    public async Task AFullBudgetWaitsUntilItsOldestRequestLeavesTheWindowCountedOrSummed()
    {
        await using var redis = await ConnectionMultiplexer.ConnectAsync(fixture.Redis.ConnectionString);
        var window = TimeSpan.FromSeconds(10);
        var throttle = new RedisDeliveryThrottle(redis, Options.Create(new DeliveryEngineOptions
        {
            Throttle = new ThrottleOptions
            {
                HeapIdentityLimit = 3, HeapIdentityWindow = window, HeapBulkAppEventLimit = 6, HeapBulkWindow = window,
                SafetyMargin = TimeSpan.Zero,
            },
        }));
        var app = "app-" + Guid.NewGuid().ToString("N")[..8];
        // One identity's single track calls cost 1 each (the log is counted); bulk requests cost their events (summed).
        var single = DeliveryTarget.For(Deliveries.HeapTrack(fixture.EmulatorAddress, "ws", "c", "someone", app: app));
        var bulk = DeliveryTarget.For(Deliveries.HeapTrack(fixture.EmulatorAddress, "ws", "c", "someone", app: app) with
        {
            Body = $$"""{"app_id":"{{app}}","events":[{"identity":"u","event":"A"},{"identity":"v","event":"B"}]}""",
        });

        var singles = new List<TimeSpan>();
        var bulks = new List<TimeSpan>();
        var clock = Stopwatch.StartNew();
        for (var i = 0; i < 4; i++)
        {
            singles.Add(await throttle.AcquireAsync(single));
            bulks.Add(await throttle.AcquireAsync(bulk));
        }
        var took = clock.Elapsed;

        // The fourth waits for the first to leave the window: the window less the time since the first was counted,
        // which is at most how long the eight calls took (a fixed margin was once too small on a loaded machine).
        var earliest = window - took - TimeSpan.FromMilliseconds(1);
        Assert.Equal([TimeSpan.Zero, TimeSpan.Zero, TimeSpan.Zero], singles.Take(3));
        Assert.InRange(singles[3], earliest, window + TimeSpan.FromMilliseconds(1));
        Assert.Equal([TimeSpan.Zero, TimeSpan.Zero, TimeSpan.Zero], bulks.Take(3));
        Assert.InRange(bulks[3], earliest, window + TimeSpan.FromMilliseconds(1));
    }
}
