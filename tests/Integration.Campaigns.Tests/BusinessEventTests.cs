using Grpc.Core;
using Integration.Campaigns.Tests.Support;
using Integration.Campaigns.V1;
using Integration.Common.V1;
using Integration.Segments.V1;
using Microsoft.Extensions.Time.Testing;

namespace Integration.Campaigns.Tests;

public sealed class BusinessEventTests(CampaignsFixture fixture) : IClassFixture<CampaignsFixture>
{
    private CampaignSpec Spec(string eventName, string body, SegmentDefinition? audience = null)
    {
        var spec = new CampaignSpec { Name = "Sale", BusinessEvent = new BusinessEventDelivery { BusinessEventName = eventName }, Audience = audience };
        spec.Steps.Add(Specs.HeapTrack(fixture.HeapTrackUrl, body));
        return spec;
    }

    [Fact]
    public async Task WithoutAnActiveCampaignTheEventIsAFailedPrecondition()
    {
        await using var host = fixture.StartCampaigns(new FakeTimeProvider(DateTimeOffset.UtcNow), new RecordingDeliveryQueue());
        var ws = Specs.NewWorkspace();
        await host.Client.CreateCampaignAsync(new CreateCampaignRequest { WorkspaceId = ws, Spec = Spec("flash-sale", Specs.TrackBody("x")) }, CampaignsHost.Call);

        var ex = await Assert.ThrowsAsync<RpcException>(async () => await host.Client.TriggerBusinessEventAsync(
            new TriggerBusinessEventRequest { WorkspaceId = ws, Name = "flash-sale" }, CampaignsHost.Call));

        Assert.Equal(StatusCode.FailedPrecondition, ex.StatusCode);
    }

    [Fact]
    public async Task SendsToTheAudienceWithTheEventsAttributesAndCountsSkips()
    {
        var queue = new RecordingDeliveryQueue();
        await using var host = fixture.StartCampaigns(new FakeTimeProvider(DateTimeOffset.UtcNow), queue);
        var ws = Specs.NewWorkspace();
        await fixture.IngestUserAsync(ws, "ada", ("first_name", "Ada"), ("plan", "pro"));
        await fixture.IngestUserAsync(ws, "bob", ("plan", "pro"));
        await fixture.IngestUserAsync(ws, "cy", ("first_name", "Cy"), ("plan", "free"));
        var audience = new SegmentDefinition();
        audience.Filters.Add(new Filter { Attribute = new AttributeFilter { Attribute = "plan", Operator = AttributeOperator.Equals, Value = CampaignsFixture.Value("pro") } });
        var body = Specs.TrackBody("Sale", "{\"name\":\"{{UserAttribute['First Name']}}\",\"sale\":\"{{BusinessEventAttribute['sale_name']}}\"}");
        var campaign = await host.Client.CreateCampaignAsync(new CreateCampaignRequest { WorkspaceId = ws, Spec = Spec("flash-sale", body, audience), Activate = true }, CampaignsHost.Call);

        var response = await host.Client.TriggerBusinessEventAsync(new TriggerBusinessEventRequest
        {
            WorkspaceId = ws, Name = "flash-sale", EventId = "e-1", Attributes = { ["sale_name"] = CampaignsFixture.Value("Spring") },
        }, CampaignsHost.Call);
        await host.Client.TriggerBusinessEventAsync(new TriggerBusinessEventRequest
        {
            WorkspaceId = ws, Name = "flash-sale", EventId = "e-1", Attributes = { ["sale_name"] = CampaignsFixture.Value("Spring") },
        }, CampaignsHost.Call);

        var summary = Assert.Single(response.Campaigns);
        Assert.Equal(campaign.CampaignId, summary.CampaignId);
        Assert.Equal(1, summary.Enqueued);
        Assert.Equal(1, summary.Skipped);
        Assert.Equal(1, summary.SkipReasons["UserAttribute['First Name'] is null and has no default"]);
        var delivery = Assert.Single(queue.For(ws));
        Assert.Equal("ada", delivery.CustomerId);
        Assert.Contains("\"sale\":\"Spring\"", delivery.Body);
        Assert.Equal("application/json", delivery.ContentType);
        Assert.Equal(2, queue.Calls);
        var stats = await StackExchange.Redis.ConnectionMultiplexer.Connect(fixture.Redis.ConnectionString).GetDatabase()
            .HashGetAllAsync($"dlv:{{{ws}}}:stats:{campaign.CampaignId}");
        Assert.Contains(stats, e => e.Name.ToString().Contains("first name", StringComparison.Ordinal) && (int)e.Value == 2);
    }

    [Fact]
    public async Task OneTimeCampaignsDeduplicateUsersOnAnAttribute()
    {
        var queue = new RecordingDeliveryQueue();
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var host = fixture.StartCampaigns(time, queue);
        var ws = Specs.NewWorkspace();
        await fixture.IngestUserAsync(ws, "u1", ("email", "same@example.com"));
        await fixture.IngestUserAsync(ws, "u2", ("email", "SAME@example.com"));
        await fixture.IngestUserAsync(ws, "u3", ("email", "other@example.com"));
        var spec = new CampaignSpec { Name = "Once", OneTime = new OneTimeDelivery(), Options = new CampaignOptions { DedupAttribute = "email" } };
        spec.Steps.Add(Specs.HeapTrack(fixture.HeapTrackUrl, Specs.TrackBody("Once")));
        await host.Client.CreateCampaignAsync(new CreateCampaignRequest { WorkspaceId = ws, Spec = spec, Activate = true }, CampaignsHost.Call);

        await host.Get<Runner.ScheduledRunner>().RunDueAsync(CancellationToken.None);

        Assert.Equal(["u1", "u3"], queue.For(ws).Select(d => d.CustomerId).Order().ToArray());
    }
}
