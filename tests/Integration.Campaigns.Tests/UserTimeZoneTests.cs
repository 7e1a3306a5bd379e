using Grpc.Core;
using Integration.Campaigns.Runner;
using Integration.Campaigns.Tests.Support;
using Integration.Campaigns.V1;
using Microsoft.Extensions.Time.Testing;
using StackExchange.Redis;

namespace Integration.Campaigns.Tests;

/// <summary>
/// One Time and Periodic campaigns sent at each user's local time, on real Redis and real ingestion with the campaigns'
/// clock in the test's hands. 10:00 on 3 December 2026 is 20:00 UTC the day before in Kiritimati (UTC+14), 09:00 UTC in
/// Berlin (UTC+1), 18:00 UTC in Los Angeles (UTC-8) and 21:00 UTC in Pago Pago (UTC-11).
/// </summary>
public sealed class UserTimeZoneTests(CampaignsFixture fixture) : IClassFixture<CampaignsFixture>
{
    private static readonly DateTimeOffset Kiritimati = new(2026, 12, 2, 20, 0, 0, TimeSpan.Zero);
    private static readonly DateTimeOffset Berlin = new(2026, 12, 3, 9, 0, 0, TimeSpan.Zero);
    private static readonly DateTimeOffset LosAngeles = new(2026, 12, 3, 18, 0, 0, TimeSpan.Zero);
    private static readonly DateTimeOffset PagoPago = new(2026, 12, 3, 21, 0, 0, TimeSpan.Zero);

    private CampaignSpec OneTime(string campaignZone, DateTimeOffset at, PassedTimeZoneAction passed = PassedTimeZoneAction.Unspecified)
    {
        var spec = new CampaignSpec
        {
            Name = "Local morning",
            OneTime = new OneTimeDelivery
            {
                SendAtMs = at.ToUnixTimeMilliseconds(),
                TimeZone = campaignZone,
                UserTimeZone = new UserTimeZoneDelivery { PassedTimeZoneAction = passed },
            },
        };
        spec.Steps.Add(Specs.HeapTrack(fixture.HeapTrackUrl, Specs.TrackBody("Local morning")));
        return spec;
    }

    /// <summary>One user per zone (by name), plus one without a zone and one with a zone that does not exist.</summary>
    private async Task<string> UsersAsync(params string[] zones)
    {
        var ws = Specs.NewWorkspace();
        foreach (var zone in zones)
        {
            await fixture.IngestUserAsync(ws, zone, ("timezone", zone));
        }
        await fixture.IngestUserAsync(ws, "no-zone", ("first_name", "Nobody"));
        await fixture.IngestUserAsync(ws, "bad-zone", ("timezone", "Mars/Olympus"));
        return ws;
    }

    /// <summary>Runs the scheduler every 15 minutes until <paramref name="until"/>; when each user's delivery first was there.</summary>
    private static async Task<Arrivals> RunUntilAsync(FakeTimeProvider time, DateTimeOffset until,
        params (ScheduledRunner Runner, RecordingDeliveryQueue Queue)[] replicas)
    {
        var arrivals = new Arrivals();
        while (time.GetUtcNow() < until)
        {
            time.Advance(TimeSpan.FromMinutes(15));
            await Task.WhenAll(replicas.Select(r => r.Runner.RunDueAsync(CancellationToken.None)));
            foreach (var d in replicas.SelectMany(r => r.Queue.Requests))
            {
                arrivals.First.TryAdd((d.WorkspaceId, d.CustomerId), time.GetUtcNow());
            }
        }
        return arrivals;
    }

    private sealed class Arrivals
    {
        public Dictionary<(string Ws, string Customer), DateTimeOffset> First { get; } = [];

        public DateTimeOffset this[string ws, string customer] => First[(ws, customer)];

        public IEnumerable<string> Users(string ws) => First.Keys.Where(k => k.Ws == ws).Select(k => k.Customer).Order(StringComparer.Ordinal);
    }

    private static Task<Campaign> GetAsync(CampaignsHost host, string ws, string id) =>
        host.Client.GetCampaignAsync(new GetCampaignRequest { WorkspaceId = ws, CampaignId = id }, CampaignsHost.Call).ResponseAsync;

    private async Task<long> StatAsync(string ws, string campaignId, string field)
    {
        await using var redis = await ConnectionMultiplexer.ConnectAsync(fixture.Redis.ConnectionString);
        return (long)await redis.GetDatabase().HashGetAsync($"dlv:{{{ws}}}:stats:{campaignId}", field);
    }

