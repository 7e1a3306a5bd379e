using Grpc.Core;
using Integration.Campaigns.Tests.Support;
using Integration.Campaigns.V1;
using Microsoft.Extensions.Time.Testing;
using StackExchange.Redis;

namespace Integration.Campaigns.Tests;

/// <summary>Frequency capping and do-not-disturb, on real Redis with the campaigns' clock in the test's hands.</summary>
public sealed class CampaignControlsTests(CampaignsFixture fixture) : IClassFixture<CampaignsFixture>
{
    // A Monday, 12:00 UTC: 13:00 in Berlin, 07:00 in New York.
    private static readonly DateTimeOffset Noon = new(2026, 11, 30, 12, 0, 0, TimeSpan.Zero);

    private async Task<Campaign> CreateAsync(CampaignsHost host, string ws, string eventName, CampaignOptions? options = null)
    {
        var spec = new CampaignSpec { Name = eventName, BusinessEvent = new BusinessEventDelivery { BusinessEventName = eventName }, Options = options };
        spec.Steps.Add(Specs.HeapTrack(fixture.HeapTrackUrl, Specs.TrackBody(eventName)));
        return await host.Client.CreateCampaignAsync(new CreateCampaignRequest { WorkspaceId = ws, Spec = spec, Activate = true }, CampaignsHost.Call);
    }

    private static async Task<CampaignSendSummary> RaiseAsync(CampaignsHost host, string ws, string name, string id) =>
        Assert.Single((await host.Client.TriggerBusinessEventAsync(new TriggerBusinessEventRequest { WorkspaceId = ws, Name = name, EventId = id },
            CampaignsHost.Call)).Campaigns);

    private static Task SetCapAsync(CampaignsHost host, string ws, FrequencyCap cap, string timeZone = "") =>
        host.Client.UpdateWorkspaceSettingsAsync(new UpdateWorkspaceSettingsRequest
        {
            Settings = new WorkspaceSettings { WorkspaceId = ws, FrequencyCap = cap, TimeZone = timeZone },
        }, CampaignsHost.Call).ResponseAsync;

    [Fact]
    public async Task CapsSendsPerUserAcrossCampaignsInARollingDay()
    {
        var time = new FakeTimeProvider(Noon);
        var queue = new RecordingDeliveryQueue();
        await using var host = fixture.StartCampaigns(time, queue);
        var ws = Specs.NewWorkspace();
        await fixture.IngestUserAsync(ws, "ada");
        await SetCapAsync(host, ws, new FrequencyCap { PerDay = 2 });
        await CreateAsync(host, ws, "sale");
        await CreateAsync(host, ws, "news");

        var first = await RaiseAsync(host, ws, "sale", "s-1");
        var second = await RaiseAsync(host, ws, "news", "n-1");
        var repeat = await RaiseAsync(host, ws, "sale", "s-1");
        var third = await RaiseAsync(host, ws, "sale", "s-2");
        time.Advance(TimeSpan.FromHours(23));
        var stillCapped = await RaiseAsync(host, ws, "news", "n-2");
        time.Advance(TimeSpan.FromHours(1) + TimeSpan.FromMinutes(1));
        var afterTheDay = await RaiseAsync(host, ws, "news", "n-3");

        Assert.Equal([1, 1, 1, 0, 0, 1], new[] { first, second, repeat, third, stillCapped, afterTheDay }.Select(s => s.Enqueued));
        Assert.Equal(1, third.SkipReasons["frequency_cap"]);
        Assert.Equal(3, queue.For(ws).Count);
        var db = (await ConnectionMultiplexer.ConnectAsync(fixture.Redis.ConnectionString)).GetDatabase();
        Assert.Equal(1, (long)await db.HashGetAsync($"dlv:{{{ws}}}:stats:{third.CampaignId}", "skipped:frequency_cap"));
    }

    [Fact]
    public async Task ACampaignOverrideOrExemptionReplacesTheWorkspaceCap()
    {
        var time = new FakeTimeProvider(Noon);
        await using var host = fixture.StartCampaigns(time, new RecordingDeliveryQueue());
        var ws = Specs.NewWorkspace();
        await fixture.IngestUserAsync(ws, "ada");
        await SetCapAsync(host, ws, new FrequencyCap { PerHour = 1 });
        await CreateAsync(host, ws, "looser", new CampaignOptions { FrequencyCap = new FrequencyCap { PerHour = 3 } });
        await CreateAsync(host, ws, "exempt", new CampaignOptions { FrequencyCapExempt = true });

        var looser = new List<int>();
        for (var i = 0; i < 4; i++)
        {
            looser.Add((await RaiseAsync(host, ws, "looser", $"l-{i}")).Enqueued);
        }
        var exempt = new List<int>();
        for (var i = 0; i < 3; i++)
        {
            exempt.Add((await RaiseAsync(host, ws, "exempt", $"x-{i}")).Enqueued);
        }

        Assert.Equal([1, 1, 1, 0], looser);
        Assert.Equal([1, 1, 1], exempt);
    }

