using System.CommandLine;
using Integration.Admin.V1;

namespace Integration.Cli.Commands;

/// <summary>Workspaces: create, read, rotate the data API key, change the rate limit and the retention (admin token).</summary>
internal static class WorkspaceCommands
{
    public static Command Build(ServiceClients clients) => new("workspace", "Workspaces: their data API keys, rate limits and retention (admin token)")
    {
        Create(clients),
        Get(clients),
        RotateKey(clients),
        SetLimit(clients),
        SetRetention(clients),
    };

    private static Command Create(ServiceClients clients)
    {
        var id = new Argument<string>("id") { Description = "The new workspace's id ([A-Za-z0-9_-], 1-64 characters)" };
        var name = new Option<string>("--name") { Description = "Display name (default: the id)", DefaultValueFactory = _ => "" };
        var limit = new Option<int>("--limit") { Description = "Webhooks per second (default 500)", DefaultValueFactory = _ => 0 };
        var command = new Command("create", "Creates a workspace and prints its data API key once") { id, name, limit };
        command.SetAction(async (parsed, cancellationToken) => clients.Print(await clients.Admin.CreateWorkspaceAsync(new CreateWorkspaceRequest
        {
            WorkspaceId = parsed.GetRequiredValue(id),
            Name = parsed.GetValue(name) ?? "",
            RateLimitPerSecond = parsed.GetValue(limit),
        }, clients.Call(cancellationToken))));
        return command;
    }

    private static Command Get(ServiceClients clients)
    {
        var id = Arguments.Workspace();
        var command = new Command("get", "Shows a workspace (never its key)") { id };
        command.SetAction(async (parsed, cancellationToken) => clients.Print(await clients.Admin.GetWorkspaceAsync(
            new GetWorkspaceRequest { WorkspaceId = parsed.GetRequiredValue(id) }, clients.Call(cancellationToken))));
        return command;
    }

    private static Command RotateKey(ServiceClients clients)
    {
        var id = Arguments.Workspace();
        var command = new Command("rotate-key", "Replaces the data API key and prints the new one once; the old one stops working") { id };
        command.SetAction(async (parsed, cancellationToken) => clients.Print(await clients.Admin.RotateWorkspaceKeyAsync(
            new RotateWorkspaceKeyRequest { WorkspaceId = parsed.GetRequiredValue(id) }, clients.Call(cancellationToken))));
        return command;
    }

    private static Command SetLimit(ServiceClients clients)
    {
        var id = Arguments.Workspace();
        var limit = new Argument<int>("limit") { Description = "Webhooks per second, shared by every edge replica" };
        var command = new Command("set-limit", "Changes the workspace's rate limit (takes effect on the next request)") { id, limit };
        command.SetAction(async (parsed, cancellationToken) => clients.Print(await clients.Admin.SetRateLimitAsync(
            new SetRateLimitRequest { WorkspaceId = parsed.GetRequiredValue(id), RateLimitPerSecond = parsed.GetValue(limit) }, clients.Call(cancellationToken))));
        return command;
    }

    private static Command SetRetention(ServiceClients clients)
    {
        var id = Arguments.Workspace();
        var days = new Argument<int>("days") { Description = "Days raw events are kept after they arrived (1-3650); aggregates are kept for ever" };
        var command = new Command("set-retention", "Changes how long the workspace's raw events are kept (older ones are removed in the background)") { id, days };
        command.SetAction(async (parsed, cancellationToken) => clients.Print(await clients.Admin.SetRetentionAsync(
            new SetRetentionRequest { WorkspaceId = parsed.GetRequiredValue(id), RetentionDays = parsed.GetValue(days) }, clients.Call(cancellationToken))));
        return command;
    }
}
