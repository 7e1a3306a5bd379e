using Integration.Campaigns.Runner;
using Integration.Campaigns.Tests.Support;
using Integration.Domain;
using Microsoft.Extensions.Time.Testing;

namespace Integration.Campaigns.Tests.Replicas;

/// <summary>
/// Runner replicas share a workspace's event stream by partition, one reader per partition (real Redis): the first
/// replica holds them all, a second one gets half once the first gives its surplus back, and a stopping replica's
/// partitions go to the one that stays.
/// </summary>
public sealed class TriggerPartitionLeaseTests(CampaignsFixture fixture) : IClassFixture<CampaignsFixture>
{
    [Fact]
    public async Task ReplicasSplitThePartitionsAndTakeOverThoseOfAStoppedOne()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var hostA = fixture.StartCampaigns(time);
        await using var hostB = fixture.StartCampaigns(time);
        var a = hostA.Get<TriggerPartitionLeases>();
        var b = hostB.Get<TriggerPartitionLeases>();
        var ws = Specs.NewWorkspace();

        var alone = await a.RenewAsync(ws, "a");
        var joining = await b.RenewAsync(ws, "b");
        var aShared = await a.RenewAsync(ws, "a");
        var bShared = await b.RenewAsync(ws, "b");
        await a.ReleaseAsync("a");
        var bAlone = await b.RenewAsync(ws, "b");

        Assert.Equal(EventStream.Partitions, alone.Owned.Count);
        Assert.Equal(EventStream.Partitions, alone.Acquired.Count);
        Assert.Empty(joining.Owned);
        Assert.Equal(EventStream.Partitions / 2, aShared.Owned.Count);
        Assert.Empty(aShared.Acquired);
        Assert.Equal(EventStream.Partitions / 2, bShared.Owned.Count);
        Assert.Equal(bShared.Owned.Order(), bShared.Acquired.Order());
        Assert.Empty(aShared.Owned.Intersect(bShared.Owned));
        Assert.Equal(Enumerable.Range(0, EventStream.Partitions), aShared.Owned.Union(bShared.Owned).Order());
        Assert.Equal(Enumerable.Range(0, EventStream.Partitions), bAlone.Owned.Order());
        Assert.Equal(aShared.Owned.Order(), bAlone.Acquired.Order());
    }
}
