using Grpc.Core;
using Integration.Campaigns.Tests.Support;
using Integration.Campaigns.V1;
using Integration.Common.V1;
using Microsoft.Extensions.Time.Testing;

namespace Integration.Campaigns.Tests;

public sealed class CampaignApiTests(CampaignsFixture fixture) : IClassFixture<CampaignsFixture>
{
    private CampaignSpec TrackSpec(string name = "Welcome", string? body = null, params (string, string)[] headers)
    {
        var spec = new CampaignSpec { Name = name, BusinessEvent = new BusinessEventDelivery { BusinessEventName = "sale" } };
        spec.Steps.Add(Specs.HeapTrack(fixture.HeapTrackUrl, body ?? Specs.TrackBody("Welcome"), 0, headers));
        return spec;
    }

    [Fact]
    public async Task CreatesGetsAndListsACampaignWithSecretsRedacted()
    {
        await using var host = fixture.StartCampaigns(new FakeTimeProvider(DateTimeOffset.UtcNow), new RecordingDeliveryQueue());
        var ws = Specs.NewWorkspace();

        var created = await host.Client.CreateCampaignAsync(new CreateCampaignRequest
        {
            WorkspaceId = ws,
            Spec = TrackSpec(headers: [("Authorization", "Bearer s3cret"), ("X-Trace", "plain")]),
        }, CampaignsHost.Call);
        var fetched = await host.Client.GetCampaignAsync(new GetCampaignRequest { WorkspaceId = ws, CampaignId = created.CampaignId }, CampaignsHost.Call);
        var listed = await host.Client.ListCampaignsAsync(new ListCampaignsRequest { WorkspaceId = ws }, CampaignsHost.Call);

        Assert.Equal(CampaignState.Draft, created.State);
        Assert.Equal(1, created.Version);
        Assert.Equal("***", fetched.Spec.Steps[0].Headers[0].Value);
        Assert.Equal("plain", fetched.Spec.Steps[0].Headers[1].Value);
        Assert.Equal(created.CampaignId, Assert.Single(listed.Campaigns).CampaignId);
        Assert.DoesNotContain("s3cret", listed.ToString());
    }

    [Fact]
    public async Task AnUpdateThatSendsTheMaskBackKeepsTheStoredSecret()
    {
        var queue = new RecordingDeliveryQueue();
        await using var host = fixture.StartCampaigns(new FakeTimeProvider(DateTimeOffset.UtcNow), queue);
        var ws = Specs.NewWorkspace();
        await fixture.IngestUserAsync(ws, "u1", ("first_name", "Ada"));
        var created = await host.Client.CreateCampaignAsync(new CreateCampaignRequest
        {
            WorkspaceId = ws, Spec = TrackSpec(headers: [("Authorization", "Bearer s3cret")]), Activate = true,
        }, CampaignsHost.Call);

        var spec = created.Spec.Clone();
        spec.Name = "Renamed";
        var updated = await host.Client.UpdateCampaignAsync(new UpdateCampaignRequest
        {
            WorkspaceId = ws, CampaignId = created.CampaignId, Spec = spec, ExpectedVersion = created.Version,
        }, CampaignsHost.Call);
        await host.Client.TriggerBusinessEventAsync(new TriggerBusinessEventRequest { WorkspaceId = ws, Name = "sale" }, CampaignsHost.Call);

        Assert.Equal("Renamed", updated.Spec.Name);
        Assert.Equal(created.Version + 1, updated.Version);
        Assert.Equal("Bearer s3cret", Assert.Single(queue.For(ws)).Headers["Authorization"]);
    }

