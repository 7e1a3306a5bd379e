using System.Net;
using Integration.Admin.V1;
using Integration.Ingestion.V1;
using static Integration.Edge.Tests.Webhooks.Payloads;

namespace Integration.Edge.Tests.Webhooks;

/// <summary>Heap's four sync modules, each on its own path, switched on per config and recorded on the stored event.</summary>
[Collection(InboundCollection.Name)]
public sealed class SyncModuleTests(InboundPipeline pipeline)
{
    private readonly HttpClient _http = pipeline.Edge.CreateHttpClient();

    private async Task<IList<StoredEvent>> ListEventsAsync(string ws, string customerId) =>
        (await pipeline.IngestionApi.ListUserEventsAsync(new ListUserEventsRequest { WorkspaceId = ws, CustomerId = customerId, Limit = 100 },
            deadline: DateTime.UtcNow.AddSeconds(60))).Events;

    [Theory]
    [InlineData("events", SyncModule.Events)]
    [InlineData("sessions", SyncModule.Sessions)]
    [InlineData("custom-properties", SyncModule.CustomProperties)]
    public async Task EachEventModuleStoresItsEventsRecordingTheModule(string path, SyncModule module)
    {
        var ws = WorkspaceId();
        var key = await pipeline.CreateWorkspaceAsync(ws, modules: [module]);

        var response = await _http.SendAsync(InboundPipeline.Webhook(path, ws, key, Event("Session Started").ToJsonString()));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var stored = Assert.Single(await ListEventsAsync(ws, "alice@example.com"));
        Assert.Equal((int)module, stored.Module);
        Assert.Equal("Session Started", stored.EventName);
    }

    [Fact]
    public async Task TheSameBodyThroughTwoModulesIsTwoEvents()
    {
        var ws = WorkspaceId();
        var key = await pipeline.CreateWorkspaceAsync(ws);
        var body = Event("Page Viewed").ToJsonString();

        Assert.Equal(HttpStatusCode.OK, (await _http.SendAsync(InboundPipeline.Webhook("sessions", ws, key, body))).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await _http.SendAsync(InboundPipeline.Webhook("custom-properties", ws, key, body))).StatusCode);

        Assert.Equal([(int)SyncModule.Sessions, (int)SyncModule.CustomProperties],
            (await ListEventsAsync(ws, "alice@example.com")).Select(e => e.Module).Order());
    }

    [Theory]
    [InlineData("user", SyncModule.Events)]
    [InlineData("events", SyncModule.Sessions)]
    [InlineData("sessions", SyncModule.Events)]
    [InlineData("custom-properties", SyncModule.Sessions)]
    public async Task AConfigWithoutTheModuleRefusesItsPayloadsWith400(string path, SyncModule enabled)
    {
        var ws = WorkspaceId();
        var key = await pipeline.CreateWorkspaceAsync(ws, modules: [enabled]);
        var body = path == "user" ? User() : Event();

        var response = await _http.SendAsync(InboundPipeline.Webhook(path, ws, key, body.ToJsonString()));

        var fail = await StatusTableTests.AssertFailAsync(response, HttpStatusCode.BadRequest, "module");
        Assert.Contains($"The {path} module is not enabled", fail.GetProperty("error").GetProperty("message").GetString(), StringComparison.Ordinal);
        Assert.Empty(await ListEventsAsync(ws, "alice@example.com"));
    }

    [Fact]
    public async Task SessionsAndCustomPropertiesNeedEventAttributesLikeEvents()
    {
        var ws = WorkspaceId();
        var key = await pipeline.CreateWorkspaceAsync(ws);

        var response = await _http.SendAsync(InboundPipeline.Webhook("sessions", ws, key, User().ToJsonString()));

        await StatusTableTests.AssertFailAsync(response, HttpStatusCode.BadRequest, "event_attributes");
    }
}
