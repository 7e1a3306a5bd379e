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
        await slow.Http.FaultAsync(new { LatencyMs = 1500 });
        try
        {
            await using var host = await DeliveryTestHost.StartAsync(slow.Redis.ConnectionString, new Dictionary<string, string?>
            {
                ["Delivery:MaxConcurrency"] = "16",
                ["Delivery:MaxConcurrencyPerDestination"] = "4",
            });
            var workspace = "ws-" + Guid.NewGuid().ToString("N")[..8];
            foreach (var i in Enumerable.Range(0, 40))
            {
                await host.Queue.EnqueueAsync(Deliveries.HeapTrack(slow.EmulatorAddress, workspace, "c-slow", "s" + i), CancellationToken.None);
            }
            var started = DateTime.UtcNow;
            foreach (var i in Enumerable.Range(0, 20))
            {
                await host.Queue.EnqueueAsync(Deliveries.HeapTrack(fast.HttpAddress, workspace, "c-fast", "f" + i), CancellationToken.None);
            }

            await Deliveries.EventuallyAsync(() => host.Store.GetCountersAsync(workspace, "c-fast"),
                c => c[DeliveryCounterNames.Succeeded] == 20, TimeSpan.FromSeconds(3), "the fast destination's 20 deliveries");
            var elapsed = DateTime.UtcNow - started;

            var slowCounters = await host.Store.GetCountersAsync(workspace, "c-slow");
            Assert.True(slowCounters[DeliveryCounterNames.Succeeded] < 40, "the slow destination was not slow");
            Assert.True(elapsed < TimeSpan.FromSeconds(3), $"fast deliveries took {elapsed.TotalSeconds:F1} s");
        }
        finally
        {
            await slow.Http.ClearFaultsAsync();
        }
    }
}