    [Fact]
    public async Task AStaleExpectedVersionIsAborted()
    {
        await using var host = fixture.StartCampaigns(new FakeTimeProvider(DateTimeOffset.UtcNow), new RecordingDeliveryQueue());
        var ws = Specs.NewWorkspace();
        var created = await host.Client.CreateCampaignAsync(new CreateCampaignRequest { WorkspaceId = ws, Spec = TrackSpec() }, CampaignsHost.Call);

        var ex = await Assert.ThrowsAsync<RpcException>(async () => await host.Client.UpdateCampaignAsync(new UpdateCampaignRequest
        {
            WorkspaceId = ws, CampaignId = created.CampaignId, Spec = TrackSpec("x"), ExpectedVersion = 7,
        }, CampaignsHost.Call));

        Assert.Equal(StatusCode.Aborted, ex.StatusCode);
    }

    [Fact]
    public async Task CountersAndTheLogOfACampaignThatDoesNotExistAreNotFoundAndOfANewOneZero()
    {
        await using var host = fixture.StartCampaigns(new FakeTimeProvider(DateTimeOffset.UtcNow), new RecordingDeliveryQueue());
        var ws = Specs.NewWorkspace();
        var deliveries = new V1.Deliveries.DeliveriesClient(host.CreateGrpcChannel());
        var created = await host.Client.CreateCampaignAsync(new CreateCampaignRequest { WorkspaceId = ws, Spec = TrackSpec() }, CampaignsHost.Call);

        var stats = await Assert.ThrowsAsync<RpcException>(() => deliveries.GetDeliveryStatsAsync(
            new GetDeliveryStatsRequest { WorkspaceId = ws, CampaignId = "nonexistent" }, CampaignsHost.Call).ResponseAsync);
        var log = await Assert.ThrowsAsync<RpcException>(() => deliveries.ListDeliveriesAsync(
            new ListDeliveriesRequest { WorkspaceId = ws, CampaignId = "nonexistent" }, CampaignsHost.Call).ResponseAsync);
        var fresh = await deliveries.GetDeliveryStatsAsync(new GetDeliveryStatsRequest { WorkspaceId = ws, CampaignId = created.CampaignId }, CampaignsHost.Call);

        Assert.Equal(StatusCode.NotFound, stats.StatusCode);
        Assert.Contains("No campaign 'nonexistent'", stats.Status.Detail, StringComparison.Ordinal);
        Assert.Equal(StatusCode.NotFound, log.StatusCode);
        Assert.Equal(0, fresh.Enqueued);
    }

    [Theory]
    [InlineData("name", "spec.name")]
    [InlineData("method", "spec.steps[0].method")]
    [InlineData("delivery", "spec.delivery")]
    [InlineData("body", "spec.steps[0].body")]
    [InlineData("steps", "spec.steps")]
    [InlineData("timezone", "spec.periodic.time_zone")]
    [InlineData("segment", "spec.audience.filters[0].event.condition")]
    public async Task InvalidDefinitionsAreRejectedNamingTheField(string broken, string field)
    {
        await using var host = fixture.StartCampaigns(new FakeTimeProvider(DateTimeOffset.UtcNow), new RecordingDeliveryQueue());
        var spec = TrackSpec();
        switch (broken)
        {
            case "name": spec.Name = ""; break;
            case "method": spec.Steps[0].Method = "PATCH"; break;
            case "delivery": spec.ClearDelivery(); break;
            case "body": spec.Steps[0].Body = "{\"a\": \"{{ UserAttribute['x' }}\"}"; break;
            case "steps": spec.Steps.Clear(); break;
            case "timezone": spec.Periodic = new PeriodicDelivery { Frequency = Frequency.Daily, TimeOfDay = "09:00", TimeZone = "Mars/Olympus" }; break;
            case "segment":
                spec.Audience = new SegmentDefinition();
                spec.Audience.Filters.Add(new Filter { Event = new EventFilter { EventName = "x" } });
                break;
        }

        var ex = await Assert.ThrowsAsync<RpcException>(async () =>
            await host.Client.CreateCampaignAsync(new CreateCampaignRequest { WorkspaceId = Specs.NewWorkspace(), Spec = spec }, CampaignsHost.Call));

        Assert.Equal(StatusCode.InvalidArgument, ex.StatusCode);
        Assert.StartsWith(field + ":", ex.Status.Detail);
    }

