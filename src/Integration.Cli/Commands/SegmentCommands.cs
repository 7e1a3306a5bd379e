using System.CommandLine;
using Integration.Campaigns.V1;
using Integration.Common.V1;

namespace Integration.Cli.Commands;

/// <summary>The segment builder: count or list the users of a segment definition, or of a campaign's audience.</summary>
internal static class SegmentCommands
{
    public static Command Build(ServiceClients clients) => new("segments", "Counts or lists the users of a segment (the segment builder) or of a campaign's audience")
    {
        Count(clients),
        Users(clients),
    };

    private static (Argument<string?> Definition, Option<string?> Campaign) Source()
    {
        var definition = new Argument<string?>("definition_file")
        {
            Description = "File with the SegmentDefinition in protobuf JSON (filters: attribute, event, group, heap_segment; docs/campaigns.md); '-': standard input",
            Arity = ArgumentArity.ZeroOrOne,
        };
        var campaign = new Option<string?>("--campaign") { Description = "Use this campaign's audience instead of a definition file" };
        return (definition, campaign);
    }

    private static void RequireOneSource(Command command, Argument<string?> definition, Option<string?> campaign) => command.Validators.Add(result =>
    {
        if ((result.GetValue(definition) is null) == (result.GetValue(campaign) is null))
        {
            result.AddError("Give either a definition file or --campaign <campaign_id>.");
        }
    });

    private static async Task<SegmentDefinition?> ReadAsync(string? path, CancellationToken cancellationToken) =>
        path is null ? null : await SpecFiles.ReadAsync<SegmentDefinition>(path, cancellationToken);

    private static Command Count(ServiceClients clients)
    {
        var workspace = Arguments.Workspace();
        var (definition, campaign) = Source();
        var command = new Command("count", "Counts the users that match (matching) out of those examined (total)") { workspace, definition, campaign };
        RequireOneSource(command, definition, campaign);
        command.SetAction(async (parsed, cancellationToken) => clients.Print(await clients.Campaigns.CountSegmentAsync(new CountSegmentRequest
        {
            WorkspaceId = parsed.GetRequiredValue(workspace),
            Segment = await ReadAsync(parsed.GetValue(definition), cancellationToken),
            CampaignId = parsed.GetValue(campaign) ?? "",
        }, clients.Call(cancellationToken))));
        return command;
    }

    private static Command Users(ServiceClients clients)
    {
        var workspace = Arguments.Workspace();
        var (definition, campaign) = Source();
        var limit = Arguments.Limit("Users in one page", 100);
        var page = new Option<string?>("--page-token") { Description = "next_page_token of the previous page, for the next users" };
        var command = new Command("users", "Lists one page of the users that match, with their profile attributes") { workspace, definition, campaign, limit, page };
        RequireOneSource(command, definition, campaign);
        command.SetAction(async (parsed, cancellationToken) => clients.Print(await clients.Campaigns.ListSegmentUsersAsync(new ListSegmentUsersRequest
        {
            WorkspaceId = parsed.GetRequiredValue(workspace),
            Segment = await ReadAsync(parsed.GetValue(definition), cancellationToken),
            CampaignId = parsed.GetValue(campaign) ?? "",
            PageSize = parsed.GetValue(limit),
            PageToken = parsed.GetValue(page) ?? "",
        }, clients.Call(cancellationToken))));
        return command;
    }
}
