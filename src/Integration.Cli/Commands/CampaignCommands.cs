using System.CommandLine;
using System.Globalization;
using Integration.Campaigns.V1;
using Integration.Common.V1;

namespace Integration.Cli.Commands;

/// <summary>Connector campaigns: read, pause and resume, preview and test, and business events.</summary>
internal static class CampaignCommands
{
    public static Command Build(ServiceClients clients) => new("campaigns", "Connector campaigns of a workspace")
    {
        List(clients),
        State(clients, "get", "Shows a campaign (secret header values redacted)",
            (request, options) => clients.Campaigns.GetCampaignAsync(new GetCampaignRequest { WorkspaceId = request.WorkspaceId, CampaignId = request.CampaignId }, options).ResponseAsync),
        State(clients, "pause", "Pauses a campaign: nothing new is sent until it is resumed",
            (request, options) => clients.Campaigns.PauseCampaignAsync(request, options).ResponseAsync),
        State(clients, "resume", "Resumes a paused campaign",
            (request, options) => clients.Campaigns.ResumeCampaignAsync(request, options).ResponseAsync),
        State(clients, "archive", "Archives a campaign for good",
            (request, options) => clients.Campaigns.ArchiveCampaignAsync(request, options).ResponseAsync),
        ForUser(clients, "preview", "Renders the campaign's requests for one user; nothing is sent",
            (workspace, campaign, customer, options) => clients.Campaigns.PreviewCampaignAsync(
                new PreviewCampaignRequest { WorkspaceId = workspace, CampaignId = campaign, CustomerId = customer }, options).ResponseAsync),
        ForUser(clients, "test", "Sends the campaign's requests once for one user and shows request and response",
            (workspace, campaign, customer, options) => clients.Campaigns.TestCampaignAsync(
                new TestCampaignRequest { WorkspaceId = workspace, CampaignId = campaign, CustomerId = customer }, options).ResponseAsync),
    };

    public static Command BusinessEvent(ServiceClients clients)
    {
        var workspace = Arguments.Workspace();
        var name = new Argument<string>("name") { Description = "The business event's name" };
        var attributes = new Argument<string[]>("attributes")
        {
            Description = "key=value attributes (numbers stay numbers)",
            Arity = ArgumentArity.ZeroOrMore,
        };
        var command = new Command("business-event", "Raises a business event: every listening campaign sends to its audience") { workspace, name, attributes };
        command.SetAction(async (parsed, cancellationToken) =>
        {
            var request = new TriggerBusinessEventRequest { WorkspaceId = parsed.GetRequiredValue(workspace), Name = parsed.GetRequiredValue(name) };
            foreach (var pair in parsed.GetValue(attributes) ?? [])
            {
                var eq = pair.IndexOf('=');
                if (eq <= 0)
                {
                    throw new ArgumentException($"Business event attributes are key=value, not '{pair}'.");
                }
                var value = pair[(eq + 1)..];
                request.Attributes[pair[..eq]] = double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out var number)
                    ? new AttributeValue { NumberValue = number }
                    : new AttributeValue { StringValue = value };
            }
            return clients.Print(await clients.Campaigns.TriggerBusinessEventAsync(request, clients.Call(cancellationToken)));
        });
        return command;
    }

    private static Command List(ServiceClients clients)
    {
        var workspace = Arguments.Workspace();
        var command = new Command("list", "Lists the workspace's campaigns, newest first") { workspace };
        command.SetAction(async (parsed, cancellationToken) => clients.Print(await clients.Campaigns.ListCampaignsAsync(
            new ListCampaignsRequest { WorkspaceId = parsed.GetRequiredValue(workspace) }, clients.Call(cancellationToken))));
        return command;
    }

    private static Command State(ServiceClients clients, string name, string description,
        Func<CampaignStateRequest, Grpc.Core.CallOptions, Task<Campaign>> call)
    {
        var workspace = Arguments.Workspace();
        var campaign = Arguments.Campaign();
        var command = new Command(name, description) { workspace, campaign };
        command.SetAction(async (parsed, cancellationToken) => clients.Print(await call(
            new CampaignStateRequest { WorkspaceId = parsed.GetRequiredValue(workspace), CampaignId = parsed.GetRequiredValue(campaign) },
            clients.Call(cancellationToken))));
        return command;
    }

    private static Command ForUser<T>(ServiceClients clients, string name, string description,
        Func<string, string, string, Grpc.Core.CallOptions, Task<T>> call) where T : Google.Protobuf.IMessage
    {
        var workspace = Arguments.Workspace();
        var campaign = Arguments.Campaign();
        var customer = Arguments.Customer();
        var command = new Command(name, description) { workspace, campaign, customer };
        command.SetAction(async (parsed, cancellationToken) => clients.Print(await call(
            parsed.GetRequiredValue(workspace), parsed.GetRequiredValue(campaign), parsed.GetRequiredValue(customer), clients.Call(cancellationToken))));
        return command;
    }
}
