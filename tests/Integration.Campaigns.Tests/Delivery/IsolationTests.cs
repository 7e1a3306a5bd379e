extern alias heap;

using Integration.Campaigns.Delivery;
using Integration.Testing;

namespace Integration.Campaigns.Tests.Delivery;

public sealed class IsolationTests(EmulatorFixture slow) : IClassFixture<EmulatorFixture>
{
    [Fact]
    public async Task ASlowDestinationDoesNotSlowDeliveriesToAnother()
    {
        await using var fast = new KestrelServiceFactory<heap::Program>(new Dictionary<string, string?>
        {
            ["HeapEmulator:Apps:0"] = "test-app",
            ["Logging:LogLevel:Default"] = "Warning",
        });
        using var fastHttp = fast.CreateHttpClient();
        // Each slow answer takes 5 s (the attempt timeouts are raised above that, so they succeed), so with 4 at a
        // time the slow destination needs 50 s for its 40. Not held up by it, the fast one's 20 are done before the
        // slow one's second four (10 s) even on a busy machine; waiting behind it, they would not be. (A fixed 3 s
        // bound on the fast ones was tight on a loaded machine.)
        await slow.Http.FaultAsync(new { LatencyMs = 5_000 });
        try
        {
            await using var host = await DeliveryTestHost.StartAsync(slow.Redis.ConnectionString, new Dictionary<string, string?>
            {
                ["Delivery:MaxConcurrency"] = "16",
                ["Delivery:MaxConcurrencyPerDestination"] = "4",
                ["Delivery:MaxAttemptTimeout"] = "00:00:30",
                ["Delivery:ClaimAfter"] = "00:00:40",
            });
            var workspace = "ws-" + Guid.NewGuid().ToString("N")[..8];
            foreach (var i in Enumerable.Range(0, 40))
            {
                await host.Queue.EnqueueAsync(Deliveries.HeapTrack(slow.EmulatorAddress, workspace, "c-slow", "s" + i,
                    options: new DeliveryOptions { Timeout = TimeSpan.FromSeconds(30) }), CancellationToken.None);
            }
            var started = DateTime.UtcNow;
            foreach (var i in Enumerable.Range(0, 20))
            {
                await host.Queue.EnqueueAsync(Deliveries.HeapTrack(fast.HttpAddress, workspace, "c-fast", "f" + i), CancellationToken.None);
            }

            await Deliveries.EventuallyAsync(() => host.Store.GetCountersAsync(workspace, "c-fast"),
                c => c[DeliveryCounterNames.Succeeded] == 20, TimeSpan.FromSeconds(60), "the fast destination's 20 deliveries");
            var elapsed = DateTime.UtcNow - started;

            var slowCounters = await host.Store.GetCountersAsync(workspace, "c-slow");
            Assert.True(slowCounters[DeliveryCounterNames.Succeeded] <= 4,
                $"the slow destination had {slowCounters[DeliveryCounterNames.Succeeded]} done when the fast one's 20 were, after {elapsed.TotalSeconds:F1} s");
        }
        finally
        {
            await slow.Http.ClearFaultsAsync();
        }
    }
}
