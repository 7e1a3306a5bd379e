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
    };

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
