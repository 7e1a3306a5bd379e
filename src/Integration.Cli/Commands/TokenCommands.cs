using System.CommandLine;
using Integration.Admin.V1;

namespace Integration.Cli.Commands;

/// <summary>Workspace API tokens and the audit log (admin token, or a workspace token for its own workspace).</summary>
internal static class TokenCommands
{
    public static Command Tokens(ServiceClients clients) => new("tokens", "Workspace API tokens: each acts on its own workspace only")
    {
        Create(clients),
        List(clients),
        Revoke(clients),
    };

    private static Command Create(ServiceClients clients)
    {
        var workspace = Arguments.Workspace();
        var name = new Argument<string>("name") { Description = "What the token is for (1-100 characters, e.g. \"campaign team\")" };
        var command = new Command("create", "Creates a token and prints it once (only its hash is stored)") { workspace, name };
        command.SetAction(async (parsed, cancellationToken) => clients.Print(await clients.Admin.CreateWorkspaceTokenAsync(
            new CreateWorkspaceTokenRequest { WorkspaceId = parsed.GetRequiredValue(workspace), Name = parsed.GetRequiredValue(name) },
            clients.Call(cancellationToken))));
        return command;
    }

    private static Command List(ServiceClients clients)
    {
        var workspace = Arguments.Workspace();
        var command = new Command("list", "Lists the workspace's tokens (ids and names, never the tokens)") { workspace };
        command.SetAction(async (parsed, cancellationToken) => clients.Print(await clients.Admin.ListWorkspaceTokensAsync(
            new ListWorkspaceTokensRequest { WorkspaceId = parsed.GetRequiredValue(workspace) }, clients.Call(cancellationToken))));
        return command;
    }

    private static Command Revoke(ServiceClients clients)
    {
        var workspace = Arguments.Workspace();
        var tokenId = new Argument<string>("token_id") { Description = "Id of the token to revoke (see 'tokens list')" };
        var command = new Command("revoke", "Revokes a token; the next call with it is refused") { workspace, tokenId };
        command.SetAction(async (parsed, cancellationToken) => clients.Print(await clients.Admin.RevokeWorkspaceTokenAsync(
            new RevokeWorkspaceTokenRequest { WorkspaceId = parsed.GetRequiredValue(workspace), TokenId = parsed.GetRequiredValue(tokenId) },
            clients.Call(cancellationToken))));
        return command;
    }

    public static Command Audit(ServiceClients clients)
    {
        var workspace = Arguments.Workspace();
        var limit = Arguments.Limit("Entries to show", 100);
        var page = new Option<string>("--page-token") { Description = "next_page_token of the previous page, for older entries" };
        var command = new Command("audit", "The workspace's audit log, newest first: who (token id) changed what, when") { workspace, limit, page };
        command.SetAction(async (parsed, cancellationToken) => clients.Print(await clients.Admin.ListAuditLogAsync(new ListAuditLogRequest
        {
            WorkspaceId = parsed.GetRequiredValue(workspace),
            PageSize = parsed.GetValue(limit),
            PageToken = parsed.GetValue(page) ?? "",
        }, clients.Call(cancellationToken))));
        return command;
    }
}
