using Google.Protobuf;
using Grpc.Core;
using Integration.Campaigns.Tests.Support;
using Integration.Campaigns.V1;
using Integration.Common.V1;
using Microsoft.Extensions.Time.Testing;
using CountSegmentRequest = Integration.Campaigns.V1.CountSegmentRequest;
using ListSegmentUsersRequest = Integration.Campaigns.V1.ListSegmentUsersRequest;

namespace Integration.Campaigns.Tests;

/// <summary>
/// The segment builder (nested groups, property filters, the wider operators) evaluated by ingestion on real
/// Redis through the campaigns API, with the campaigns' clock fixed.
/// </summary>
public sealed class SegmentBuilderTests(CampaignsFixture fixture) : IClassFixture<CampaignsFixture>
{
    private static readonly DateTimeOffset Now = DateTimeOffset.UtcNow;
    private const long Day = 86_400_000;

    private async Task<string> SeedAsync()
    {
        var ws = Specs.NewWorkspace();
        // ada: shoes twice and a hat this month; bob: shoes once, 40 days ago; cy: nothing, renewal due in 5 days.
        await fixture.IngestUserAsync(ws, "ada", ("plan", "pro-annual"), ("age", 31), ("email", "ada@example.com"), ("signed_up", Now.AddDays(-3).ToString("O")));
        await fixture.IngestUserAsync(ws, "bob", ("plan", "free"), ("age", 45), ("email", "bob@corp.test"), ("signed_up", Now.AddDays(-200).ToUnixTimeSeconds()));
        await fixture.IngestUserAsync(ws, "cy", ("plan", ""), ("age", 22), ("email", "cy@example.com"), ("renews_at", Now.AddDays(5).ToUnixTimeMilliseconds()));
        await fixture.IngestEventAsync(ws, "ada", "Purchased", Now.AddDays(-1), ("category", "Shoes"), ("amount", 120));
        await fixture.IngestEventAsync(ws, "ada", "Purchased", Now.AddDays(-10), ("category", "shoes"), ("amount", 80));
        await fixture.IngestEventAsync(ws, "ada", "Purchased", Now.AddDays(-12), ("category", "hats"), ("amount", 20));
        await fixture.IngestEventAsync(ws, "bob", "Purchased", Now.AddDays(-40), ("category", "shoes"), ("amount", 60));
        return ws;
    }

    private static SegmentDefinition Segment(bool any, params Filter[] filters)
    {
        var segment = new SegmentDefinition { MatchAny = any };
        segment.Filters.AddRange(filters);
        return segment;
    }

    private static Filter Group(bool any, bool negate, params Filter[] filters)
    {
        var group = new FilterGroup { MatchAny = any, Negate = negate };
        group.Filters.AddRange(filters);
        return new Filter { Group = group };
    }

    private static AttributeFilter Condition(string name, AttributeOperator op, object? value = null, object? valueTo = null, params object[] values)
    {
        var filter = new AttributeFilter
        {
            Attribute = name,
            Operator = op,
            Value = value is null ? null : CampaignsFixture.Value(value),
            ValueTo = valueTo is null ? null : CampaignsFixture.Value(valueTo),
        };
        filter.Values.AddRange(values.Select(CampaignsFixture.Value));
        return filter;
    }

    private static Filter Attribute(string name, AttributeOperator op, object? value = null, object? valueTo = null, params object[] values) =>
        new() { Attribute = Condition(name, op, value, valueTo, values) };

    private static Filter Purchased(EventCondition condition, CountOperator op = CountOperator.Unspecified, long count = 0, long countTo = 0,
        int days = 0, params AttributeFilter[] properties)
    {
        var filter = new EventFilter { EventName = "Purchased", Condition = condition, CountOperator = op, Count = count, CountTo = countTo, WithinLastDays = days };
        filter.PropertyFilters.AddRange(properties);
        return new Filter { Event = filter };
    }

