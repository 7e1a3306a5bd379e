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

    // One spelling table for parsing --modules and for its help: the webhook paths' names ("custom_properties" is also accepted).
    private static readonly (string Name, SyncModule Module)[] Modules =
    [
        ("users", SyncModule.Users),
        ("events", SyncModule.Events),
        ("sessions", SyncModule.Sessions),
        ("custom-properties", SyncModule.CustomProperties),
        ("custom_properties", SyncModule.CustomProperties),
    ];

    private static Command Create(ServiceClients clients)
    {
        var workspace = Arguments.Workspace();
        var name = new Argument<string>("name") { Description = "The config's name (the webhooks' configName)" };
        var identifier = Arguments.IdentifierKind("The common identifier that links profiles", IdentifierKind.Email);
        var modules = new Option<SyncModule[]>("--modules")
        {
            Description = "Heap sync modules switched on, comma-separated (default all four); a webhook for a module that is off is refused with 400",
            HelpName = "users,events,sessions,custom-properties",
            AllowMultipleArgumentsPerToken = true,
            CustomParser = result =>
            {
                var parsed = new List<SyncModule>();
                foreach (var part in result.Tokens.SelectMany(t => t.Value.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries)))
                {
                    var match = Modules.FirstOrDefault(m => string.Equals(m.Name, part, StringComparison.OrdinalIgnoreCase));
                    if (match.Name is null)
                    {
                        result.AddError($"Unknown sync module '{part}': use users, events, sessions or custom-properties.");
                        return [];
                    }
                    parsed.Add(match.Module);
                }
                if (parsed.Count == 0)
                {
                    result.AddError("--modules needs at least one of users, events, sessions, custom-properties.");
                }
                return [.. parsed];
            },
        };
        var mapEvent = new Option<string[]>("--map-event")
        {
            Description = "Rename a Heap event on the way in, heap_name=moengage_name (repeat for more); names not listed are kept",
            HelpName = "heap=moengage",
            AllowMultipleArgumentsPerToken = false,
        };
        var replace = new Option<bool>("--replace") { Description = "Replace the config if it exists (its sync secret stays) instead of failing with AlreadyExists" };
        var command = new Command("create", "Creates (or with --replace changes) a config and prints its webhook URLs") { workspace, name, identifier, modules, mapEvent, replace };
        command.SetAction(async (parsed, cancellationToken) =>
        {
            var config = new IntegrationConfig
            {
                WorkspaceId = parsed.GetRequiredValue(workspace),
                ConfigName = parsed.GetRequiredValue(name),
                IdentifierKind = parsed.GetValue(identifier),
            };
            config.Modules.AddRange(parsed.GetValue(modules) ?? []);
            foreach (var pair in parsed.GetValue(mapEvent) ?? [])
            {
                var eq = pair.IndexOf('=');
                if (eq <= 0 || eq == pair.Length - 1)
                {
                    throw new ArgumentException($"--map-event takes heap_name=moengage_name, not '{pair}'.");
                }
                config.EventNameMapping[pair[..eq]] = pair[(eq + 1)..];
            }
            return clients.Print(await clients.Admin.CreateIntegrationConfigAsync(
                new CreateIntegrationConfigRequest { Config = config, Upsert = parsed.GetValue(replace) }, clients.Call(cancellationToken)));
        });
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
