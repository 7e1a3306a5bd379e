using Grpc.Core;
using Integration.Campaigns.V1;
using Microsoft.Extensions.Options;

namespace Integration.HeapTraffic;

/// <summary>
/// Makes sure the demo workspace has the three campaigns of MoEngage's Heap guide, active and aimed at
/// the heap emulator, so the traffic this resource plays shows campaigns firing: drop-off re-engagement,
/// feature adoption and trial conversion. Existing campaigns (by name) are left as they are.
/// </summary>
internal sealed partial class DemoCampaigns(Campaigns.V1.Campaigns.CampaignsClient campaigns, IOptions<TrafficOptions> options, ILogger<DemoCampaigns> logger)
{
    private const string AppId = "heap-demo-app";

    public async Task EnsureAsync(CancellationToken cancellationToken)
    {
        var o = options.Value;
        if (string.IsNullOrEmpty(o.HeapTrackUrl))
        {
            return;
        }
        var auth = new Metadata { { "authorization", $"Bearer {o.AdminToken}" } };
        var existing = await campaigns.ListCampaignsAsync(new ListCampaignsRequest { WorkspaceId = o.WorkspaceId, PageSize = 500 },
            auth, cancellationToken: cancellationToken);
        var names = existing.Campaigns.Select(c => c.Spec.Name).ToHashSet();

        foreach (var spec in Specs(o.HeapTrackUrl))
        {
            if (names.Contains(spec.Name))
            {
                continue;
            }
            await campaigns.CreateCampaignAsync(new CreateCampaignRequest { WorkspaceId = o.WorkspaceId, Spec = spec, Activate = true },
                auth, cancellationToken: cancellationToken);
            LogCreated(logger, spec.Name, o.WorkspaceId);
        }
    }

    private static IEnumerable<CampaignSpec> Specs(string trackUrl)
    {
        // Statements go in front of the body: right after the properties' '{' a '{%' would read as '{{' followed by '%'.
        static RequestStep Track(string url, string eventName, string properties, long delayMs = 0, string statements = "") => new()
        {
            Method = "POST",
            Url = url,
            BodyFormat = BodyFormat.Json,
            Body = statements + "{\"app_id\":\"" + AppId + "\",\"identity\":\"{{UserAttribute['ID']}}\",\"event\":\"" + eventName +
                "\",\"properties\":{" + properties + "}}",
            DelayMs = delayMs,
        };

        yield return new CampaignSpec
        {
            Name = "Demo: cart reminder (drop-off)",
            EventTriggered = new EventTriggeredDelivery { EventName = "Checkout Started", ExitEventName = "Order Completed" },
            Steps =
            {
                Track(trackUrl, "Cart Reminder Sent",
                    "\"order_id\":\"{{EventAttribute['order_id']}}\",\"name\":\"{{UserAttribute['First Name']|default('there')|title}}\"," +
                    "\"sent\":\"{{now('Europe/Berlin')|strftime('%Y-%m-%d %H:%M')}}\"",
                    delayMs: 20_000),
            },
        };
        yield return new CampaignSpec
        {
            Name = "Demo: feature adoption",
            EventTriggered = new EventTriggeredDelivery { EventName = "Feature Used", FirstTimeOnly = true, ExitEventName = "Trial Ended" },
            Steps =
            {
                Track(trackUrl, "Feature Tip 1", "\"feature\":\"{{EventAttribute['feature']|replace('_', ' ')|capitalize}}\""),
                Track(trackUrl, "Feature Tip 2", "\"feature\":\"{{EventAttribute['feature']}}\"", delayMs: 30_000),
            },
        };
        yield return new CampaignSpec
        {
            Name = "Demo: trial conversion",
            EventTriggered = new EventTriggeredDelivery { EventName = "Trial Ended" },
            Steps =
            {
                // The offer is tiered by usage intensity: the user's number of sessions.
                Track(trackUrl, "Trial Offer Sent",
                    "\"sessions\":{{sessions}},\"offer\":\"{% if sessions >= 5 %}30%{% elif sessions >= 3 %}15%{% else %}5%{% endif %}\"",
                    statements: "{% set sessions = UserEvent['Session Started'].count %}"),
            },
        };
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Created demo campaign '{Name}' in workspace {WorkspaceId}.")]
    private static partial void LogCreated(ILogger logger, string name, string workspaceId);
}