    [Fact]
    public async Task EachUserReceivesAOneTimeCampaignAtTheirLocalTimeAndNotBefore()
    {
        var time = new FakeTimeProvider(new DateTimeOffset(2026, 12, 2, 12, 0, 0, TimeSpan.Zero));
        var queue = new RecordingDeliveryQueue();
        await using var host = fixture.StartCampaigns(time, queue);
        var ws = await UsersAsync("Pacific/Kiritimati", "Europe/Berlin", "America/Los_Angeles");
        var campaign = await host.Client.CreateCampaignAsync(new CreateCampaignRequest
        {
            WorkspaceId = ws, Spec = OneTime("Europe/Berlin", Berlin), Activate = true,
        }, CampaignsHost.Call);
        var runner = host.Get<ScheduledRunner>();

        var afterKiritimati = await RunUntilAsync(time, Kiritimati, (runner, queue));
        var between = await GetAsync(host, ws, campaign.CampaignId);
        var first = await RunUntilAsync(time, LosAngeles.AddHours(12), (runner, queue));
        var stored = await GetAsync(host, ws, campaign.CampaignId);

        Assert.Equal(["Pacific/Kiritimati"], afterKiritimati.Users(ws));
        Assert.Equal(Kiritimati, afterKiritimati[ws, "Pacific/Kiritimati"]);
        // After the first zone's pass the schedule waits for the next zone that has users, not for every offset.
        Assert.Equal(Berlin.ToUnixTimeMilliseconds(), Assert.Single(between.ZoneRuns).NextDueMs);
        Assert.Equal(Berlin, first[ws, "Europe/Berlin"]);
        Assert.Equal(Berlin, first[ws, "no-zone"]);
        Assert.Equal(Berlin, first[ws, "bad-zone"]);
        Assert.Equal(LosAngeles, first[ws, "America/Los_Angeles"]);
        Assert.Equal(5, queue.For(ws).Count);
        Assert.All(queue.For(ws), d => Assert.Equal($"run:{Berlin.ToUnixTimeMilliseconds()}", d.TriggerId));
        Assert.Equal(CampaignState.Completed, stored.State);
        Assert.Empty(stored.ZoneRuns);
        Assert.Equal(1, stored.Runs);
    }

    [Fact]
    public async Task ZonesThatHadPassedAreSkippedWhenTheCampaignSaysSo()
    {
        // Activated at 12:00 UTC on the day, for 10:00 Los Angeles time: Kiritimati's and Berlin's 10:00 are behind.
        var time = new FakeTimeProvider(new DateTimeOffset(2026, 12, 3, 12, 0, 0, TimeSpan.Zero));
        var queue = new RecordingDeliveryQueue();
        await using var host = fixture.StartCampaigns(time, queue);
        var ws = await UsersAsync("Pacific/Kiritimati", "Europe/Berlin", "America/Los_Angeles");
        var campaign = await host.Client.CreateCampaignAsync(new CreateCampaignRequest
        {
            WorkspaceId = ws, Spec = OneTime("America/Los_Angeles", LosAngeles, PassedTimeZoneAction.Skip), Activate = true,
        }, CampaignsHost.Call);

        var first = await RunUntilAsync(time, PagoPago.AddHours(6), (host.Get<ScheduledRunner>(), queue));

        // The users without a valid zone are in the campaign's zone, Los Angeles, whose time had not passed.
        Assert.Equal(["America/Los_Angeles", "bad-zone", "no-zone"], first.Users(ws));
        Assert.All(first.Users(ws), user => Assert.Equal(LosAngeles, first[ws, user]));
        Assert.Equal(3, queue.For(ws).Count);
        Assert.Equal(2, await StatAsync(ws, campaign.CampaignId, "skipped:time_zone_passed"));
        Assert.Equal(CampaignState.Completed, (await GetAsync(host, ws, campaign.CampaignId)).State);
    }