    private async Task<List<string>> UsersAsync(string ws, SegmentDefinition segment)
    {
        await using var host = fixture.StartCampaigns(new FakeTimeProvider(Now), new RecordingDeliveryQueue());
        var page = await host.Client.ListSegmentUsersAsync(new ListSegmentUsersRequest { WorkspaceId = ws, Segment = segment }, CampaignsHost.Call);
        // A count reads the stored facts its own way (no User built): it must agree with the listing on every condition.
        var count = await host.Client.CountSegmentAsync(new CountSegmentRequest { WorkspaceId = ws, Segment = segment }, CampaignsHost.Call);
        Assert.Equal(page.Users.Count, count.Matching);
        return page.Users.Select(u => u.CustomerId).Order().ToList();
    }

    [Fact]
    public async Task CountsOnlyEventsWhosePropertiesMatchWithinTheWindow()
    {
        var ws = await SeedAsync();
        var shoes = Condition("category", AttributeOperator.Equals, "SHOES");

        Assert.Equal(["ada"], await UsersAsync(ws, Segment(false, Purchased(EventCondition.Count, CountOperator.AtLeast, 2, days: 30, properties: shoes))));
        Assert.Equal(["ada", "bob"], await UsersAsync(ws, Segment(false, Purchased(EventCondition.Did, properties: shoes))));
        Assert.Equal(["bob", "cy"], await UsersAsync(ws, Segment(false, Purchased(EventCondition.DidNot, days: 30, properties: shoes))));
        Assert.Equal(["ada"], await UsersAsync(ws, Segment(false, Purchased(EventCondition.Count, CountOperator.Exactly, 1, properties:
            [Condition("amount", AttributeOperator.Between, 100, 200)]))));
    }

    [Fact]
    public async Task ComparesCountsBetweenBoundsAndWindowsBetweenDates()
    {
        var ws = await SeedAsync();
        var between = new EventFilter
        {
            EventName = "Purchased",
            Condition = EventCondition.Did,
            FromMs = Now.AddDays(-45).ToUnixTimeMilliseconds(),
            ToMs = Now.AddDays(-30).ToUnixTimeMilliseconds(),
        };

        Assert.Equal(["ada"], await UsersAsync(ws, Segment(false, Purchased(EventCondition.Count, CountOperator.Between, 2, 5))));
        Assert.Equal(["ada", "bob"], await UsersAsync(ws, Segment(false, Purchased(EventCondition.Count, CountOperator.Between, 1, 3))));
        Assert.Equal(["bob"], await UsersAsync(ws, Segment(false, new Filter { Event = between })));
    }

    [Fact]
    public async Task NestsAndOrAndNotGroups()
    {
        var ws = await SeedAsync();

        // (plan starts with "pro" OR age >= 45) AND NOT (email ends with "@corp.test")
        var segment = Segment(false,
            Group(true, false, Attribute("plan", AttributeOperator.StartsWith, "PRO"), Attribute("age", AttributeOperator.GreaterOrEqual, 45)),
            Group(false, true, Attribute("email", AttributeOperator.EndsWith, "@corp.test")));
        // Two levels down: cy only (age <= 30 AND NOT did purchase).
        var nested = Segment(true, Group(false, false, Attribute("age", AttributeOperator.LessOrEqual, 30),
            Group(false, true, Purchased(EventCondition.Did))));

        Assert.Equal(["ada"], await UsersAsync(ws, segment));
        Assert.Equal(["cy"], await UsersAsync(ws, nested));
    }

    [Fact]
    public async Task AppliesTheWiderAttributeOperators()
    {
        var ws = await SeedAsync();

        Assert.Equal(["bob", "cy"], await UsersAsync(ws, Segment(false, Attribute("plan", AttributeOperator.NotContains, "annual"))));
        Assert.Equal(["ada", "bob"], await UsersAsync(ws, Segment(false, Attribute("plan", AttributeOperator.InList, values: ["FREE", "pro-annual"]))));
        Assert.Equal(["cy"], await UsersAsync(ws, Segment(false, Attribute("plan", AttributeOperator.NotInList, values: ["free", "pro-annual"]))));
        Assert.Equal(["cy"], await UsersAsync(ws, Segment(false, Attribute("plan", AttributeOperator.IsEmpty))));
        Assert.Equal(["ada", "bob"], await UsersAsync(ws, Segment(false, Attribute("age", AttributeOperator.Between, 30, 45))));
        Assert.Equal(["ada", "bob"], await UsersAsync(ws, Segment(false, Attribute("email", AttributeOperator.IsNotEmpty), Attribute("age", AttributeOperator.GreaterThan, 30))));
    }

