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
        Create(clients),
        Update(clients),
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
        UserTimeZone(clients),
    };

    // One spelling table for parsing --passed and for its help.
    private static readonly (string Name, PassedTimeZoneAction Action)[] PassedActions =
    [
        ("campaign-time", PassedTimeZoneAction.SendAtCampaignTime),
        ("skip", PassedTimeZoneAction.Skip),
    ];

    /// <summary>Turns sending in users' time zones on (with what happens to zones already past) or off for a One Time or Periodic campaign.</summary>
    private static Command UserTimeZone(ServiceClients clients)
    {
        var workspace = Arguments.Workspace();
        var campaign = Arguments.Campaign();
        var passed = new Option<PassedTimeZoneAction?>("--passed")
        {
            Description = "Users whose local time had passed when an occurrence started: campaign-time (default: at the campaign's zone time, "
                + "or at once if that passed too) or skip (counted as skipped:time_zone_passed)",
            HelpName = string.Join('|', PassedActions.Select(a => a.Name)),
            CustomParser = result => Arguments.Spelled(result, PassedActions, "--passed value", "campaign-time or skip"),
        };
        var zone = new Option<string?>("--time-zone")
        {
            Description = "The campaign's IANA time zone (its time is read there; users without a valid zone are in it), e.g. Europe/Berlin",
        };
        var off = new Option<bool>("--off") { Description = "Send everyone at the campaign's time again (stop sending in users' time zones)" };
        var command = new Command("user-time-zone",
            "Sends a One Time or Periodic campaign at each user's local time (their zone attribute, see 'settings'), or stops it with --off")
        {
            workspace, campaign, passed, zone, off,
        };
        command.Validators.Add(result =>
        {
            if (result.GetValue(off) && result.GetValue(passed) is not null)
            {
                result.AddError("--off and --passed do not go together.");
            }
        });
        command.SetAction(async (parsed, cancellationToken) =>
        {
            var ids = new GetCampaignRequest { WorkspaceId = parsed.GetRequiredValue(workspace), CampaignId = parsed.GetRequiredValue(campaign) };
            var current = await clients.Campaigns.GetCampaignAsync(ids, clients.Call(cancellationToken));
            var spec = current.Spec;
            var setting = parsed.GetValue(off) ? null : new UserTimeZoneDelivery { PassedTimeZoneAction = parsed.GetValue(passed) ?? PassedTimeZoneAction.Unspecified };
            var timeZone = parsed.GetValue(zone);
            switch (spec.DeliveryCase)
            {
                case CampaignSpec.DeliveryOneofCase.OneTime:
                    spec.OneTime.UserTimeZone = setting;
                    spec.OneTime.TimeZone = timeZone ?? spec.OneTime.TimeZone;
                    break;
                case CampaignSpec.DeliveryOneofCase.Periodic:
                    spec.Periodic.UserTimeZone = setting;
                    spec.Periodic.TimeZone = timeZone ?? spec.Periodic.TimeZone;
                    break;
                default:
                    throw new ArgumentException($"Campaign {current.CampaignId} is {spec.DeliveryCase}: only One Time and Periodic campaigns send in users' time zones.");
            }
            return await ReplaceSpecAsync(clients, current, spec, cancellationToken);
        });
        return command;
    }

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

    private static Command Create(ServiceClients clients)
    {
        var workspace = Arguments.Workspace();
        var spec = SpecFiles.Argument("spec_file", "CampaignSpec (name, audience, one_time | periodic | event_triggered | business_event, steps, options, conversion_goals; docs/campaigns.md)");
        var activate = new Option<bool>("--activate") { Description = "Activate at once instead of saving a draft (a draft is activated with 'campaigns resume')" };
        var command = new Command("create", "Creates a campaign from a definition file and prints it with its id") { workspace, spec, activate };
        command.SetAction(async (parsed, cancellationToken) => clients.Print(await clients.Campaigns.CreateCampaignAsync(new CreateCampaignRequest
        {
            WorkspaceId = parsed.GetRequiredValue(workspace),
            Spec = await SpecFiles.ReadAsync<CampaignSpec>(parsed.GetRequiredValue(spec), cancellationToken),
            Activate = parsed.GetValue(activate),
        }, clients.Call(cancellationToken))));
        return command;
    }

    private static Command Update(ServiceClients clients)
    {
        var workspace = Arguments.Workspace();
        var campaign = Arguments.Campaign();
        var spec = SpecFiles.Argument("spec_file", "whole new CampaignSpec (as 'campaigns get' prints it under spec; \"***\" header values keep the stored secret)");
        var command = new Command("update", "Replaces a campaign's definition (not its state) with a file's, based on the version read just before") { workspace, campaign, spec };
        command.SetAction(async (parsed, cancellationToken) =>
        {
            var definition = await SpecFiles.ReadAsync<CampaignSpec>(parsed.GetRequiredValue(spec), cancellationToken);
            var current = await clients.Campaigns.GetCampaignAsync(new GetCampaignRequest
            {
                WorkspaceId = parsed.GetRequiredValue(workspace),
                CampaignId = parsed.GetRequiredValue(campaign),
            }, clients.Call(cancellationToken));
            return await ReplaceSpecAsync(clients, current, definition, cancellationToken);
        });
        return command;
    }

    /// <summary>
    /// Saves <paramref name="spec"/> over the campaign as it was read: a concurrent edit since the read is Aborted, not
    /// overwritten, and secret header values sent back as *** keep the stored ones.
    /// </summary>
    private static async Task<int> ReplaceSpecAsync(ServiceClients clients, Campaign current, CampaignSpec spec, CancellationToken cancellationToken) =>
        clients.Print(await clients.Campaigns.UpdateCampaignAsync(new UpdateCampaignRequest
        {
            WorkspaceId = current.WorkspaceId,
            CampaignId = current.CampaignId,
            Spec = spec,
            ExpectedVersion = current.Version,
        }, clients.Call(cancellationToken)));

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
