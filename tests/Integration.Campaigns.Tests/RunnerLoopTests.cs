using System.Diagnostics;
using Integration.Campaigns.Tests.Support;
using Integration.Campaigns.V1;

namespace Integration.Campaigns.Tests;

/// <summary>The runner's polling: after work it looks again within milliseconds, so steady traffic never waits a whole poll interval.</summary>
public sealed class RunnerLoopTests(CampaignsFixture fixture) : IClassFixture<CampaignsFixture>
{
    [Fact]
    public async Task AnEventSoonAfterTheLastOneTriggersWithoutWaitingForThePollInterval()
    {
        await using var clock = new RunningClock();
        await using var host = fixture.StartCampaigns(clock.Time, runner: true, settings: new Dictionary<string, string?>
        {
            ["Campaigns:PollIntervalMs"] = "8000",
        });
        var ws = Specs.NewWorkspace();
        var spec = new CampaignSpec { Name = "Soon", EventTriggered = new EventTriggeredDelivery { EventName = "Soon" } };
        spec.Steps.Add(Specs.HeapTrack(fixture.HeapTrackUrl, Specs.TrackBody("Soon Sent")));
        await host.Client.CreateCampaignAsync(new CreateCampaignRequest { WorkspaceId = ws, Spec = spec, Activate = true }, CampaignsHost.Call);
        var (first, second) = ($"{ws}-first", $"{ws}-second");

        await fixture.IngestEventAsync(ws, first, "Soon", DateTimeOffset.UtcNow);
        await Eventually.HoldsAsync(() => fixture.HeapEventsAsync(first, "Soon Sent"), e => e.Count == 1, TimeSpan.FromSeconds(30), "the first send");
        var watch = Stopwatch.StartNew();
        await fixture.IngestEventAsync(ws, second, "Soon", DateTimeOffset.UtcNow);
        await Eventually.HoldsAsync(() => fixture.HeapEventsAsync(second, "Soon Sent"), e => e.Count == 1, TimeSpan.FromSeconds(30), "the second send");

        // Polling once an interval would take up to 8 s; the loop backs off from 10 ms after work, so it is there in well under that.
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(3), $"the second send took {watch.Elapsed.TotalMilliseconds:0} ms");
    }
}