    [Fact]
    public async Task TestSendsAreNeitherCappedNorCounted()
    {
        var time = new FakeTimeProvider(Noon);
        await using var host = fixture.StartCampaigns(time, new RecordingDeliveryQueue());
        var ws = Specs.NewWorkspace();
        await fixture.IngestUserAsync(ws, "ada");
        await SetCapAsync(host, ws, new FrequencyCap { PerWeek = 1 });
        var campaign = await CreateAsync(host, ws, "sale");

        for (var i = 0; i < 2; i++)
        {
            var test = await host.Client.TestCampaignAsync(new TestCampaignRequest { WorkspaceId = ws, CampaignId = campaign.CampaignId, CustomerId = "ada" }, CampaignsHost.Call);
            Assert.Equal(200, test.Response.StatusCode);
        }
        var real = await RaiseAsync(host, ws, "sale", "s-1");

        Assert.Equal(1, real.Enqueued);
    }

    [Fact]
    public async Task TheCapIsSharedByReplicas()
    {
        var time = new FakeTimeProvider(Noon);
        await using var one = fixture.StartCampaigns(time, new RecordingDeliveryQueue());
        await using var two = fixture.StartCampaigns(time, new RecordingDeliveryQueue());
        var ws = Specs.NewWorkspace();
        await fixture.IngestUserAsync(ws, "ada");
        await SetCapAsync(one, ws, new FrequencyCap { PerHour = 1 });
        await CreateAsync(one, ws, "sale");

        var fromOne = await RaiseAsync(one, ws, "sale", "s-1");
        var fromTwo = await RaiseAsync(two, ws, "sale", "s-2");

        Assert.Equal(1, fromOne.Enqueued);
        Assert.Equal(0, fromTwo.Enqueued);
        Assert.Equal(1, fromTwo.SkipReasons["frequency_cap"]);
    }

    [Fact]
    public async Task QuietHoursHoldASendUntilTheWindowEndsInTheUsersZoneKeepingItsId()
    {
        var time = new FakeTimeProvider(Noon);
        var queue = new RecordingDeliveryQueue();
        await using var host = fixture.StartCampaigns(time, queue);
        var ws = Specs.NewWorkspace();
        await fixture.IngestUserAsync(ws, "ny", ("timezone", "America/New_York"));
        await fixture.IngestUserAsync(ws, "berlin", ("timezone", "Europe/Berlin"));
        await fixture.IngestUserAsync(ws, "nozone");
        await SetCapAsync(host, ws, new FrequencyCap { PerDay = 10 }, timeZone: "Asia/Tokyo");
        var quiet = new QuietHours { Start = "22:00", End = "08:00", Zone = QuietHoursZone.User, Action = QuietHoursAction.Hold };
        var campaign = await CreateAsync(host, ws, "sale", new CampaignOptions { QuietHours = quiet });

        var summary = await RaiseAsync(host, ws, "sale", "s-1");

        Assert.Equal(3, summary.Enqueued);
        var byUser = queue.For(ws).ToDictionary(d => d.CustomerId);
        // 07:00 in New York: held until 08:00 there (13:00 UTC); 13:00 in Berlin: now.
        Assert.Equal(new DateTimeOffset(2026, 11, 30, 13, 0, 0, TimeSpan.Zero), byUser["ny"].NotBefore);
        Assert.Null(byUser["berlin"].NotBefore);
        // No zone: the workspace's, Tokyo, 21:00 — outside the window.
        Assert.Null(byUser["nozone"].NotBefore);
        Assert.Equal(Integration.Campaigns.Delivery.DeliveryIds.For(campaign.CampaignId, 0, "ny", "biz:s-1"), byUser["ny"].DeliveryId);
    }

