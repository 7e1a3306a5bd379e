using System.CommandLine;
using Integration.Ingestion.V1;

namespace Integration.Cli.Commands;

/// <summary>Reading users and their events back from ingestion.</summary>
internal static class UserCommands
{
    public static Command User(ServiceClients clients)
    {
        var workspace = Arguments.Workspace();
        var customer = Arguments.Customer();
        var identifier = Arguments.IdentifierKind("Normalise the identifier as this kind first", Admin.V1.IdentifierKind.Unspecified);
        var command = new Command("user", "The merged profile of a user and their event counts") { workspace, customer, identifier };
        command.SetAction(async (parsed, cancellationToken) => clients.Print(await clients.Ingestion.GetUserAsync(new GetUserRequest
        {
            WorkspaceId = parsed.GetRequiredValue(workspace),
            CustomerId = parsed.GetRequiredValue(customer),
            IdentifierKind = (int)parsed.GetValue(identifier),
        }, clients.Call(cancellationToken))));
        return command;
    }

    public static Command Events(ServiceClients clients)
    {
        var workspace = Arguments.Workspace();
        var customer = Arguments.Customer();
        var limit = Arguments.Limit("How many events", 100);
        var command = new Command("events", "The user's stored events, oldest first") { workspace, customer, limit };
        command.SetAction(async (parsed, cancellationToken) => clients.Print(await clients.Ingestion.ListUserEventsAsync(new ListUserEventsRequest
        {
            WorkspaceId = parsed.GetRequiredValue(workspace),
            CustomerId = parsed.GetRequiredValue(customer),
            Limit = parsed.GetValue(limit),
        }, clients.Call(cancellationToken))));
        return command;
    }
}