    [Fact]
    public async Task ReadsDateAttributesWithinTheLastOrNextDays()
    {
        var ws = await SeedAsync();

        Assert.Equal(["ada"], await UsersAsync(ws, Segment(false, Attribute("signed_up", AttributeOperator.WithinLastDays, 7))));
        Assert.Equal(["ada", "bob"], await UsersAsync(ws, Segment(false, Attribute("signed_up", AttributeOperator.WithinLastDays, 365))));
        Assert.Equal(["cy"], await UsersAsync(ws, Segment(false, Attribute("renews_at", AttributeOperator.WithinNextDays, 7))));
        Assert.Empty(await UsersAsync(ws, Segment(false, Attribute("renews_at", AttributeOperator.WithinNextDays, 3))));
    }

    [Fact]
    public async Task HeapSegmentConditionsSelectTheUsersHeapSyncedIntoTheSegment()
    {
        var ws = await SeedAsync();
        var ingestion = new Ingestion.V1.Ingestion.IngestionClient(fixture.IngestionChannel);
        var page = new Ingestion.V1.SyncSegmentRequest
        {
            WorkspaceId = ws, ConfigName = "test", Action = Ingestion.V1.SegmentSyncAction.Sync, SegmentId = 1338065,
            SegmentName = "Free Customers", SyncTaskId = "t1", PageNumber = 1, TotalPages = 1,
            Add = { new Ingestion.V1.SegmentSyncUser { CustomerId = "ada" }, new Ingestion.V1.SegmentSyncUser { CustomerId = "bob" } },
        };
        await ingestion.SyncSegmentAsync(page, deadline: CampaignsFixture.Deadline());
        await ingestion.SyncSegmentAsync(new Ingestion.V1.SyncSegmentRequest
        {
            WorkspaceId = ws, ConfigName = "test", Action = Ingestion.V1.SegmentSyncAction.Sync, SegmentId = 1338065,
            SegmentName = "Free Customers", SyncTaskId = "t2", PageNumber = 1, TotalPages = 1, Remove = { "bob" },
        }, deadline: CampaignsFixture.Deadline());
        var inSegment = new Filter { HeapSegment = new HeapSegmentFilter { SegmentId = "1338065" } };
        var notIn = new Filter { HeapSegment = new HeapSegmentFilter { SegmentId = "1338065", NotIn = true } };
        var otherSegment = new Filter { HeapSegment = new HeapSegmentFilter { SegmentId = "42" } };

        Assert.Equal(["ada"], await UsersAsync(ws, Segment(false, inSegment)));
        Assert.Equal(["bob", "cy"], await UsersAsync(ws, Segment(false, notIn)));
        Assert.Empty(await UsersAsync(ws, Segment(false, otherSegment)));
        Assert.Equal(["ada"], await UsersAsync(ws, Segment(false, inSegment, Attribute("plan", AttributeOperator.Equals, "pro-annual"))));
    }

    [Fact]
    public async Task AnAudienceSavedInTheFlatFormStillLoadsAndMatches()
    {
        var ws = await SeedAsync();
        // As campaigns stored audiences before groups existed (protobuf JSON of integration.segments.v1).
        const string saved = """
            {"filters":[{"attribute":{"attribute":"plan","operator":"ATTRIBUTE_OPERATOR_EQUALS","value":{"stringValue":"free"}}},
                        {"event":{"eventName":"Purchased","condition":"EVENT_CONDITION_COUNT","countOperator":"COUNT_OPERATOR_AT_LEAST","count":"1","withinLastMs":"5184000000"}}],
             "matchAny":false}
            """;
        var legacy = JsonParser.Default.Parse<SegmentDefinition>(saved);

        Assert.Equal(["bob"], await UsersAsync(ws, legacy));
    }