    [Fact]
    public async Task ZonesThatHadPassedGetItAtTheCampaignZoneTimeOrAtOnceWhenThatHadPassedToo()
    {
        var time = new FakeTimeProvider(new DateTimeOffset(2026, 12, 3, 12, 0, 0, TimeSpan.Zero));
        var queue = new RecordingDeliveryQueue();
        await using var host = fixture.StartCampaigns(time, queue);
        var atCampaignTime = await UsersAsync("Pacific/Kiritimati", "Europe/Berlin", "America/Los_Angeles", "Pacific/Pago_Pago");
        var atOnce = await UsersAsync("Pacific/Kiritimati", "America/Los_Angeles");
        await host.Client.CreateCampaignAsync(new CreateCampaignRequest
        {
            WorkspaceId = atCampaignTime, Spec = OneTime("America/Los_Angeles", LosAngeles, PassedTimeZoneAction.SendAtCampaignTime), Activate = true,
        }, CampaignsHost.Call);
        // The default action; Berlin's 10:00 (the campaign's time) is behind as well.
        await host.Client.CreateCampaignAsync(new CreateCampaignRequest
        {
            WorkspaceId = atOnce, Spec = OneTime("Europe/Berlin", Berlin), Activate = true,
        }, CampaignsHost.Call);
        var runner = host.Get<ScheduledRunner>();

        var first = await RunUntilAsync(time, PagoPago.AddHours(6), (runner, queue));
        var started = new DateTimeOffset(2026, 12, 3, 12, 15, 0, TimeSpan.Zero);

        Assert.Equal(LosAngeles, first[atCampaignTime, "Pacific/Kiritimati"]);
        Assert.Equal(LosAngeles, first[atCampaignTime, "Europe/Berlin"]);
        Assert.Equal(LosAngeles, first[atCampaignTime, "America/Los_Angeles"]);
        Assert.Equal(PagoPago, first[atCampaignTime, "Pacific/Pago_Pago"]);
        Assert.Equal(6, queue.For(atCampaignTime).Count);
        // Kiritimati's and Berlin's (and so the zoneless users') 10:00 had passed, and so had the campaign's: at once.
        Assert.Equal(started, first[atOnce, "Pacific/Kiritimati"]);
        Assert.Equal(started, first[atOnce, "no-zone"]);
        Assert.Equal(started, first[atOnce, "bad-zone"]);
        Assert.Equal(LosAngeles, first[atOnce, "America/Los_Angeles"]);
        Assert.Equal(4, queue.For(atOnce).Count);
    }

    [Fact]
    public async Task APeriodicCampaignSendsEachOccurrenceZoneByZoneWhileTheNextOneStartsInTheEast()
    {
        var time = new FakeTimeProvider(new DateTimeOffset(2026, 12, 2, 12, 0, 0, TimeSpan.Zero));
        var queue = new RecordingDeliveryQueue();
        await using var host = fixture.StartCampaigns(time, queue);
        var ws = await UsersAsync("Pacific/Kiritimati", "Europe/Berlin", "Pacific/Pago_Pago");
        var spec = OneTime("", Berlin);
        spec.Periodic = new PeriodicDelivery
        {
            Frequency = Frequency.Daily, TimeOfDay = "10:00", TimeZone = "Europe/Berlin", MaxOccurrences = 2,
            UserTimeZone = new UserTimeZoneDelivery { PassedTimeZoneAction = PassedTimeZoneAction.Skip },
        };
        var campaign = await host.Client.CreateCampaignAsync(new CreateCampaignRequest { WorkspaceId = ws, Spec = spec, Activate = true }, CampaignsHost.Call);
        var runner = host.Get<ScheduledRunner>();

        // Day two opens in Kiritimati (20:00 UTC on the 3rd) before day one reaches Pago Pago (21:00 UTC).
        await RunUntilAsync(time, Kiritimati.AddDays(1), (runner, queue));
        var overlapping = await GetAsync(host, ws, campaign.CampaignId);
        await RunUntilAsync(time, PagoPago.AddDays(2), (runner, queue));
        var stored = await GetAsync(host, ws, campaign.CampaignId);
        var sent = queue.For(ws);

        Assert.Equal(2, overlapping.ZoneRuns.Count);
        Assert.Equal(10, sent.Count);
        var dayOne = $"run:{Berlin.ToUnixTimeMilliseconds()}";
        var dayTwo = $"run:{Berlin.AddDays(1).ToUnixTimeMilliseconds()}";
        Assert.All(sent.GroupBy(d => d.CustomerId), user => Assert.Equal([dayOne, dayTwo], user.Select(d => d.TriggerId).Order(StringComparer.Ordinal)));
        Assert.Equal(CampaignState.Completed, stored.State);
        Assert.Equal(2, stored.Runs);
        Assert.Empty(stored.ZoneRuns);
    }

