using Integration.Campaigns.Tests.Support;
using Integration.Campaigns.V1;
using Integration.Common.V1;
using Integration.Segments.V1;
using Microsoft.Extensions.Time.Testing;
using CountSegmentRequest = Integration.Campaigns.V1.CountSegmentRequest;
using ListSegmentUsersRequest = Integration.Campaigns.V1.ListSegmentUsersRequest;

namespace Integration.Campaigns.Tests;

/// <summary>Segments evaluated by ingestion over users and events stored through its gRPC API.</summary>
public sealed class SegmentTests(CampaignsFixture fixture) : IClassFixture<CampaignsFixture>
{
    private static readonly DateTimeOffset Now = DateTimeOffset.UtcNow;

    private async Task<string> SeedAsync()
    {
        var ws = Specs.NewWorkspace();
        // ada: 3 purchases, one of them 40 days ago (retroactive); bob: 1 purchase long ago; cy: none, plan pro.
        await fixture.IngestUserAsync(ws, "ada", ("plan", "free"), ("age", 31));
        await fixture.IngestUserAsync(ws, "bob", ("plan", "free"), ("age", 45));
        await fixture.IngestUserAsync(ws, "cy", ("plan", "pro"), ("age", 22));
        await fixture.IngestEventAsync(ws, "ada", "Purchase", Now.AddDays(-1));
        await fixture.IngestEventAsync(ws, "ada", "Purchase", Now.AddDays(-2));
        await fixture.IngestEventAsync(ws, "ada", "Purchase", Now.AddDays(-40));
        await fixture.IngestEventAsync(ws, "bob", "Purchase", Now.AddDays(-100));
        await fixture.IngestEventAsync(ws, "cy", "Login", Now.AddHours(-1));
        return ws;
    }

    private static SegmentDefinition Segment(params Filter[] filters)
    {
        var segment = new SegmentDefinition();
        segment.Filters.AddRange(filters);
        return segment;
    }

    private static Filter Event(string name, EventCondition condition, long withinDays = 0, CountOperator op = CountOperator.Unspecified, long count = 0) =>
        new() { Event = new EventFilter { EventName = name, Condition = condition, WithinLastMs = withinDays * 86_400_000, CountOperator = op, Count = count } };

    private static Filter Attribute(string name, AttributeOperator op, object? value = null) =>
        new() { Attribute = new AttributeFilter { Attribute = name, Operator = op, Value = value is null ? null : CampaignsFixture.Value(value) } };

    private async Task<List<string>> UsersAsync(CampaignsHost host, string ws, SegmentDefinition segment)
    {
        var page = await host.Client.ListSegmentUsersAsync(new ListSegmentUsersRequest { WorkspaceId = ws, Segment = segment }, CampaignsHost.Call);
        return page.Users.Select(u => u.CustomerId).Order().ToList();
    }

    [Fact]
    public async Task FiltersOnDidAndDidNotDoAnEvent()
    {
        await using var host = fixture.StartCampaigns(new FakeTimeProvider(Now), new RecordingDeliveryQueue());
        var ws = await SeedAsync();

        Assert.Equal(["ada", "bob"], await UsersAsync(host, ws, Segment(Event("Purchase", EventCondition.Did))));
        Assert.Equal(["cy"], await UsersAsync(host, ws, Segment(Event("Purchase", EventCondition.DidNot))));
    }

    [Fact]
    public async Task WindowsUseEventTimeSoRetroactiveEventsCount()
    {
        await using var host = fixture.StartCampaigns(new FakeTimeProvider(Now), new RecordingDeliveryQueue());
        var ws = await SeedAsync();

        Assert.Equal(["ada"], await UsersAsync(host, ws, Segment(Event("Purchase", EventCondition.Did, withinDays: 30))));
        Assert.Equal(["ada"], await UsersAsync(host, ws, Segment(Event("Purchase", EventCondition.Count, 60, CountOperator.Exactly, 3))));
        Assert.Equal(["ada"], await UsersAsync(host, ws, Segment(Event("Purchase", EventCondition.Count, 30, CountOperator.Exactly, 2))));
        Assert.Equal(["bob"], await UsersAsync(host, ws, Segment(Event("Purchase", EventCondition.FirstTimeInWindow, withinDays: 365), Event("Purchase", EventCondition.DidNot, 30))));
        Assert.Equal(["ada"], await UsersAsync(host, ws, Segment(Event("Purchase", EventCondition.LastTimeInWindow, withinDays: 7))));
    }

    [Fact]
    public async Task CombinesAttributeAndCountFilters()
    {
        await using var host = fixture.StartCampaigns(new FakeTimeProvider(Now), new RecordingDeliveryQueue());
        var ws = await SeedAsync();

        Assert.Equal(["ada"], await UsersAsync(host, ws, Segment(Attribute("plan", AttributeOperator.Equals, "FREE"), Event("Purchase", EventCondition.Count, 0, CountOperator.AtLeast, 2))));
        Assert.Equal(["bob"], await UsersAsync(host, ws, Segment(Attribute("age", AttributeOperator.GreaterThan, 40))));
        Assert.Equal(["ada", "bob"], await UsersAsync(host, ws, Segment(Attribute("plan", AttributeOperator.NotEquals, "pro"))));
    }

    [Fact]
    public async Task CountsAndPagesASegment()
    {
        await using var host = fixture.StartCampaigns(new FakeTimeProvider(Now), new RecordingDeliveryQueue());
        var ws = await SeedAsync();

        var count = await host.Client.CountSegmentAsync(new CountSegmentRequest { WorkspaceId = ws, Segment = Segment(Attribute("plan", AttributeOperator.Exists)) }, CampaignsHost.Call);
        var first = await host.Client.ListSegmentUsersAsync(new ListSegmentUsersRequest { WorkspaceId = ws, Segment = Segment(), PageSize = 2 }, CampaignsHost.Call);
        var second = await host.Client.ListSegmentUsersAsync(new ListSegmentUsersRequest { WorkspaceId = ws, Segment = Segment(), PageSize = 2, PageToken = first.NextPageToken }, CampaignsHost.Call);

        Assert.Equal(3, count.Matching);
        Assert.Equal(3, count.Total);
        Assert.Equal(2, first.Users.Count);
        Assert.NotEmpty(first.NextPageToken);
        Assert.Single(second.Users);
        Assert.Empty(second.NextPageToken);
        Assert.Equal(3, first.Users.Concat(second.Users).Select(u => u.CustomerId).Distinct().Count());
    }

    [Fact]
    public async Task CountsACampaignsAudience()
    {
        await using var host = fixture.StartCampaigns(new FakeTimeProvider(Now), new RecordingDeliveryQueue());
        var ws = await SeedAsync();
        var spec = new CampaignSpec { Name = "c", BusinessEvent = new BusinessEventDelivery { BusinessEventName = "b" }, Audience = Segment(Event("Login", EventCondition.Did)) };
        spec.Steps.Add(Specs.HeapTrack(fixture.HeapTrackUrl, Specs.TrackBody("x")));
        var campaign = await host.Client.CreateCampaignAsync(new CreateCampaignRequest { WorkspaceId = ws, Spec = spec }, CampaignsHost.Call);

        var count = await host.Client.CountSegmentAsync(new CountSegmentRequest { WorkspaceId = ws, CampaignId = campaign.CampaignId }, CampaignsHost.Call);

        Assert.Equal(1, count.Matching);
    }
}