    public static TheoryData<string, Action<SegmentDefinition>> Invalid => new()
    {
        { "segment.filters[1].group.filters[0].attribute.value", s => s.Filters.Add(Group(false, false, Attribute("age", AttributeOperator.GreaterThan, "old"))) },
        { "segment.filters[1].group.filters[0].attribute.value_to", s => s.Filters.Add(Group(false, false, Attribute("age", AttributeOperator.Between, 50, 10))) },
        { "segment.filters[1].attribute.values", s => s.Filters.Add(Attribute("plan", AttributeOperator.InList)) },
        { "segment.filters[1].attribute.value", s => s.Filters.Add(Attribute("d", AttributeOperator.WithinLastDays, 1.5)) },
        { "segment.filters[1].group.filters", s => s.Filters.Add(Group(false, false)) },
        { "segment.filters[1].group.filters[0].group.filters[0].group.filters[0].group", s => s.Filters.Add(
            Group(false, false, Group(false, false, Group(false, false, Group(false, false, Attribute("a", AttributeOperator.Exists)))))) },
        { "segment.filters[1].event.property_filters[0].operator", s => s.Filters.Add(Purchased(EventCondition.Did, properties: new AttributeFilter { Attribute = "x" })) },
        { "segment.filters[1].event.count_to", s => s.Filters.Add(Purchased(EventCondition.Count, CountOperator.Between, 5, 2)) },
        { "segment.filters[1].event.property_filters", s => s.Filters.Add(Purchased(EventCondition.FirstTimeInWindow, days: 3, properties: Condition("x", AttributeOperator.Exists))) },
        { "segment.filters[1].heap_segment.segment_id", s => s.Filters.Add(new Filter { HeapSegment = new HeapSegmentFilter() }) },
        { "segment.filters[1]", s => s.Filters.Add(new Filter()) },
        { "segment.filters[1].group.filters[49]", s => s.Filters.Add(Group(true, false, [.. Enumerable.Range(0, 50).Select(_ => Attribute("a", AttributeOperator.Exists))])) },
    };

    [Theory]
    [MemberData(nameof(Invalid))]
    public async Task RefusesABadDefinitionNamingThePath(string path, Action<SegmentDefinition> spoil)
    {
        await using var host = fixture.StartCampaigns(new FakeTimeProvider(Now), new RecordingDeliveryQueue());
        var segment = Segment(false, Attribute("plan", AttributeOperator.Exists));
        spoil(segment);

        var ex = await Assert.ThrowsAsync<RpcException>(async () =>
            await host.Client.ListSegmentUsersAsync(new ListSegmentUsersRequest { WorkspaceId = Specs.NewWorkspace(), Segment = segment }, CampaignsHost.Call));

        Assert.Equal(StatusCode.InvalidArgument, ex.StatusCode);
        Assert.StartsWith(path + ":", ex.Status.Detail);
    }

    [Fact]
    public async Task RefusesABadAudienceWhenACampaignIsSaved()
    {
        await using var host = fixture.StartCampaigns(new FakeTimeProvider(Now), new RecordingDeliveryQueue());
        var spec = new CampaignSpec
        {
            Name = "c",
            BusinessEvent = new BusinessEventDelivery { BusinessEventName = "b" },
            Audience = Segment(false, Group(true, false, Purchased(EventCondition.Did, properties: Condition("amount", AttributeOperator.LessOrEqual, "cheap")))),
        };
        spec.Steps.Add(Specs.HeapTrack(fixture.HeapTrackUrl, Specs.TrackBody("x")));

        var ex = await Assert.ThrowsAsync<RpcException>(async () =>
            await host.Client.CreateCampaignAsync(new CreateCampaignRequest { WorkspaceId = Specs.NewWorkspace(), Spec = spec }, CampaignsHost.Call));

        Assert.Equal(StatusCode.InvalidArgument, ex.StatusCode);
        Assert.StartsWith("spec.audience.filters[0].group.filters[0].event.property_filters[0].value: a number", ex.Status.Detail);
    }
}