    [Fact]
    public async Task RefusesAUrlOnANonAllowedLoopbackHostAtSaveTime()
    {
        await using var host = fixture.StartCampaigns(new FakeTimeProvider(DateTimeOffset.UtcNow), new RecordingDeliveryQueue());
        var spec = TrackSpec();
        spec.Steps[0].Url = $"http://localhost:{fixture.Heap.HttpPort}/api/track";

        var ex = await Assert.ThrowsAsync<RpcException>(async () =>
            await host.Client.CreateCampaignAsync(new CreateCampaignRequest { WorkspaceId = Specs.NewWorkspace(), Spec = spec }, CampaignsHost.Call));

        Assert.Equal(StatusCode.InvalidArgument, ex.StatusCode);
        Assert.Contains("spec.steps[0].url: refused", ex.Status.Detail);
    }

    [Fact]
    public async Task RequiresTheAdminToken()
    {
        await using var host = fixture.StartCampaigns(new FakeTimeProvider(DateTimeOffset.UtcNow), new RecordingDeliveryQueue());

        var ex = await Assert.ThrowsAsync<RpcException>(async () =>
            await host.Client.ListCampaignsAsync(new ListCampaignsRequest { WorkspaceId = "ws" }, deadline: CampaignsFixture.Deadline()));

        Assert.Equal(StatusCode.Unauthenticated, ex.StatusCode);
    }

    [Fact]
    public async Task PausesResumesAndArchives()
    {
        await using var host = fixture.StartCampaigns(new FakeTimeProvider(DateTimeOffset.UtcNow), new RecordingDeliveryQueue());
        var ws = Specs.NewWorkspace();
        var id = (await host.Client.CreateCampaignAsync(new CreateCampaignRequest { WorkspaceId = ws, Spec = TrackSpec() }, CampaignsHost.Call)).CampaignId;
        var request = new CampaignStateRequest { WorkspaceId = ws, CampaignId = id };

        var pauseDraft = await Assert.ThrowsAsync<RpcException>(async () => await host.Client.PauseCampaignAsync(request, CampaignsHost.Call));
        var resumed = await host.Client.ResumeCampaignAsync(request, CampaignsHost.Call);
        var paused = await host.Client.PauseCampaignAsync(request, CampaignsHost.Call);
        var archived = await host.Client.ArchiveCampaignAsync(request, CampaignsHost.Call);
        var editArchived = await Assert.ThrowsAsync<RpcException>(async () => await host.Client.UpdateCampaignAsync(
            new UpdateCampaignRequest { WorkspaceId = ws, CampaignId = id, Spec = TrackSpec() }, CampaignsHost.Call));
        var listed = await host.Client.ListCampaignsAsync(new ListCampaignsRequest { WorkspaceId = ws }, CampaignsHost.Call);

        Assert.Equal(StatusCode.FailedPrecondition, pauseDraft.StatusCode);
        Assert.Equal(CampaignState.Active, resumed.State);
        Assert.Equal(CampaignState.Paused, paused.State);
        Assert.Equal(CampaignState.Archived, archived.State);
        Assert.Equal(StatusCode.FailedPrecondition, editArchived.StatusCode);
        Assert.Empty(listed.Campaigns);
    }

    [Fact]
    public async Task UnknownCampaignIsNotFound()
    {
        await using var host = fixture.StartCampaigns(new FakeTimeProvider(DateTimeOffset.UtcNow), new RecordingDeliveryQueue());

        var ex = await Assert.ThrowsAsync<RpcException>(async () =>
            await host.Client.GetCampaignAsync(new GetCampaignRequest { WorkspaceId = "ws", CampaignId = "nope" }, CampaignsHost.Call));

        Assert.Equal(StatusCode.NotFound, ex.StatusCode);
    }

