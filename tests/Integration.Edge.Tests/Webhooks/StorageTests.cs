using Integration.Testing;
using System.Net;
using Grpc.Core;
using Integration.Admin.V1;
using Integration.Ingestion.V1;
using StackExchange.Redis;
using static Integration.Edge.Tests.Webhooks.Payloads;

namespace Integration.Edge.Tests.Webhooks;

/// <summary>What a webhook leaves in storage, read back through ingestion's gRPC API.</summary>
[Collection(InboundCollection.Name)]
public sealed class StorageTests(InboundPipeline pipeline)
{
    private readonly HttpClient _http = pipeline.Edge.CreateHttpClient();

    private async Task<User> GetUserAsync(string ws, string customerId) =>
        await pipeline.IngestionApi.GetUserAsync(new GetUserRequest { WorkspaceId = ws, CustomerId = customerId }, deadline: DateTime.UtcNow.AddSeconds(60));

    private async Task<IList<StoredEvent>> ListEventsAsync(string ws, string customerId) =>
        (await pipeline.IngestionApi.ListUserEventsAsync(new ListUserEventsRequest { WorkspaceId = ws, CustomerId = customerId, Limit = 1000 },
            deadline: DateTime.UtcNow.AddSeconds(60))).Events;

    private async Task SendOkAsync(string module, string ws, string key, string json)
    {
        var response = await _http.SendAsync(InboundPipeline.Webhook(module, ws, key, json));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    [Fact]
    public async Task StoresTheProfileWithItsAttributesTyped()
    {
        var ws = WorkspaceId();
        var key = await pipeline.CreateWorkspaceAsync(ws);

        await SendOkAsync("user", ws, key, User().ToJsonString());

        var user = await GetUserAsync(ws, "alice@example.com");
        Assert.Equal("Alice", user.Attributes["first_name"].StringValue);
        Assert.Equal("trial", user.Attributes["plan"].StringValue);
        Assert.Equal(3, user.Attributes["seats"].NumberValue);
        Assert.Equal(DateTimeOffset.Parse("2026-11-01T10:00:00Z").ToUnixTimeMilliseconds(), user.UpdatedAtMs);
    }

    [Fact]
    public async Task AnOlderUpdatedAtNeverOverwritesNewerValues()
    {
        var ws = WorkspaceId();
        var key = await pipeline.CreateWorkspaceAsync(ws);
        var newer = User(updatedAt: "2026-11-02T00:00:00Z");
        newer["user_attributes"]!["plan"] = "paid";
        var older = User(updatedAt: "2026-10-01T00:00:00Z");
        older["user_attributes"]!["plan"] = "trial";

        await SendOkAsync("user", ws, key, newer.ToJsonString());
        await SendOkAsync("user", ws, key, older.ToJsonString());

        var user = await GetUserAsync(ws, "alice@example.com");
        Assert.Equal("paid", user.Attributes["plan"].StringValue);
        Assert.Equal(DateTimeOffset.Parse("2026-11-02T00:00:00Z").ToUnixTimeMilliseconds(), user.UpdatedAtMs);
    }

    [Fact]
    public async Task TwoSpellingsOfOneEmailBecomeOneProfile()
    {
        var ws = WorkspaceId();
        var key = await pipeline.CreateWorkspaceAsync(ws);

        await SendOkAsync("events", ws, key, Event("Signed Up", customerId: "  Bob@Example.COM ").ToJsonString());
        await SendOkAsync("events", ws, key, Event("Logged In", customerId: "bob@example.com").ToJsonString());

        var user = await GetUserAsync(ws, "bob@example.com");
        Assert.Equal(["Logged In", "Signed Up"], user.Events.Select(e => e.EventName).Order());
        await Assert.ThrowsAsync<RpcException>(() => GetUserAsync(ws, "Bob@Example.COM"));
    }

    [Fact]
    public async Task NormalisesPhonesToE164()
    {
        var ws = WorkspaceId();
        var key = await pipeline.CreateWorkspaceAsync(ws, IdentifierKind.Phone);

        await SendOkAsync("user", ws, key, User(customerId: "+1 (415) 555-0100").ToJsonString());
        await SendOkAsync("user", ws, key, User(customerId: "0014155550100", updatedAt: "2026-11-03T00:00:00Z").ToJsonString());

        var user = await GetUserAsync(ws, "+14155550100");
        Assert.Equal(DateTimeOffset.Parse("2026-11-03T00:00:00Z").ToUnixTimeMilliseconds(), user.UpdatedAtMs);
    }

    [Fact]
    public async Task ARepeatedPayloadIsAcknowledgedButStoredOnce()
    {
        var ws = WorkspaceId();
        var key = await pipeline.CreateWorkspaceAsync(ws);
        var body = Event("Order Completed").ToJsonString();

        await SendOkAsync("events", ws, key, body);
        await SendOkAsync("events", ws, key, body);

        Assert.Single(await ListEventsAsync(ws, "alice@example.com"));
        var user = await GetUserAsync(ws, "alice@example.com");
        Assert.Equal(1, user.Events.Single().Count);
        var db = (await ConnectionMultiplexer.ConnectAsync(pipeline.Redis.ConnectionString)).GetDatabase();
        Assert.Equal(1, await EventStreams.LengthAsync(db, ws));
    }

    [Fact]
    public async Task StoresRetroactiveEventsAtTheirEventTimeWithAggregates()
    {
        var ws = WorkspaceId();
        var key = await pipeline.CreateWorkspaceAsync(ws);
        long[] times = [1_600_000_000_000, 1_500_000_000_000, 1_700_000_000_000];
        foreach (var t in times)
        {
            var body = Event("Session Started");
            body["event_attributes"]!["event_time"] = t;
            await SendOkAsync("events", ws, key, body.ToJsonString());
        }

        var events = await ListEventsAsync(ws, "alice@example.com");
        Assert.Equal(times.Order(), events.Select(e => e.EventTimeMs));
        var stats = (await GetUserAsync(ws, "alice@example.com")).Events.Single(e => e.EventName == "Session Started");
        Assert.Equal(3, stats.Count);
        Assert.Equal(1_500_000_000_000, stats.FirstTimeMs);
        Assert.Equal(1_700_000_000_000, stats.LastTimeMs);
        Assert.Equal(42.5, events[0].Attributes["amount"].NumberValue);
    }

    [Fact]
    public async Task AppliesTheConfigsEventNameMapping()
    {
        var ws = WorkspaceId();
        var key = await pipeline.CreateWorkspaceAsync(ws);
        var config = new IntegrationConfig { WorkspaceId = ws, ConfigName = "heap", IdentifierKind = IdentifierKind.Email };
        config.EventNameMapping["Checkout Started"] = "checkout_started";
        await pipeline.AdminApi.CreateIntegrationConfigAsync(new CreateIntegrationConfigRequest { Config = config, Upsert = true }, pipeline.AdminHeaders);
        await Task.Delay(TimeSpan.FromSeconds(1.2)); // the edge's credential cache is 1 s in these tests

        await SendOkAsync("events", ws, key, Event("Checkout Started").ToJsonString());

        Assert.Equal("checkout_started", (await ListEventsAsync(ws, "alice@example.com")).Single().EventName);
    }

    [Fact]
    public async Task StreamEntriesCarryTheWebhooksTraceContext()
    {
        var ws = WorkspaceId();
        var key = await pipeline.CreateWorkspaceAsync(ws);

        await SendOkAsync("events", ws, key, Event().ToJsonString());

        var db = (await ConnectionMultiplexer.ConnectAsync(pipeline.Redis.ConnectionString)).GetDatabase();
        var entry = (await EventStreams.ReadAllAsync(db, ws)).Single();
        Assert.Equal("Checkout Started", entry.EventName);
        Assert.Equal("alice@example.com", entry.CustomerId);
        Assert.Matches("^00-[0-9a-f]{32}-[0-9a-f]{16}-0[01]$", entry.TraceParent);
    }

    [Fact]
    public async Task ManyParallelWebhooksForOneUserLoseNoEventAndKeepTheNewestProfile()
    {
        var ws = WorkspaceId();
        var key = await pipeline.CreateWorkspaceAsync(ws, rateLimit: 10_000);
        const int count = 100;

        var sends = Enumerable.Range(0, count).Select(async i =>
        {
            var body = Event("Item Viewed", updatedAt: 1_700_000_000_000 + i);
            body["event_attributes"]!["order_id"] = $"o-{i}";
            body["user_attributes"] = new System.Text.Json.Nodes.JsonObject { ["last_item"] = i };
            using var http = pipeline.Edge.CreateHttpClient();
            return (await http.SendAsync(InboundPipeline.Webhook("events", ws, key, body.ToJsonString()))).StatusCode;
        });
        var statuses = await Task.WhenAll(sends);

        Assert.All(statuses, s => Assert.Equal(HttpStatusCode.OK, s));
        var events = await ListEventsAsync(ws, "alice@example.com");
        Assert.Equal(count, events.Count);
        Assert.Equal(count, events.Select(e => e.Attributes["order_id"].StringValue).Distinct().Count());
        var user = await GetUserAsync(ws, "alice@example.com");
        Assert.Equal(1_700_000_000_000 + count - 1, user.UpdatedAtMs);
        Assert.Equal(count - 1, user.Attributes["last_item"].NumberValue);
    }
}
