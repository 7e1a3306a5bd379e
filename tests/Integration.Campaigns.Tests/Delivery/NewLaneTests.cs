using Integration.Campaigns.Delivery;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;

namespace Integration.Campaigns.Tests.Delivery;

public sealed class NewLaneTests(EmulatorFixture emulator) : IClassFixture<EmulatorFixture>
{
    [Fact]
    public async Task TheFirstDeliveryToANewDestinationDoesNotWaitForTheNextDiscoveryRound()
    {
        // The clock stands still: the discovery loop's one-second wait never ends, so only the enqueue can wake it.
        var frozen = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var host = await DeliveryTestHost.StartAsync(emulator.Redis.ConnectionString,
            services: s => s.AddSingleton<TimeProvider>(frozen));
        var workspace = "ws-" + Guid.NewGuid().ToString("N")[..8];
        await Task.Delay(300);

        await host.Queue.EnqueueAsync(Deliveries.HeapTrack(emulator.EmulatorAddress, workspace, "c-new", "new-lane-user"), CancellationToken.None);

        await Deliveries.EventuallyAsync(() => host.Store.GetCountersAsync(workspace, "c-new"),
            c => c[DeliveryCounterNames.Succeeded] == 1, TimeSpan.FromSeconds(10), "the delivery to the new lane");
        Assert.Single((await emulator.Http.EventsAsync("new-lane-user")).Events);
    }
}
