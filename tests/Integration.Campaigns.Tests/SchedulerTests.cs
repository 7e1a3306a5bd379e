using Integration.Campaigns.Runner;
using Integration.Campaigns.Tests.Support;
using Integration.Campaigns.V1;
using Microsoft.Extensions.Time.Testing;

namespace Integration.Campaigns.Tests;

/// <summary>One Time and Periodic campaigns: schedules in Redis, claimed by whichever runner replica is free.</summary>
public sealed class SchedulerTests(CampaignsFixture fixture) : IClassFixture<CampaignsFixture>
{
    private CampaignSpec OneTime(DateTimeOffset? at)
    {
        var spec = new CampaignSpec { Name = "Once", OneTime = new OneTimeDelivery { SendAtMs = at?.ToUnixTimeMilliseconds() ?? 0 } };
        spec.Steps.Add(Specs.HeapTrack(fixture.HeapTrackUrl, Specs.TrackBody("Once")));
        return spec;
    }

    private async Task<string> UsersAsync(int count)
    {
        var ws = Specs.NewWorkspace();
        for (var i = 0; i < count; i++)
        {
            await fixture.IngestUserAsync(ws, $"user-{i}", ("first_name", $"U{i}"));
        }
        return ws;
    }

    [Fact]
    public async Task AOneTimeCampaignSendsAtItsTimeOnceAndCompletes()
    {
        var queue = new RecordingDeliveryQueue();
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var host = fixture.StartCampaigns(time, queue);
        var ws = await UsersAsync(3);
        var at = time.GetUtcNow().AddHours(2);
        var campaign = await host.Client.CreateCampaignAsync(new CreateCampaignRequest { WorkspaceId = ws, Spec = OneTime(at), Activate = true }, CampaignsHost.Call);
        var runner = host.Get<ScheduledRunner>();

        await runner.RunDueAsync(CancellationToken.None);
        var early = queue.For(ws).Count;
        time.Advance(TimeSpan.FromHours(2));
        await runner.RunDueAsync(CancellationToken.None);
        time.Advance(TimeSpan.FromDays(1));
        await runner.RunDueAsync(CancellationToken.None);
        var stored = await host.Client.GetCampaignAsync(new GetCampaignRequest { WorkspaceId = ws, CampaignId = campaign.CampaignId }, CampaignsHost.Call);

        Assert.Equal(at.ToUnixTimeMilliseconds(), campaign.NextRunMs);
        Assert.Equal(0, early);
        Assert.Equal(3, queue.For(ws).Count);
        Assert.All(queue.For(ws), d => Assert.Equal($"run:{at.ToUnixTimeMilliseconds()}", d.TriggerId));
        Assert.Equal(CampaignState.Completed, stored.State);
        Assert.Equal(1, stored.Runs);
    }

    [Fact]
    public async Task APeriodicCampaignRunsOnItsScheduleAndEndsAfterItsOccurrences()
    {
        var queue = new RecordingDeliveryQueue();
        var time = new FakeTimeProvider(new DateTimeOffset(2026, 3, 2, 10, 0, 0, TimeSpan.Zero));
        await using var host = fixture.StartCampaigns(time, queue);
        var ws = await UsersAsync(1);
        var spec = OneTime(null);
        spec.Periodic = new PeriodicDelivery { Frequency = Frequency.Daily, TimeOfDay = "09:00", TimeZone = "America/New_York", MaxOccurrences = 2 };
        var campaign = await host.Client.CreateCampaignAsync(new CreateCampaignRequest { WorkspaceId = ws, Spec = spec, Activate = true }, CampaignsHost.Call);
        var runner = host.Get<ScheduledRunner>();
        var runs = new List<int>();

        for (var hour = 0; hour < 72; hour++)
        {
            time.Advance(TimeSpan.FromHours(1));
            await runner.RunDueAsync(CancellationToken.None);
            runs.Add(queue.For(ws).Count);
        }
        var stored = await host.Client.GetCampaignAsync(new GetCampaignRequest { WorkspaceId = ws, CampaignId = campaign.CampaignId }, CampaignsHost.Call);

        Assert.Equal(new DateTimeOffset(2026, 3, 2, 14, 0, 0, TimeSpan.Zero).ToUnixTimeMilliseconds(), campaign.NextRunMs);
        Assert.Equal(1, runs[3]);
        Assert.Equal(1, runs[26]);
        Assert.Equal(2, runs[27]);
        Assert.Equal(2, runs[^1]);
        Assert.Equal(CampaignState.Completed, stored.State);
        Assert.Equal(2, stored.Runs);
    }

    [Fact]
    public async Task TheScheduleSurvivesARestart()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        var ws = await UsersAsync(2);
        await using (var before = fixture.StartCampaigns(time, new RecordingDeliveryQueue()))
        {
            await before.Client.CreateCampaignAsync(new CreateCampaignRequest { WorkspaceId = ws, Spec = OneTime(time.GetUtcNow().AddHours(1)), Activate = true }, CampaignsHost.Call);
        }

        var queue = new RecordingDeliveryQueue();
        await using var after = fixture.StartCampaigns(time, queue);
        time.Advance(TimeSpan.FromHours(1));
        await after.Get<ScheduledRunner>().RunDueAsync(CancellationToken.None);

        Assert.Equal(2, queue.For(ws).Count);
    }

    [Fact]
    public async Task TwoReplicasRunADueCampaignOnce()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        var queueA = new RecordingDeliveryQueue();
        var queueB = new RecordingDeliveryQueue();
        await using var a = fixture.StartCampaigns(time, queueA);
        await using var b = fixture.StartCampaigns(time, queueB);
        var ws = await UsersAsync(20);
        await a.Client.CreateCampaignAsync(new CreateCampaignRequest { WorkspaceId = ws, Spec = OneTime(time.GetUtcNow().AddMinutes(5)), Activate = true }, CampaignsHost.Call);
        time.Advance(TimeSpan.FromMinutes(5));

        await Task.WhenAll(a.Get<ScheduledRunner>().RunDueAsync(CancellationToken.None), b.Get<ScheduledRunner>().RunDueAsync(CancellationToken.None));

        var fromA = queueA.For(ws).Count;
        var fromB = queueB.For(ws).Count;
        Assert.Equal(20, fromA + fromB);
        Assert.True(fromA == 0 || fromB == 0, $"both replicas sent: {fromA} and {fromB}");
    }

    [Fact]
    public async Task APausedCampaignDoesNotRunAndResumesLater()
    {
        var queue = new RecordingDeliveryQueue();
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var host = fixture.StartCampaigns(time, queue);
        var ws = await UsersAsync(1);
        var campaign = await host.Client.CreateCampaignAsync(new CreateCampaignRequest { WorkspaceId = ws, Spec = OneTime(time.GetUtcNow().AddMinutes(1)), Activate = true }, CampaignsHost.Call);
        var ids = new CampaignStateRequest { WorkspaceId = ws, CampaignId = campaign.CampaignId };

        await host.Client.PauseCampaignAsync(ids, CampaignsHost.Call);
        time.Advance(TimeSpan.FromMinutes(2));
        await host.Get<ScheduledRunner>().RunDueAsync(CancellationToken.None);
        var whilePaused = queue.For(ws).Count;
        await host.Client.ResumeCampaignAsync(ids, CampaignsHost.Call);
        await host.Get<ScheduledRunner>().RunDueAsync(CancellationToken.None);

        Assert.Equal(0, whilePaused);
        Assert.Single(queue.For(ws));
    }
}