    [Fact]
    public async Task PreviewRendersForATestUserWithoutSending()
    {
        var queue = new RecordingDeliveryQueue();
        await using var host = fixture.StartCampaigns(new FakeTimeProvider(DateTimeOffset.UtcNow), queue);
        var ws = Specs.NewWorkspace();
        await fixture.IngestUserAsync(ws, "ada@example.com", ("first_name", "Ada \"The\" Countess"));
        var spec = TrackSpec(body: Specs.TrackBody("Preview", "{\"greeting\":\"Hi {{UserAttribute['First Name']}}\",\"order\":\"{{EventAttribute['order_id']}}\"}"),
            headers: [("X-Api-Key", "k-123")]);

        var preview = await host.Client.PreviewCampaignAsync(new PreviewCampaignRequest
        {
            WorkspaceId = ws, Spec = spec, CustomerId = "ada@example.com",
            Sample = new SampleData { EventAttributes = { ["order_id"] = CampaignsFixture.Value("o-9") } },
        }, CampaignsHost.Call);
        var skipped = await host.Client.PreviewCampaignAsync(new PreviewCampaignRequest { WorkspaceId = ws, Spec = spec, CustomerId = "ada@example.com" }, CampaignsHost.Call);

        var request = Assert.Single(preview.Requests);
        using var body = System.Text.Json.JsonDocument.Parse(request.Body);
        Assert.Equal("Hi Ada \"The\" Countess", body.RootElement.GetProperty("properties").GetProperty("greeting").GetString());
        Assert.Equal("ada@example.com", body.RootElement.GetProperty("identity").GetString());
        Assert.Equal("***", Assert.Single(request.Headers).Value);
        Assert.Empty(skipped.Requests);
        Assert.Contains("EventAttribute['order_id'] is null", skipped.SkippedReason);
        Assert.Empty(queue.Requests);
    }

    [Fact]
    public async Task TestSendsOnceToTheEmulatorAndReturnsTheResponse()
    {
        await using var host = fixture.StartCampaigns(new FakeTimeProvider(DateTimeOffset.UtcNow), new RecordingDeliveryQueue());
        var ws = Specs.NewWorkspace();
        var identity = "tester-" + Guid.NewGuid().ToString("N")[..8];
        await fixture.IngestUserAsync(ws, identity, ("first_name", "Tess"));

        var result = await host.Client.TestCampaignAsync(new TestCampaignRequest
        {
            WorkspaceId = ws, Spec = TrackSpec(body: Specs.TrackBody("Test Send", "{\"n\":\"{{UserAttribute['First Name']}}\"}")), CustomerId = identity,
        }, CampaignsHost.Call);
        var recorded = await fixture.HeapEventsAsync(identity, "Test Send");

        Assert.Equal(200, result.Response.StatusCode);
        Assert.True(result.Response.LatencyMs >= 0);
        Assert.Equal("", result.Response.Error);
        Assert.Equal("Tess", Assert.Single(recorded).Properties["n"].GetString());
        Assert.Contains("api/track", result.Request.Url);
    }

