using Integration.Campaigns.Delivery;
using Integration.Campaigns.Tests.Delivery;
using Integration.Campaigns.Tests.Support;
using Integration.Campaigns.V1;
using Microsoft.Extensions.Time.Testing;
using StackExchange.Redis;

namespace Integration.Campaigns.Tests.Tenancy;

public sealed class SecretsAtRestTests(CampaignsFixture fixture) : IClassFixture<CampaignsFixture>
{
    private const string Secret = "Bearer s3cret-at-rest";

    private CampaignSpec Spec()
    {
        var spec = new CampaignSpec { Name = "Secrets", BusinessEvent = new BusinessEventDelivery { BusinessEventName = "sale" } };
        spec.Steps.Add(Specs.HeapTrack(fixture.HeapTrackUrl, Specs.TrackBody("Welcome"), 0, ("Authorization", Secret), ("X-Trace", "plain")));
        return spec;
    }

    [Fact]
    public async Task ASecretHeaderValueIsEncryptedInRedisAndMaskedInAnswers()
    {
        var queue = new RecordingDeliveryQueue();
        await using var host = fixture.StartCampaigns(new FakeTimeProvider(DateTimeOffset.UtcNow), queue);
        var ws = Specs.NewWorkspace();
        await fixture.IngestUserAsync(ws, "u1", ("first_name", "Ada"));

        var created = await host.Client.CreateCampaignAsync(new CreateCampaignRequest { WorkspaceId = ws, Spec = Spec(), Activate = true }, CampaignsHost.Call);
        await host.Client.TriggerBusinessEventAsync(new TriggerBusinessEventRequest { WorkspaceId = ws, Name = "sale" }, CampaignsHost.Call);

        await using var redis = await ConnectionMultiplexer.ConnectAsync(fixture.Redis.ConnectionString);
        var stored = (await redis.GetDatabase().HashGetAsync($"camp:{{{ws}}}:{created.CampaignId}", "json")).ToString();
        Assert.DoesNotContain("s3cret-at-rest", stored);
        Assert.Contains("dp1:", stored);
        Assert.Contains("plain", stored);
        Assert.Equal("***", created.Spec.Steps[0].Headers[0].Value);
        // What is sent is the clear value.
        Assert.Equal(Secret, Assert.Single(queue.For(ws)).Headers["Authorization"]);
    }

    [Fact]
    public async Task ACampaignStoredBeforeEncryptionIsReadAndRewrittenEncrypted()
    {
        await using var host = fixture.StartCampaigns(new FakeTimeProvider(DateTimeOffset.UtcNow), new RecordingDeliveryQueue());
        var ws = Specs.NewWorkspace();
        var created = await host.Client.CreateCampaignAsync(new CreateCampaignRequest { WorkspaceId = ws, Spec = Spec() }, CampaignsHost.Call);
        await using var redis = await ConnectionMultiplexer.ConnectAsync(fixture.Redis.ConnectionString);
        var db = redis.GetDatabase();
        var key = $"camp:{{{ws}}}:{created.CampaignId}";
        var stored = Google.Protobuf.JsonParser.Default.Parse<Campaign>((await db.HashGetAsync(key, "json")).ToString());
        stored.Spec.Steps[0].Headers[0].Value = Secret;
        await db.HashSetAsync(key, "json", Google.Protobuf.JsonFormatter.Default.Format(stored));

        var fetched = await host.Client.GetCampaignAsync(new GetCampaignRequest { WorkspaceId = ws, CampaignId = created.CampaignId }, CampaignsHost.Call);
        var rewritten = (await db.HashGetAsync(key, "json")).ToString();

        Assert.Equal("***", fetched.Spec.Steps[0].Headers[0].Value);
        Assert.DoesNotContain("s3cret-at-rest", rewritten);
        Assert.Equal(created.Version, fetched.Version);
    }

    [Fact]
    public async Task ADeliveryRecordKeepsItsSecretHeadersEncrypted()
    {
        await using var host = await DeliveryTestHost.StartAsync(fixture.Redis.ConnectionString,
            new Dictionary<string, string?> { ["Delivery:RunnerEnabled"] = "false" });
        var request = Campaigns.Tests.Delivery.Deliveries.HeapTrack(new Uri(fixture.HeapTrackUrl), Specs.NewWorkspace(), "c-secret", "u1",
            headers: new Dictionary<string, string> { ["X-Api-Key"] = "k3y-at-rest", ["X-Trace"] = "plain" });

        await host.Queue.EnqueueAsync(request, CancellationToken.None);
        await using var redis = await ConnectionMultiplexer.ConnectAsync(fixture.Redis.ConnectionString);
        var raw = (await redis.GetDatabase().HashGetAsync($"dlv:{{{request.WorkspaceId}}}:d:{request.DeliveryId}", "req")).ToString();
        var read = await host.Store.GetAsync(request.WorkspaceId, request.DeliveryId);

        Assert.DoesNotContain("k3y-at-rest", raw);
        Assert.Contains("plain", raw);
        Assert.Equal("k3y-at-rest", read!.Request.Headers["X-Api-Key"]);
    }
}
