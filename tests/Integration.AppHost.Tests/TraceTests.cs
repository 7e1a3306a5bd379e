using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Grpc.Core;
using Grpc.Net.Client;
using Integration.Campaigns.V1;

namespace Integration.AppHost.Tests;

/// <summary>
/// DESIGN §6: one trace follows a webhook from the edge through ingestion and Redis into the campaign it
/// triggers and the HTTP call to Heap. Checked on the spans the four services really export.
/// </summary>
[Collection(AppHostCollection.Name)]
public sealed class TraceTests(AppHostFixture fixture)
{
    private static readonly string[] TracedServices = ["edge", "ingestion", "campaigns", "heap"];

    [Fact]
    public async Task OneTraceSpansTheEdgeIngestionCampaignsAndTheEmulator()
    {
        using var cts = new CancellationTokenSource(AppHostFixture.StartTimeout);
        foreach (var resource in TracedServices)
        {
            await fixture.App.ResourceNotifications.WaitForResourceHealthyAsync(resource, cts.Token);
        }

        var heapUrl = fixture.App.GetEndpoint("heap", "http");
        using var channel = GrpcChannel.ForAddress(fixture.App.GetEndpoint("campaigns", "grpc"));
        var campaigns = new Campaigns.V1.Campaigns.CampaignsClient(channel);
        var probe = "Trace Probe " + Guid.NewGuid().ToString("N")[..8];
        var spec = new CampaignSpec
        {
            Name = probe,
            EventTriggered = new EventTriggeredDelivery { EventName = probe },
            Steps =
            {
                new RequestStep
                {
                    Method = "POST",
                    Url = new Uri(heapUrl, "/api/track").ToString(),
                    BodyFormat = BodyFormat.Json,
                    Body = "{\"app_id\":\"heap-demo-app\",\"identity\":\"{{UserAttribute['ID']}}\",\"event\":\"" + probe + " Sent\"}",
                },
            },
        };
        await campaigns.CreateCampaignAsync(new CreateCampaignRequest { WorkspaceId = "DEMO0001", Spec = spec, Activate = true },
            new Metadata { { "authorization", "Bearer dev-admin-token" } }, deadline: DateTime.UtcNow.AddSeconds(30), cancellationToken: cts.Token);

        using var edge = fixture.App.CreateHttpClient("edge", "http");
        edge.Timeout = TimeSpan.FromSeconds(60);
        var requestId = await SendProbeAsync(edge, probe, cts.Token);

        using var heap = new HttpClient { BaseAddress = heapUrl, Timeout = TimeSpan.FromSeconds(60) };
        var traceId = await EventuallyAsync(async () =>
        {
            var page = await heap.GetFromJsonAsync<JsonElement>($"/_emulator/events?event={Uri.EscapeDataString(probe + " Sent")}", cts.Token);
            return page.GetProperty("count").GetInt32() > 0 ? page.GetProperty("events")[0].GetProperty("trace_id").GetString() : null;
        }, TimeSpan.FromSeconds(60), "the campaign's track call to reach the emulator", cts.Token);
        Assert.Equal(requestId, traceId);

        var services = await EventuallyAsync(() =>
        {
            var seen = fixture.Traces.Spans.Where(s => s.TraceId == requestId).Select(s => s.Service).Distinct().ToList();
            return Task.FromResult(TracedServices.All(seen.Contains) ? seen : null);
        }, TimeSpan.FromSeconds(30), "spans of every service in the webhook's trace", cts.Token);
        Assert.Superset(TracedServices.ToHashSet(), services.ToHashSet());
    }

    private static async Task<string> SendProbeAsync(HttpClient edge, string probe, CancellationToken cancellationToken)
    {
        // The demo workspace is provisioned in the background at start; give it a bounded moment.
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (true)
        {
            // Dated now: an event dated before the campaign's activation would never fire it (the backfill rule).
            var body = "{\"customer_id\":\"tracer@example.com\",\"updated_at\":\"" + DateTime.UtcNow.ToString("O") + "\",\"first_name\":\"T\",\"last_name\":\"R\"," +
                "\"email\":\"tracer@example.com\",\"phone\":\"\",\"event_attributes\":{\"event_name\":\"" + probe + "\"}}";
            using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/partner/heap-analytics/events/?configName=heap-demo")
            {
                Content = new StringContent(body, Encoding.UTF8, "application/json"),
            };
            request.Headers.Authorization = new AuthenticationHeaderValue("Basic", Convert.ToBase64String("DEMO0001:demo-key"u8.ToArray()));
            using var response = await edge.SendAsync(request, cancellationToken);
            if (response.StatusCode == HttpStatusCode.OK)
            {
                var json = await response.Content.ReadFromJsonAsync<JsonElement>(cancellationToken);
                return json.GetProperty("request_id").GetString()!;
            }
            Assert.True(DateTime.UtcNow < deadline, $"the edge kept answering {(int)response.StatusCode}");
            await Task.Delay(500, cancellationToken);
        }
    }

    private static async Task<T> EventuallyAsync<T>(Func<Task<T?>> probe, TimeSpan timeout, string what, CancellationToken cancellationToken) where T : class
    {
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            if (await probe() is { } value)
            {
                return value;
            }
            Assert.True(DateTime.UtcNow < deadline, $"Timed out after {timeout.TotalSeconds} s waiting for {what}.");
            await Task.Delay(250, cancellationToken);
        }
    }
}