    [Fact]
    public async Task PreviewReadsTheHeapSegmentsIngestionSyncedForTheUser()
    {
        await using var host = fixture.StartCampaigns(new FakeTimeProvider(DateTimeOffset.UtcNow), new RecordingDeliveryQueue());
        var ws = Specs.NewWorkspace();
        await fixture.IngestUserAsync(ws, "ada", ("first_name", "Ada"));
        await fixture.IngestUserAsync(ws, "bob", ("first_name", "Bob"));
        await new Ingestion.V1.Ingestion.IngestionClient(fixture.IngestionChannel).SyncSegmentAsync(new Ingestion.V1.SyncSegmentRequest
        {
            WorkspaceId = ws, ConfigName = "test", Action = Ingestion.V1.SegmentSyncAction.Sync, SegmentId = 1338065,
            SegmentName = "Cart abandoners", SyncTaskId = "t1", PageNumber = 1, TotalPages = 1,
            Add = { new Ingestion.V1.SegmentSyncUser { CustomerId = "ada" } },
        }, deadline: CampaignsFixture.Deadline());
        var spec = TrackSpec(body: Specs.TrackBody("Segments",
            "{\"cart\":{% if 'Cart abandoners' in HeapSegments | map(attribute='name') %}true{% else %}false{% endif %},\"ids\":\"{{ HeapSegments | map(attribute='id') | join(',') }}\"}"));

        var ada = await host.Client.PreviewCampaignAsync(new PreviewCampaignRequest { WorkspaceId = ws, Spec = spec, CustomerId = "ada" }, CampaignsHost.Call);
        var bob = await host.Client.PreviewCampaignAsync(new PreviewCampaignRequest { WorkspaceId = ws, Spec = spec, CustomerId = "bob" }, CampaignsHost.Call);

        Assert.Contains("\"cart\":true,\"ids\":\"1338065\"", Assert.Single(ada.Requests).Body);
        Assert.Contains("\"cart\":false,\"ids\":\"\"", Assert.Single(bob.Requests).Body);
    }

    [Fact]
    public async Task TestRefusesANonAllowedLoopbackUrl()
    {
        await using var host = fixture.StartCampaigns(new FakeTimeProvider(DateTimeOffset.UtcNow), new RecordingDeliveryQueue());
        var ws = Specs.NewWorkspace();
        await fixture.IngestUserAsync(ws, "u1", ("first_name", "A"));
        var spec = TrackSpec();
        spec.Steps[0].Url = $"http://[::1]:{fixture.Heap.HttpPort}/api/track";

        var ex = await Assert.ThrowsAsync<RpcException>(async () => await host.Client.TestCampaignAsync(
            new TestCampaignRequest { WorkspaceId = ws, Spec = spec, CustomerId = "u1" }, CampaignsHost.Call));

        Assert.Equal(StatusCode.InvalidArgument, ex.StatusCode);
        Assert.Contains("refused", ex.Status.Detail);
    }

    [Fact]
    public async Task PreviewAndTestRefuseAnUnknownFilterOrNameWithItsLineAndColumn()
    {
        await using var host = fixture.StartCampaigns(new FakeTimeProvider(DateTimeOffset.UtcNow), new RecordingDeliveryQueue());
        var ws = Specs.NewWorkspace();
        await fixture.IngestUserAsync(ws, "u1", ("first_name", "A"));
        var unknownFilter = TrackSpec(body: Specs.TrackBody("Jinja", "{\"n\":\"{{ UserAttribute['First Name']|shout }}\"}"));
        var unknownName = TrackSpec(body: Specs.TrackBody("Jinja", "{\"n\":\"{{ user.first_name }}\"}"));

        var preview = await Assert.ThrowsAsync<RpcException>(async () => await host.Client.PreviewCampaignAsync(
            new PreviewCampaignRequest { WorkspaceId = ws, Spec = unknownFilter, CustomerId = "u1" }, CampaignsHost.Call));
        var test = await Assert.ThrowsAsync<RpcException>(async () => await host.Client.TestCampaignAsync(
            new TestCampaignRequest { WorkspaceId = ws, Spec = unknownName, CustomerId = "u1" }, CampaignsHost.Call));

        Assert.Equal(StatusCode.InvalidArgument, preview.StatusCode);
        Assert.Matches(@"^spec\.steps\[0\]\.body: template error: No filter named 'shout'\. at \(1:\d+\)", preview.Status.Detail);
        Assert.Equal(StatusCode.InvalidArgument, test.StatusCode);
        Assert.Matches(@"^spec\.steps\[0\]\.body: template error: unknown name 'user' .* at \(1:\d+\)", test.Status.Detail);
    }
}
