extern alias heap;

using System.Net.Http.Json;
using Grpc.Core;
using Grpc.Net.Client;
using heap::Integration.HeapEmulator.Inspection;
using Integration.Campaigns.Runner;
using Integration.Campaigns.Sending;
using Integration.Campaigns.Tests.Delivery;
using Integration.Campaigns.Tests.Support;
using Integration.Campaigns.V1;
using Integration.Ingestion.V1;

namespace Integration.Campaigns.Tests;

/// <summary>
/// <c>batch_heap_bulk</c>: a One Time run's track events go to the real Heap emulator in Heap's bulk form, at most
/// 1000 a request, each with its own idempotency key, so repeated runs and replays never count a user twice.
/// </summary>
public sealed class BulkBatchingTests(CampaignsFixture fixture) : IClassFixture<CampaignsFixture>, IAsyncLifetime
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(60);
    private readonly RunningClock _clock = new();
    private CampaignsHost _host = null!;
    private GrpcChannel? _channel;

    public Task InitializeAsync()
    {
        // The scheduler is driven by hand (RunDueAsync); the delivery engine runs and sends to the emulator.
        _host = fixture.StartCampaigns(_clock.Time, queue: null, runner: false);
        return Task.CompletedTask;
    }

    public async Task DisposeAsync()
    {
        _channel?.Dispose();
        await _host.DisposeAsync();
        await _clock.DisposeAsync();
        await fixture.HeapHttp.ClearFaultsAsync();
    }

    [Fact]
    public async Task AOneTimeRunTo2500UsersIsThreeBulkRequestsAndARepeatedRunAddsNothing()
    {
        var (ws, eventName) = await UsersAsync(2_500);
        var before = await fixture.HeapHttp.StatsAsync();
        var campaign = await ActivateAsync(ws, eventName, batch: true);

        Assert.Equal(1, await _host.Get<ScheduledRunner>().RunDueAsync(CancellationToken.None));
        var events = await Eventually.HoldsAsync(() => EventsAsync(eventName), e => e.Count >= 2_500, Wait, "2,500 events in the emulator");
        var stats = await Eventually.HoldsAsync(() => DeliveryStatsAsync(ws, campaign), s => s.Succeeded == 3, Wait, "3 succeeded deliveries");
        var afterFirst = await fixture.HeapHttp.StatsAsync();

        // The same run again (a replica repeating it after a crash): same batches, same delivery ids, recorded once.
        var stored = await GetAsync(ws, campaign);
        await _host.Get<CampaignSender>().SendToAudienceAsync(stored, new SendTrigger($"run:{campaign.NextRunMs}", SendTrigger.None, SendTrigger.None, null), CancellationToken.None);
        await Task.Delay(1_000);
        var afterRepeat = await fixture.HeapHttp.StatsAsync();

        Assert.Equal(3, afterFirst.Accepted - before.Accepted);
        Assert.Equal(3, stats.Enqueued);
        Assert.Equal(2_500, events.Count);
        Assert.Equal(2_500, events.Select(e => e.Identity).Distinct().Count());
        Assert.Equal(2_500, events.Select(e => e.IdempotencyKey).Distinct().Count());
        Assert.Equal(afterFirst.Accepted, afterRepeat.Accepted);
        Assert.Equal(2_500, (await EventsAsync(eventName)).Count);
        Assert.Equal(3, (await DeliveryStatsAsync(ws, campaign)).Enqueued);
    }

    [Fact]
    public async Task ARepeatedRunOverAShiftedAudienceSendsNewBatchesButHeapCountsEveryUserOnce()
    {
        var (ws, eventName) = await UsersAsync(1_500);
        var campaign = await ActivateAsync(ws, eventName, batch: true);
        var trigger = new SendTrigger($"run:{campaign.NextRunMs}", SendTrigger.None, SendTrigger.None, null);
        var sender = _host.Get<CampaignSender>();
        var stored = await GetAsync(ws, campaign);

        await sender.SendToAudienceAsync(stored, trigger, CancellationToken.None);
        await Eventually.HoldsAsync(() => EventsAsync(eventName), e => e.Count >= 1_500, Wait, "1,500 events in the emulator");
        var before = await fixture.HeapHttp.StatsAsync();
        // A user who joined the audience before the run was repeated: the second batch now has other members.
        await IngestUsersAsync(ws, 1_500, 1);
        await sender.SendToAudienceAsync(stored, trigger, CancellationToken.None);
        var events = await Eventually.HoldsAsync(() => EventsAsync(eventName), e => e.Count >= 1_501, Wait, "the new user's event");
        await Task.Delay(500);
        var after = await fixture.HeapHttp.StatsAsync();

        Assert.Equal(1, after.Accepted - before.Accepted);
        Assert.Equal(500, after.IdempotentRepeats - before.IdempotentRepeats);
        Assert.Equal(1_501, (await EventsAsync(eventName)).Count);
        Assert.Equal(1_501, events.Select(e => e.Identity).Distinct().Count());
    }

    [Fact]
    public async Task ADeadLetteredBatchIsReplayedWithTheSameEventKeys()
    {
        var (ws, eventName) = await UsersAsync(1_200);
        var campaign = await ActivateAsync(ws, eventName, batch: true);
        await fixture.HeapHttp.FaultAsync(new { status = 400, count = 1 });

        await _host.Get<ScheduledRunner>().RunDueAsync(CancellationToken.None);
        await Eventually.HoldsAsync(() => DeliveryStatsAsync(ws, campaign), s => s.DeadLettered == 1 && s.Succeeded == 1, Wait, "one batch dead-lettered, one sent");
        var partial = (await EventsAsync(eventName)).Count;
        var replayed = await Deliveries().ReplayDeadLettersAsync(
            new ReplayDeadLettersRequest { Filter = new DeadLetterFilter { WorkspaceId = ws, CampaignId = campaign.CampaignId } }, CampaignsHost.Call);
        await Eventually.HoldsAsync(() => EventsAsync(eventName), e => e.Count >= 1_200, Wait, "1,200 events after the replay");
        await Task.Delay(500);
        var events = await EventsAsync(eventName);

        Assert.True(partial is 1_000 or 200, $"one batch recorded before the replay, got {partial}");
        Assert.Equal(1, replayed.Replayed);
        Assert.Equal(1_200, events.Count);
        Assert.Equal(1_200, events.Select(e => e.IdempotencyKey).Distinct().Count());
    }

    [Fact]
    public async Task WithoutTheOptionEveryUserIsOneRequest()
    {
        var (ws, eventName) = await UsersAsync(120);
        var before = await fixture.HeapHttp.StatsAsync();
        await ActivateAsync(ws, eventName, batch: false);

        await _host.Get<ScheduledRunner>().RunDueAsync(CancellationToken.None);
        var events = await Eventually.HoldsAsync(() => EventsAsync(eventName), e => e.Count >= 120, Wait, "120 events in the emulator");
        await Task.Delay(300);
        var after = await fixture.HeapHttp.StatsAsync();

        Assert.Equal(120, after.Accepted - before.Accepted);
        Assert.Equal(120, events.Count);
    }

    [Fact]
    public async Task TheOptionIsRefusedForEventTriggeredCampaignsAndNonTrackSteps()
    {
        var triggered = Spec("x", batch: true);
        triggered.EventTriggered = new EventTriggeredDelivery { EventName = "Signed Up" };
        var form = Spec("x", batch: true);
        form.Steps.Add(new RequestStep { Method = "POST", Url = fixture.HeapTrackUrl, BodyFormat = BodyFormat.Form, Body = "a=1" });
        var otherPath = Spec("x", batch: true);
        otherPath.Steps[0].Url = new Uri(fixture.Heap.HttpAddress, "/api/add_user_properties").ToString();

        foreach (var (spec, field) in new[] { (triggered, "One Time and Periodic"), (form, "spec.steps[1]"), (otherPath, "spec.steps[0]") })
        {
            var error = await Assert.ThrowsAsync<RpcException>(() =>
                _host.Client.CreateCampaignAsync(new CreateCampaignRequest { WorkspaceId = Specs.NewWorkspace(), Spec = spec }, CampaignsHost.Call).ResponseAsync);
            Assert.Equal(StatusCode.InvalidArgument, error.StatusCode);
            Assert.StartsWith("spec.options.batch_heap_bulk:", error.Status.Detail);
            Assert.Contains(field, error.Status.Detail);
        }
    }

    private CampaignSpec Spec(string eventName, bool batch)
    {
        var spec = new CampaignSpec
        {
            Name = eventName,
            OneTime = new OneTimeDelivery(),
            Options = new CampaignOptions { BatchHeapBulk = batch },
        };
        spec.Steps.Add(Specs.HeapTrack(fixture.HeapTrackUrl, Specs.TrackBody(eventName, "{\"name\":\"{{UserAttribute['First Name']}}\"}")));
        return spec;
    }

    private async Task<Campaign> ActivateAsync(string ws, string eventName, bool batch) =>
        await _host.Client.CreateCampaignAsync(new CreateCampaignRequest { WorkspaceId = ws, Spec = Spec(eventName, batch), Activate = true }, CampaignsHost.Call);

    private async Task<Campaign> GetAsync(string ws, Campaign campaign) =>
        await _host.Client.GetCampaignAsync(new GetCampaignRequest { WorkspaceId = ws, CampaignId = campaign.CampaignId }, CampaignsHost.Call);

    private V1.Deliveries.DeliveriesClient Deliveries() => new(_channel ??= _host.CreateGrpcChannel());

    private async Task<DeliveryStats> DeliveryStatsAsync(string ws, Campaign campaign) =>
        await Deliveries().GetDeliveryStatsAsync(new GetDeliveryStatsRequest { WorkspaceId = ws, CampaignId = campaign.CampaignId }, CampaignsHost.Call);

    private async Task<IReadOnlyList<RecordedEvent>> EventsAsync(string eventName) =>
        (await fixture.HeapHttp.GetFromJsonAsync<EventsPage>(
            $"/_emulator/events?app_id={CampaignsFixture.HeapApp}&event={Uri.EscapeDataString(eventName)}", CampaignsFixture.EmulatorJson))!.Events;

    private async Task<(string Workspace, string EventName)> UsersAsync(int count)
    {
        var ws = Specs.NewWorkspace();
        await IngestUsersAsync(ws, 0, count);
        return (ws, "Bulk " + Guid.NewGuid().ToString("N")[..8]);
    }

    private async Task IngestUsersAsync(string ws, int from, int count)
    {
        var client = new Ingestion.V1.Ingestion.IngestionClient(fixture.IngestionChannel);
        for (var start = from; start < from + count; start += 500)
        {
            var request = new IngestUsersRequest { WorkspaceId = ws, ConfigName = "test" };
            for (var i = start; i < Math.Min(start + 500, from + count); i++)
            {
                var user = new UserRecord { CustomerId = $"{ws}-user-{i:D5}", UpdatedAtMs = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() };
                user.Attributes["first_name"] = CampaignsFixture.Value($"U{i}");
                request.Users.Add(user);
            }
            await client.IngestUsersAsync(request, deadline: CampaignsFixture.Deadline());
        }
    }
}