    [Fact]
    public async Task QuietHoursCanDropInsteadInTheWorkspaceZone()
    {
        var time = new FakeTimeProvider(Noon);
        await using var host = fixture.StartCampaigns(time, new RecordingDeliveryQueue());
        var ws = Specs.NewWorkspace();
        await fixture.IngestUserAsync(ws, "ada", ("timezone", "Europe/Berlin"));
        await SetCapAsync(host, ws, new FrequencyCap { PerHour = 5 }, timeZone: "America/New_York");
        var quiet = new QuietHours { Start = "21:00", End = "09:00", Action = QuietHoursAction.Drop };
        await CreateAsync(host, ws, "sale", new CampaignOptions { QuietHours = quiet });

        var dropped = await RaiseAsync(host, ws, "sale", "s-1");
        time.Advance(TimeSpan.FromHours(2));
        var sent = await RaiseAsync(host, ws, "sale", "s-2");

        Assert.Equal(0, dropped.Enqueued);
        Assert.Equal(1, dropped.SkipReasons["quiet_hours"]);
        Assert.Equal(1, sent.Enqueued);
    }

    public static TheoryData<string, CampaignOptions> BadOptions => new()
    {
        { "spec.options.frequency_cap.per_day", new CampaignOptions { FrequencyCap = new FrequencyCap { PerDay = 1001 } } },
        { "spec.options.frequency_cap", new CampaignOptions { FrequencyCap = new FrequencyCap() } },
        { "spec.options.frequency_cap", new CampaignOptions { FrequencyCap = new FrequencyCap { PerDay = 1 }, FrequencyCapExempt = true } },
        { "spec.options.quiet_hours.start", new CampaignOptions { QuietHours = new QuietHours { Start = "25:00", End = "08:00" } } },
        { "spec.options.quiet_hours.end", new CampaignOptions { QuietHours = new QuietHours { Start = "08:00", End = "08:00" } } },
        { "spec.options.quiet_hours.action", new CampaignOptions { QuietHours = new QuietHours { Start = "22:00", End = "08:00", Action = (QuietHoursAction)9 } } },
    };

    [Theory]
    [MemberData(nameof(BadOptions))]
    public async Task RefusesBadControlsNamingTheField(string field, CampaignOptions options)
    {
        await using var host = fixture.StartCampaigns(new FakeTimeProvider(Noon), new RecordingDeliveryQueue());

        var ex = await Assert.ThrowsAsync<RpcException>(() => CreateAsync(host, Specs.NewWorkspace(), "sale", options));

        Assert.Equal(StatusCode.InvalidArgument, ex.StatusCode);
        Assert.StartsWith(field + ":", ex.Status.Detail);
    }

    [Fact]
    public async Task RefusesBadWorkspaceSettingsNamingTheField()
    {
        await using var host = fixture.StartCampaigns(new FakeTimeProvider(Noon), new RecordingDeliveryQueue());
        var ws = Specs.NewWorkspace();

        var zone = await Assert.ThrowsAsync<RpcException>(() => host.Client.UpdateWorkspaceSettingsAsync(new UpdateWorkspaceSettingsRequest
        {
            Settings = new WorkspaceSettings { WorkspaceId = ws, TimeZone = "Mars/Olympus" },
        }, CampaignsHost.Call).ResponseAsync);
        var cap = await Assert.ThrowsAsync<RpcException>(() => SetCapAsync(host, ws, new FrequencyCap { PerHour = -1 }));
        var stored = await host.Client.GetWorkspaceSettingsAsync(new GetWorkspaceSettingsRequest { WorkspaceId = ws }, CampaignsHost.Call);

        Assert.StartsWith("settings.time_zone:", zone.Status.Detail);
        Assert.StartsWith("settings.frequency_cap.per_hour:", cap.Status.Detail);
        Assert.Null(stored.FrequencyCap);
    }

    [Fact]
    public async Task TheCapLogOfAUserIsBoundedAndExpires()
    {
        var time = new FakeTimeProvider(Noon);
        await using var host = fixture.StartCampaigns(time, new RecordingDeliveryQueue());
        var ws = Specs.NewWorkspace();
        await fixture.IngestUserAsync(ws, "ada");
        await SetCapAsync(host, ws, new FrequencyCap { PerHour = 2 });
        await CreateAsync(host, ws, "sale");

        for (var i = 0; i < 5; i++)
        {
            await RaiseAsync(host, ws, "sale", $"s-{i}");
        }
        var db = (await ConnectionMultiplexer.ConnectAsync(fixture.Redis.ConnectionString)).GetDatabase();
        var key = $"fcap:{{{ws}}}:ada";

        Assert.Equal(2, await db.SortedSetLengthAsync(key));
        var ttl = await db.KeyTimeToLiveAsync(key);
        Assert.InRange(ttl!.Value, TimeSpan.FromMinutes(59), TimeSpan.FromHours(1));
    }
}
