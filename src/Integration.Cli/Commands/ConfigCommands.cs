using System.CommandLine;
using Integration.Admin.V1;

namespace Integration.Cli.Commands;

/// <summary>Integration configs: the common identifier and the webhook URLs Heap is given (admin token).</summary>
internal static class ConfigCommands
{
    public static Command Build(ServiceClients clients) => new("config", "Integration configs of a workspace (admin token)")
    {
        Create(clients),
        List(clients),
        Delete(clients),
        SetSyncSecret(clients),
        DeleteSyncSecret(clients),
    };

    private static Command SetSyncSecret(ServiceClients clients)
    {
        var workspace = Arguments.Workspace();
        var name = new Argument<string>("name") { Description = "The config whose Heap segment sync is signed with the secret" };
        var fromStdin = new Option<bool>("--from-stdin")
        {
            Description = "Read the secret (e.g. the one Heap assigned) from standard input instead of generating one; never pass it as an argument",
        };
        var command = new Command("set-sync-secret", "Sets or rotates the config's segment-sync secret and prints it and the sync URL once") { workspace, name, fromStdin };
        command.SetAction(async (parsed, cancellationToken) =>
        {
            var secret = parsed.GetValue(fromStdin) ? (await Console.In.ReadLineAsync(cancellationToken) ?? "").Trim() : "";
            return clients.Print(await clients.Admin.SetSyncSecretAsync(new SetSyncSecretRequest
            {
                WorkspaceId = parsed.GetRequiredValue(workspace),
                ConfigName = parsed.GetRequiredValue(name),
                SyncSecret = secret,
            }, clients.Call(cancellationToken)));
        });
        return command;
    }

    private static Command DeleteSyncSecret(ServiceClients clients)
    {
        var workspace = Arguments.Workspace();
        var name = new Argument<string>("name") { Description = "The config whose segment-sync secret to remove" };
        var command = new Command("delete-sync-secret", "Removes the config's segment-sync secret: its segment syncs are refused from then on") { workspace, name };
        command.SetAction(async (parsed, cancellationToken) => clients.Print(await clients.Admin.DeleteSyncSecretAsync(
            new DeleteSyncSecretRequest { WorkspaceId = parsed.GetRequiredValue(workspace), ConfigName = parsed.GetRequiredValue(name) }, clients.Call(cancellationToken))));
        return command;
    }

    private static Command Create(ServiceClients clients)
    {
        var workspace = Arguments.Workspace();
        var name = new Argument<string>("name") { Description = "The config's name (the webhooks' configName)" };
        var identifier = Arguments.IdentifierKind("The common identifier that links profiles", IdentifierKind.Email);
        var command = new Command("create", "Creates a config and prints both webhook URLs") { workspace, name, identifier };
        command.SetAction(async (parsed, cancellationToken) => clients.Print(await clients.Admin.CreateIntegrationConfigAsync(new CreateIntegrationConfigRequest
        {
            Config = new IntegrationConfig
            {
                WorkspaceId = parsed.GetRequiredValue(workspace),
                ConfigName = parsed.GetRequiredValue(name),
                IdentifierKind = parsed.GetValue(identifier),
            },
        }, clients.Call(cancellationToken))));
        return command;
    }

    private static Command List(ServiceClients clients)
    {
        var workspace = Arguments.Workspace();
        var command = new Command("list", "Lists the workspace's configs") { workspace };
        command.SetAction(async (parsed, cancellationToken) => clients.Print(await clients.Admin.ListIntegrationConfigsAsync(
            new ListIntegrationConfigsRequest { WorkspaceId = parsed.GetRequiredValue(workspace) }, clients.Call(cancellationToken))));
        return command;
    }

    private static Command Delete(ServiceClients clients)
    {
        var workspace = Arguments.Workspace();
        var name = new Argument<string>("name") { Description = "The config to delete" };
        var command = new Command("delete", "Deletes a config; its webhooks are refused from then on (404)") { workspace, name };
        command.SetAction(async (parsed, cancellationToken) => clients.Print(await clients.Admin.DeleteIntegrationConfigAsync(
            new DeleteIntegrationConfigRequest { WorkspaceId = parsed.GetRequiredValue(workspace), ConfigName = parsed.GetRequiredValue(name) }, clients.Call(cancellationToken))));
        return command;
    }
}