    [Fact]
    public async Task ARunnerThatDiesMidwayAndASecondReplicaSendNothingTwice()
    {
        var time = new FakeTimeProvider(new DateTimeOffset(2026, 12, 2, 12, 0, 0, TimeSpan.Zero));
        var ws = await UsersAsync("Pacific/Kiritimati", "Europe/Berlin", "America/Los_Angeles", "Europe/Paris", "Africa/Lagos");
        var dying = new RecordingDeliveryQueue();
        var before = fixture.StartCampaigns(time, dying);
        await before.Client.CreateCampaignAsync(new CreateCampaignRequest { WorkspaceId = ws, Spec = OneTime("Europe/Berlin", Berlin), Activate = true },
            CampaignsHost.Call);
        await RunUntilAsync(time, Kiritimati, (before.Get<ScheduledRunner>(), dying));
        // Berlin's pass covers Berlin, Paris, Lagos and the two users without a valid zone; the runner dies after two of them.
        dying.FailAfter = dying.Calls + 2;
        await RunUntilAsync(time, Berlin, (before.Get<ScheduledRunner>(), dying));
        await before.DisposeAsync();

        var queueA = new RecordingDeliveryQueue();
        var queueB = new RecordingDeliveryQueue();
        await using var a = fixture.StartCampaigns(time, queueA);
        await using var b = fixture.StartCampaigns(time, queueB);
        // The dead runner's lease (120 s) runs out and the pass is repeated.
        await RunUntilAsync(time, LosAngeles.AddHours(1), (a.Get<ScheduledRunner>(), queueA), (b.Get<ScheduledRunner>(), queueB));

        var all = dying.For(ws).Concat(queueA.For(ws)).Concat(queueB.For(ws)).ToList();
        Assert.Equal(3, dying.For(ws).Count);
        // Both runners handled the two users before the crash: with the same delivery ids, which the engine records once.
        Assert.Equal(7, all.Select(d => d.DeliveryId).Distinct().Count());
        Assert.Equal(7, all.Select(d => d.CustomerId).Distinct().Count());
        Assert.All(all.GroupBy(d => d.CustomerId), user => Assert.Single(user.Select(d => d.DeliveryId).Distinct()));
        Assert.Equal(7 + 2, all.Count);
        Assert.Empty(queueA.For(ws).Select(d => d.DeliveryId).Intersect(queueB.For(ws).Select(d => d.DeliveryId)));
    }

    [Fact]
    public async Task PausingStopsTheZonesAndResumingSendsThoseThatCameDueMeanwhileAtOnce()
    {
        var time = new FakeTimeProvider(new DateTimeOffset(2026, 12, 2, 12, 0, 0, TimeSpan.Zero));
        var queue = new RecordingDeliveryQueue();
        await using var host = fixture.StartCampaigns(time, queue);
        var ws = await UsersAsync("Pacific/Kiritimati", "Europe/Berlin", "America/Los_Angeles");
        var campaign = await host.Client.CreateCampaignAsync(new CreateCampaignRequest
        {
            WorkspaceId = ws, Spec = OneTime("Europe/Berlin", Berlin, PassedTimeZoneAction.Skip), Activate = true,
        }, CampaignsHost.Call);
        var ids = new CampaignStateRequest { WorkspaceId = ws, CampaignId = campaign.CampaignId };
        var runner = host.Get<ScheduledRunner>();

        await RunUntilAsync(time, Kiritimati, (runner, queue));
        await host.Client.PauseCampaignAsync(ids, CampaignsHost.Call);
        await RunUntilAsync(time, Berlin.AddHours(3), (runner, queue));
        var whilePaused = queue.For(ws).Count;
        var resumedAt = time.GetUtcNow();
        await host.Client.ResumeCampaignAsync(ids, CampaignsHost.Call);
        var first = await RunUntilAsync(time, LosAngeles.AddHours(1), (runner, queue));
        var stored = await GetAsync(host, ws, campaign.CampaignId);

        Assert.Equal(1, whilePaused);
        // Berlin's 10:00 came while the campaign was paused; it had not passed when the occurrence started, so it is sent, late.
        Assert.Equal(resumedAt.AddMinutes(15), first[ws, "Europe/Berlin"]);
        Assert.Equal(resumedAt.AddMinutes(15), first[ws, "no-zone"]);
        Assert.Equal(LosAngeles, first[ws, "America/Los_Angeles"]);
        Assert.Equal(5, queue.For(ws).Count);
        Assert.Equal(1, stored.Runs);
        Assert.Equal(CampaignState.Completed, stored.State);
    }

