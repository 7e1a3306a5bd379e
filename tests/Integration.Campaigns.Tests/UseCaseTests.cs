using System.Diagnostics;
using Integration.Campaigns.Storage;
using Integration.Campaigns.Tests.Support;
using Integration.Campaigns.V1;
using Microsoft.Extensions.Time.Testing;

namespace Integration.Campaigns.Tests;

/// <summary>
/// The MoEngage guide's three use cases, end to end: events stored through ingestion, the campaign runner
/// consuming the stream, the real delivery engine sending to the Heap emulator. The clock runs with real
/// time and jumps over the campaigns' delays.
/// </summary>
public sealed class UseCaseTests(CampaignsFixture fixture) : IClassFixture<CampaignsFixture>, IAsyncLifetime
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(20);
    private readonly RunningClock _clock = new();
    private CampaignsHost _host = null!;

    public Task InitializeAsync()
    {
        _host = fixture.StartCampaigns(_clock.Time, queue: null, runner: true);
        return Task.CompletedTask;
    }

    public async Task DisposeAsync()
    {
        await _host.DisposeAsync();
        await _clock.DisposeAsync();
    }

    private async Task<Campaign> ActivateAsync(string ws, string trigger, string exit, bool firstTimeOnly, params RequestStep[] steps)
    {
        var spec = new CampaignSpec
        {
            Name = trigger,
            EventTriggered = new EventTriggeredDelivery { EventName = trigger, ExitEventName = exit, FirstTimeOnly = firstTimeOnly },
        };
        spec.Steps.AddRange(steps);
        return await _host.Client.CreateCampaignAsync(new CreateCampaignRequest { WorkspaceId = ws, Spec = spec, Activate = true }, CampaignsHost.Call);
    }

    private Task<long> PendingAsync(string ws) => _host.Get<IPendingSendStore>().CountAsync(ws);

    private static string Id(string name) => $"{name}-{Guid.NewGuid().ToString("N")[..8]}";

    [Fact]
    public async Task DropOffReEngagementSendsOneTrackCallToUsersWhoDidNotOrder()
    {
        var ws = Specs.NewWorkspace();
        var (leaver, buyer) = (Id("leaver"), Id("buyer"));
        await ActivateAsync(ws, "Checkout Started", "Order Completed", false,
            Specs.HeapTrack(fixture.HeapTrackUrl, Specs.TrackBody("Cart Reminder", "{\"order_id\":\"{{EventAttribute['order_id']}}\"}"), delayMs: (long)TimeSpan.FromHours(1).TotalMilliseconds));

        await fixture.IngestEventAsync(ws, leaver, "Checkout Started", DateTimeOffset.UtcNow, ("order_id", "o-17"));
        await fixture.IngestEventAsync(ws, buyer, "Checkout Started", DateTimeOffset.UtcNow, ("order_id", "o-18"));
        await Eventually.HoldsAsync(() => PendingAsync(ws), n => n == 2, Wait, "both checkouts to wait for their delay");
        await fixture.IngestEventAsync(ws, buyer, "Order Completed", DateTimeOffset.UtcNow);
        await Eventually.HoldsAsync(() => PendingAsync(ws), n => n == 1, Wait, "the order to cancel the buyer's reminder");
        _clock.Jump(TimeSpan.FromHours(1));

        var sent = await Eventually.HoldsAsync(() => fixture.HeapEventsAsync(leaver, "Cart Reminder"), e => e.Count > 0, Wait, "the reminder in Heap");
        await Task.Delay(500);
        Assert.Equal("o-17", Assert.Single(await fixture.HeapEventsAsync(leaver, "Cart Reminder")).Properties["order_id"].GetString());
        Assert.NotNull(sent[0].IdempotencyKey);
        Assert.Empty(await fixture.HeapEventsAsync(buyer, "Cart Reminder"));
    }

    [Fact]
    public async Task FeatureAdoptionSendsStepOneNowAndStepTwoAfterTheDelayUnlessTheUserExits()
    {
        var ws = Specs.NewWorkspace();
        var (adopter, quitter, veteran) = (Id("adopter"), Id("quitter"), Id("veteran"));
        await fixture.IngestEventAsync(ws, veteran, "Feature Used", DateTimeOffset.UtcNow.AddDays(-10));
        await ActivateAsync(ws, "Feature Used", "Feature Disabled", true,
            Specs.HeapTrack(fixture.HeapTrackUrl, Specs.TrackBody("Feature Tip 1")),
            Specs.HeapTrack(fixture.HeapTrackUrl, Specs.TrackBody("Feature Tip 2"), delayMs: (long)TimeSpan.FromDays(2).TotalMilliseconds));

        await fixture.IngestEventAsync(ws, adopter, "Feature Used", DateTimeOffset.UtcNow);
        await fixture.IngestEventAsync(ws, quitter, "Feature Used", DateTimeOffset.UtcNow);
        await fixture.IngestEventAsync(ws, veteran, "Feature Used", DateTimeOffset.UtcNow);
        await Eventually.HoldsAsync(() => fixture.HeapEventsAsync(adopter, "Feature Tip 1"), e => e.Count == 1, Wait, "tip 1 for the adopter");
        await Eventually.HoldsAsync(() => fixture.HeapEventsAsync(quitter, "Feature Tip 1"), e => e.Count == 1, Wait, "tip 1 for the quitter");
        await fixture.IngestEventAsync(ws, adopter, "Feature Used", DateTimeOffset.UtcNow.AddSeconds(1));
        await fixture.IngestEventAsync(ws, quitter, "Feature Disabled", DateTimeOffset.UtcNow.AddSeconds(1));
        await Eventually.HoldsAsync(() => PendingAsync(ws), n => n == 1, Wait, "the exit event to cancel the quitter's tip 2");
        _clock.Jump(TimeSpan.FromDays(2));

        await Eventually.HoldsAsync(() => fixture.HeapEventsAsync(adopter, "Feature Tip 2"), e => e.Count == 1, Wait, "tip 2 for the adopter");
        await Task.Delay(500);
        Assert.Single(await fixture.HeapEventsAsync(adopter, "Feature Tip 1"));
        Assert.Empty(await fixture.HeapEventsAsync(quitter, "Feature Tip 2"));
        Assert.Empty(await fixture.HeapEventsAsync(veteran));
    }

    [Fact]
    public async Task TrialConversionOffersDependOnTheUsersSessionCount()
    {
        var ws = Specs.NewWorkspace();
        var users = new[] { (Id("power"), 12, "30%"), (Id("casual"), 4, "15%"), (Id("idle"), 0, "5%") };
        const string offer = "{% if UserEvent['Session Started'].count >= 10 %}30%{% elif UserEvent['Session Started'].count >= 3 %}15%{% else %}5%{% endif %}";
        await ActivateAsync(ws, "Trial Ended", "", false,
            Specs.HeapTrack(fixture.HeapTrackUrl, Specs.TrackBody("Trial Offer", $$"""{"offer":"{{offer}}","sessions":{{"{{"}}UserEvent['Session Started'].count{{"}}"}}}""")));

        foreach (var (user, sessions, _) in users)
        {
            await fixture.IngestUserAsync(ws, user, ("first_name", user));
            for (var i = 0; i < sessions; i++)
            {
                // Retroactive: sessions from the past weeks, stored before the trial ended.
                await fixture.IngestEventAsync(ws, user, "Session Started", DateTimeOffset.UtcNow.AddDays(-14).AddHours(i));
            }
            await fixture.IngestEventAsync(ws, user, "Trial Ended", DateTimeOffset.UtcNow);
        }

        foreach (var (user, sessions, expected) in users)
        {
            var sent = await Eventually.HoldsAsync(() => fixture.HeapEventsAsync(user, "Trial Offer"), e => e.Count > 0, Wait, $"the offer for {user}");
            var properties = Assert.Single(sent).Properties;
            Assert.Equal(expected, properties["offer"].GetString());
            Assert.Equal(sessions, properties["sessions"].GetInt32());
        }
    }
}

/// <summary>A fake clock that follows real time (so the delivery engine's waits complete) and can jump ahead.</summary>
internal sealed class RunningClock : IAsyncDisposable
{
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _loop;

    public RunningClock()
    {
        Time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        _loop = Task.Run(async () =>
        {
            var watch = Stopwatch.StartNew();
            var last = TimeSpan.Zero;
            while (!_stop.IsCancellationRequested)
            {
                await Task.Delay(5);
                var now = watch.Elapsed;
                Time.Advance(now - last);
                last = now;
            }
        });
    }

    public FakeTimeProvider Time { get; }

    public void Jump(TimeSpan by) => Time.Advance(by);

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        await _loop;
        _stop.Dispose();
    }
}
