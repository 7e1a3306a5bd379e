extern alias traffic;

using Integration.Campaigns.Tests.Support;
using Integration.Campaigns.V1;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;
using TrafficCampaigns = traffic::Integration.Campaigns.V1.Campaigns;

namespace Integration.Campaigns.Tests;

/// <summary>The demo campaigns heap-traffic creates in Development (the README's outbound tour) against the real campaigns service.</summary>
public sealed class DemoCampaignTests(CampaignsFixture fixture) : IClassFixture<CampaignsFixture>
{
    [Fact]
    public async Task TheGuidesThreeDemoCampaignsAreAcceptedAndActive()
    {
        await using var host = fixture.StartCampaigns(new FakeTimeProvider(DateTimeOffset.UtcNow), new RecordingDeliveryQueue());
        var ws = Specs.NewWorkspace();
        var options = Options.Create(new traffic::Integration.HeapTraffic.TrafficOptions
        {
            WorkspaceId = ws, HeapTrackUrl = fixture.HeapTrackUrl, AdminToken = CampaignsFixture.AdminToken,
        });
        using var channel = host.CreateGrpcChannel();
        var demo = new traffic::Integration.HeapTraffic.DemoCampaigns(new TrafficCampaigns.CampaignsClient(channel), options,
            NullLogger<traffic::Integration.HeapTraffic.DemoCampaigns>.Instance);

        await demo.EnsureAsync(CancellationToken.None);
        await demo.EnsureAsync(CancellationToken.None);
        var listed = await host.Client.ListCampaignsAsync(new ListCampaignsRequest { WorkspaceId = ws }, CampaignsHost.Call);

        Assert.Equal(
            ["Demo: cart reminder (drop-off)", "Demo: feature adoption", "Demo: trial conversion"],
            listed.Campaigns.Select(c => c.Spec.Name).Order());
        Assert.All(listed.Campaigns, c => Assert.Equal(CampaignState.Active, c.State));
    }
}