    [Fact]
    public async Task TheFrequencyCapStillAppliesToEachZonesSends()
    {
        var time = new FakeTimeProvider(new DateTimeOffset(2026, 12, 2, 12, 0, 0, TimeSpan.Zero));
        var queue = new RecordingDeliveryQueue();
        await using var host = fixture.StartCampaigns(time, queue);
        var ws = await UsersAsync("Pacific/Kiritimati", "Europe/Berlin", "America/Los_Angeles");
        await host.Client.UpdateWorkspaceSettingsAsync(new UpdateWorkspaceSettingsRequest
        {
            Settings = new WorkspaceSettings { WorkspaceId = ws, FrequencyCap = new FrequencyCap { PerDay = 1 } },
        }, CampaignsHost.Call);
        var news = new CampaignSpec { Name = "News", BusinessEvent = new BusinessEventDelivery { BusinessEventName = "news" } };
        news.Steps.Add(Specs.HeapTrack(fixture.HeapTrackUrl, Specs.TrackBody("News")));
        await host.Client.CreateCampaignAsync(new CreateCampaignRequest { WorkspaceId = ws, Spec = news, Activate = true }, CampaignsHost.Call);
        await host.Client.TriggerBusinessEventAsync(new TriggerBusinessEventRequest { WorkspaceId = ws, Name = "news", EventId = "n-1" }, CampaignsHost.Call);
        var campaign = await host.Client.CreateCampaignAsync(new CreateCampaignRequest
        {
            WorkspaceId = ws, Spec = OneTime("Europe/Berlin", Berlin), Activate = true,
        }, CampaignsHost.Call);

        var runner = host.Get<ScheduledRunner>();
        IEnumerable<string> Sent() => queue.For(ws).Where(d => d.CampaignId == campaign.CampaignId).Select(d => d.CustomerId).ToList();

        await RunUntilAsync(time, LosAngeles.AddMinutes(-15), (runner, queue));
        var beforeLosAngeles = Sent();
        await RunUntilAsync(time, LosAngeles.AddHours(1), (runner, queue));

        // Within 24 hours of the news every zone's send is capped; Los Angeles's 10:00 (30 hours later) is not.
        Assert.Empty(beforeLosAngeles);
        Assert.Equal(["America/Los_Angeles"], Sent());
        Assert.Equal(4, await StatAsync(ws, campaign.CampaignId, "skipped:frequency_cap"));
    }

    [Theory]
    [InlineData("one_time", "spec.one_time.user_time_zone.passed_time_zone_action")]
    [InlineData("one_time_without_time", "spec.one_time.send_at_ms")]
    [InlineData("one_time_zone", "spec.one_time.time_zone")]
    [InlineData("periodic", "spec.periodic.user_time_zone.passed_time_zone_action")]
    public async Task RejectsABadUserTimeZoneSettingNamingTheField(string shape, string field)
    {
        await using var host = fixture.StartCampaigns(new FakeTimeProvider(Berlin), new RecordingDeliveryQueue());
        var spec = OneTime("Europe/Berlin", Berlin, (PassedTimeZoneAction)7);
        switch (shape)
        {
            case "one_time_without_time":
                spec.OneTime.SendAtMs = 0;
                spec.OneTime.UserTimeZone.PassedTimeZoneAction = PassedTimeZoneAction.Skip;
                break;
            case "one_time_zone":
                spec.OneTime.TimeZone = "Mars/Olympus";
                break;
            case "periodic":
                spec.Periodic = new PeriodicDelivery
                {
                    Frequency = Frequency.Daily, TimeOfDay = "10:00", UserTimeZone = new UserTimeZoneDelivery { PassedTimeZoneAction = (PassedTimeZoneAction)7 },
                };
                break;
        }

        var error = await Assert.ThrowsAsync<RpcException>(() => host.Client.CreateCampaignAsync(
            new CreateCampaignRequest { WorkspaceId = Specs.NewWorkspace(), Spec = spec }, CampaignsHost.Call).ResponseAsync);

        Assert.Equal(StatusCode.InvalidArgument, error.StatusCode);
        Assert.StartsWith(field + ":", error.Status.Detail);
    }
}
