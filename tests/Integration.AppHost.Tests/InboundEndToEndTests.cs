using System.Net;
using System.Net.Http.Headers;
using System.Text;
using Grpc.Net.Client;
using Integration.Ingestion.V1;

namespace Integration.AppHost.Tests;

/// <summary>What a newcomer does after the README's run command: curl the demo workspace, read the data back.</summary>
[Collection(AppHostCollection.Name)]
public sealed class InboundEndToEndTests(AppHostFixture fixture)
{
    [Fact]
    public async Task ADemoWebhookIsStoredAndReadableThroughGrpc()
    {
        using var cts = new CancellationTokenSource(AppHostFixture.StartTimeout);
        await fixture.App.ResourceNotifications.WaitForResourceHealthyAsync("edge", cts.Token);
        using var edge = fixture.App.CreateHttpClient("edge", "http");
        edge.Timeout = TimeSpan.FromSeconds(60);
        var body = """
            {"customer_id":"Carol@Example.com","updated_at":"2026-11-01T10:00:00Z","first_name":"Carol","last_name":"C",
             "email":"carol@example.com","phone":"","event_attributes":{"event_name":"Checkout Started","order_id":"o-9"}}
            """;

        // The demo workspace is provisioned in the background at start; give it a bounded moment.
        HttpResponseMessage response;
        var deadline = DateTime.UtcNow.AddSeconds(60);
        do
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/partner/heap-analytics/events/?configName=heap-demo")
            {
                Content = new StringContent(body, Encoding.UTF8, "application/json"),
            };
            request.Headers.Authorization = new AuthenticationHeaderValue("Basic", Convert.ToBase64String("DEMO0001:demo-key"u8.ToArray()));
            response = await edge.SendAsync(request, cts.Token);
            if (response.StatusCode == HttpStatusCode.OK)
            {
                break;
            }
            await Task.Delay(500, cts.Token);
        }
        while (DateTime.UtcNow < deadline);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Contains("\"status\":\"success\"", await response.Content.ReadAsStringAsync(cts.Token));

        var endpoint = fixture.App.GetEndpoint("ingestion", "grpc");
        using var channel = GrpcChannel.ForAddress(endpoint);
        var client = new Ingestion.V1.Ingestion.IngestionClient(channel);
        var unauthenticated = await Assert.ThrowsAsync<Grpc.Core.RpcException>(() => client.GetUserAsync(
            new GetUserRequest { WorkspaceId = "DEMO0001", CustomerId = "carol@example.com" }, deadline: DateTime.UtcNow.AddSeconds(60)).ResponseAsync);
        Assert.Equal(Grpc.Core.StatusCode.Unauthenticated, unauthenticated.StatusCode);
        var user = await client.GetUserAsync(new GetUserRequest { WorkspaceId = "DEMO0001", CustomerId = "carol@example.com" },
            new Grpc.Core.Metadata { { "authorization", "Bearer dev-internal-token" } },
            deadline: DateTime.UtcNow.AddSeconds(60), cancellationToken: cts.Token);
        Assert.Equal("Carol", user.Attributes["first_name"].StringValue);
        Assert.Equal(1, user.Events.Single(e => e.EventName == "Checkout Started").Count);
    }
}
