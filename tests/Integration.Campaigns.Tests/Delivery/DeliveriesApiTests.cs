using System.Diagnostics;
using Grpc.Core;
using Integration.Campaigns.Delivery;
using Integration.Campaigns.V1;

namespace Integration.Campaigns.Tests.Delivery;

public sealed class DeliveriesApiTests(EmulatorFixture fixture) : IClassFixture<EmulatorFixture>
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(20);
    private readonly string _workspace = "ws-" + Guid.NewGuid().ToString("N")[..8];

    private static DateTime Deadline => DateTime.UtcNow.AddSeconds(60);

    /// <summary>A delivery Heap refuses for good (unknown app id: 400), carrying credentials that must never show.</summary>
    private DeliveryRequest Refused(string campaign, string identity) =>
        Deliveries.HeapTrack(fixture.EmulatorAddress, _workspace, campaign, identity, app: "unknown-app",
            headers: new Dictionary<string, string> { ["Authorization"] = "Bearer s3cret", ["X-Api-Key"] = "k3y", ["X-Trace"] = "visible" })
        with { Url = new Uri(fixture.EmulatorAddress, "/api/track?api_key=q5ecret&region=eu").ToString() };

    [Fact]
    public async Task RefusesCallsWithoutTheAdminToken()
    {
        await using var host = await DeliveryTestHost.StartAsync(fixture.Redis.ConnectionString);
        var client = host.CreateClient(out var channel);
        using (channel)
        {
            var error = await Assert.ThrowsAsync<RpcException>(() => client.GetDeliveryStatsAsync(
                new GetDeliveryStatsRequest { WorkspaceId = _workspace, CampaignId = "c" }, deadline: Deadline).ResponseAsync);
            Assert.Equal(StatusCode.Unauthenticated, error.StatusCode);
        }
    }

    [Fact]
    public async Task ListsFiltersAndInspectsDeadLettersWithSecretsRedacted()
    {
        await using var host = await DeliveryTestHost.StartAsync(fixture.Redis.ConnectionString);
        var requests = new[] { Refused("c-a", "u1"), Refused("c-a", "u2"), Refused("c-b", "u3") };
        var before = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        foreach (var request in requests)
        {
            await host.Queue.EnqueueAsync(request, CancellationToken.None);
        }
        foreach (var request in requests)
        {
            await host.RecordWhenAsync(request, DeliveryRecord.Dead, Wait);
        }
        var client = host.CreateClient(out var channel);
        using var _ = channel;

        async Task<ListDeadLettersResponse> List(DeadLetterFilter filter, int pageSize = 0, string token = "") =>
            await client.ListDeadLettersAsync(new ListDeadLettersRequest { Filter = filter, PageSize = pageSize, PageToken = token },
                DeliveryTestHost.Auth, Deadline);

        Assert.Equal(2, (await List(new DeadLetterFilter { WorkspaceId = _workspace, CampaignId = "c-a" })).DeadLetters.Count);
        Assert.Equal(3, (await List(new DeadLetterFilter { WorkspaceId = _workspace, StatusCode = 400 })).DeadLetters.Count);
        Assert.Empty((await List(new DeadLetterFilter { WorkspaceId = _workspace, StatusCode = 500 })).DeadLetters);
        Assert.Empty((await List(new DeadLetterFilter { WorkspaceId = _workspace, ToUnixMs = before })).DeadLetters);
        Assert.Equal(3, (await List(new DeadLetterFilter { WorkspaceId = _workspace, FromUnixMs = before })).DeadLetters.Count);
        var page1 = await List(new DeadLetterFilter { WorkspaceId = _workspace }, pageSize: 2);
        var page2 = await List(new DeadLetterFilter { WorkspaceId = _workspace }, pageSize: 2, token: page1.NextPageToken);
        Assert.Equal(3, page1.DeadLetters.Concat(page2.DeadLetters).Select(d => d.DeliveryId).Distinct().Count());

        var letter = await client.GetDeadLetterAsync(
            new GetDeadLetterRequest { WorkspaceId = _workspace, DeliveryId = requests[0].DeliveryId }, DeliveryTestHost.Auth, Deadline);
        Assert.Equal("permanent_failure", letter.Reason);
        Assert.Equal(400, letter.LastStatusCode);
        Assert.Equal("***", letter.Request.Headers["Authorization"]);
        Assert.Equal("***", letter.Request.Headers["X-Api-Key"]);
        Assert.Equal("visible", letter.Request.Headers["X-Trace"]);
        Assert.Contains("api_key=***", letter.Request.Url);
        Assert.Contains("region=eu", letter.Request.Url);
        Assert.DoesNotContain("s3cret", letter.ToString());
        Assert.DoesNotContain("q5ecret", letter.ToString());
        Assert.Contains(requests[0].DeliveryId, letter.Request.Body);
        Assert.Single(letter.AttemptsHistory);
        Assert.Equal(400, letter.AttemptsHistory[0].StatusCode);
    }

    [Fact]
    public async Task ReplaysEveryMatchingDeadLetterDiscardsOneAndCountsAndLogsItAll()
    {
        await using var host = await DeliveryTestHost.StartAsync(fixture.Redis.ConnectionString);
        var kept = Refused("c-replay", "u1");
        var dropped = Refused("c-replay", "u2");
        await host.Queue.EnqueueAsync(kept, CancellationToken.None);
        await host.Queue.EnqueueAsync(dropped, CancellationToken.None);
        await host.RecordWhenAsync(kept, DeliveryRecord.Dead, Wait);
        await host.RecordWhenAsync(dropped, DeliveryRecord.Dead, Wait);
        var client = host.CreateClient(out var channel);
        using var _ = channel;

        var discard = await client.DiscardDeadLetterAsync(
            new DiscardDeadLetterRequest { WorkspaceId = _workspace, DeliveryId = dropped.DeliveryId }, DeliveryTestHost.Auth, Deadline);
        Assert.True(discard.Discarded);
        var replay = await client.ReplayDeadLettersAsync(new ReplayDeadLettersRequest
        {
            Filter = new DeadLetterFilter { WorkspaceId = _workspace, CampaignId = "c-replay" },
        }, DeliveryTestHost.Auth, Deadline);
        Assert.Equal([kept.DeliveryId], replay.DeliveryIds);

        // Heap still refuses it: it is attempted again and comes back as a dead letter, replayed once.
        var again = await Deliveries.EventuallyAsync(() => host.Store.GetAsync(_workspace, kept.DeliveryId),
            r => r is { State: DeliveryRecord.Dead, Replays: 1, Attempts: 1 } && r.History.Count == 2, Wait, "the replayed delivery to fail again");
        Assert.Equal(DeliveryRecord.Discarded, (await host.Store.GetAsync(_workspace, dropped.DeliveryId))!.State);

        var stats = await client.GetDeliveryStatsAsync(
            new GetDeliveryStatsRequest { WorkspaceId = _workspace, CampaignId = "c-replay" }, DeliveryTestHost.Auth, Deadline);
        Assert.Equal(2, stats.Enqueued);
        Assert.Equal(3, stats.Sent);
        Assert.Equal(3, stats.DeadLettered);
        Assert.Equal(1, stats.Replayed);
        Assert.Equal(0, stats.Pending);

        var log = await client.ListDeliveriesAsync(
            new ListDeliveriesRequest { WorkspaceId = _workspace, CampaignId = "c-replay", Limit = 10 }, DeliveryTestHost.Auth, Deadline);
        Assert.Equal(["dead_lettered", "replayed", "discarded"], log.Entries.Select(e => e.Outcome).Take(3));
        Assert.Equal(NotFound, (await Assert.ThrowsAsync<RpcException>(() => client.ReplayDeadLetterAsync(
            new ReplayDeadLetterRequest { WorkspaceId = _workspace, DeliveryId = dropped.DeliveryId }, DeliveryTestHost.Auth, Deadline)
            .ResponseAsync)).StatusCode);
    }

    private const StatusCode NotFound = StatusCode.NotFound;

    [Fact]
    public async Task CountsSkippedUsersByReason()
    {
        await using var host = await DeliveryTestHost.StartAsync(fixture.Redis.ConnectionString);
        var skips = (IDeliverySkips)host.Store;
        await skips.RecordSkippedAsync(_workspace, "c-skip", "null_value", CancellationToken.None);
        await skips.RecordSkippedAsync(_workspace, "c-skip", "null_value", CancellationToken.None);
        var client = host.CreateClient(out var channel);
        using var _ = channel;

        var stats = await client.GetDeliveryStatsAsync(
            new GetDeliveryStatsRequest { WorkspaceId = _workspace, CampaignId = "c-skip" }, DeliveryTestHost.Auth, Deadline);

        Assert.Equal(2, stats.Skipped["null_value"]);
    }

    [Fact]
    public async Task RejectsAListWithoutAWorkspace()
    {
        await using var host = await DeliveryTestHost.StartAsync(fixture.Redis.ConnectionString);
        var client = host.CreateClient(out var channel);
        using var _ = channel;

        var error = await Assert.ThrowsAsync<RpcException>(() => client.ListDeadLettersAsync(
            new ListDeadLettersRequest { Filter = new DeadLetterFilter() }, DeliveryTestHost.Auth, Deadline).ResponseAsync);

        Assert.Equal(StatusCode.InvalidArgument, error.StatusCode);
    }

    [Fact]
    public async Task TheDeliveryJoinsTheTriggersTraceAllTheWayToTheEmulator()
    {
        using var listener = new ActivityListener
        {
            ShouldListenTo = s => s.Name == DeliverySender.ActivitySourceName,
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
        };
        ActivitySource.AddActivityListener(listener);
        await using var host = await DeliveryTestHost.StartAsync(fixture.Redis.ConnectionString);
        var traceId = ActivityTraceId.CreateRandom();
        var traceParent = $"00-{traceId}-{ActivitySpanId.CreateRandom()}-01";
        var identity = "user-" + Guid.NewGuid().ToString("N")[..10];
        var request = Deliveries.HeapTrack(fixture.EmulatorAddress, _workspace, "c-trace", identity, traceParent: traceParent);

        await host.Queue.EnqueueAsync(request, CancellationToken.None);
        await host.RecordWhenAsync(request, DeliveryRecord.Succeeded, Wait);

        var recorded = Assert.Single((await fixture.Http.EventsAsync(identity)).Events);
        Assert.Equal(traceId.ToString(), recorded.TraceId);
    }
}
