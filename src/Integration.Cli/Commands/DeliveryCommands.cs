using System.CommandLine;
using Integration.Campaigns.V1;

namespace Integration.Cli.Commands;

/// <summary>What campaigns delivered: stats, the recent log, and dead letters with their replay.</summary>
internal static class DeliveryCommands
{
    public static Command Deliveries(ServiceClients clients) => new("deliveries", "A campaign's delivery counters and recent outcomes")
    {
        Stats(clients),
        Log(clients),
    };

    public static Command DeadLetters(ServiceClients clients) => new("dead-letters", "Deliveries whose retries ran out: list, inspect, replay, discard")
    {
        ListDeadLetters(clients),
        OneDeadLetter(clients, "get", "Shows one dead letter with its attempts and last (redacted) request",
            (workspace, id, options) => clients.Deliveries.GetDeadLetterAsync(new GetDeadLetterRequest { WorkspaceId = workspace, DeliveryId = id }, options).ResponseAsync),
        OneDeadLetter(clients, "replay", "Queues one dead letter again with its idempotency key (Heap does not count it twice)",
            (workspace, id, options) => clients.Deliveries.ReplayDeadLetterAsync(new ReplayDeadLetterRequest { WorkspaceId = workspace, DeliveryId = id }, options).ResponseAsync),
        OneDeadLetter(clients, "discard", "Drops one dead letter for good",
            (workspace, id, options) => clients.Deliveries.DiscardDeadLetterAsync(new DiscardDeadLetterRequest { WorkspaceId = workspace, DeliveryId = id }, options).ResponseAsync),
        ReplayAll(clients),
    };

    private static Command Stats(ServiceClients clients)
    {
        var workspace = Arguments.Workspace();
        var campaign = Arguments.Campaign();
        var command = new Command("stats", "Enqueued, sent, succeeded, retried, skipped (by reason), dead-lettered and converted counts, and the conversion rate (converted / succeeded)") { workspace, campaign };
        command.SetAction(async (parsed, cancellationToken) => clients.Print(await clients.Deliveries.GetDeliveryStatsAsync(
            new GetDeliveryStatsRequest { WorkspaceId = parsed.GetRequiredValue(workspace), CampaignId = parsed.GetRequiredValue(campaign) }, clients.Call(cancellationToken))));
        return command;
    }

    private static Command Log(ServiceClients clients)
    {
        var workspace = Arguments.Workspace();
        var campaign = Arguments.Campaign();
        var limit = Arguments.Limit("How many recent outcomes", 50);
        var command = new Command("log", "The campaign's most recent delivery outcomes, newest first") { workspace, campaign, limit };
        command.SetAction(async (parsed, cancellationToken) => clients.Print(await clients.Deliveries.ListDeliveriesAsync(new ListDeliveriesRequest
        {
            WorkspaceId = parsed.GetRequiredValue(workspace),
            CampaignId = parsed.GetRequiredValue(campaign),
            Limit = parsed.GetValue(limit),
        }, clients.Call(cancellationToken))));
        return command;
    }

    private static Command ListDeadLetters(ServiceClients clients)
    {
        var workspace = Arguments.Workspace();
        var campaign = Arguments.CampaignFilter();
        var command = new Command("list", "Lists the workspace's dead letters, newest first") { workspace, campaign };
        command.SetAction(async (parsed, cancellationToken) => clients.Print(await clients.Deliveries.ListDeadLettersAsync(new ListDeadLettersRequest
        {
            Filter = new DeadLetterFilter { WorkspaceId = parsed.GetRequiredValue(workspace), CampaignId = parsed.GetValue(campaign) ?? "" },
        }, clients.Call(cancellationToken))));
        return command;
    }

    private static Command ReplayAll(ServiceClients clients)
    {
        var workspace = Arguments.Workspace();
        var campaign = Arguments.CampaignFilter();
        var command = new Command("replay-all", "Queues every dead letter of the workspace (or of one campaign) again") { workspace, campaign };
        command.SetAction(async (parsed, cancellationToken) => clients.Print(await clients.Deliveries.ReplayDeadLettersAsync(new ReplayDeadLettersRequest
        {
            Filter = new DeadLetterFilter { WorkspaceId = parsed.GetRequiredValue(workspace), CampaignId = parsed.GetValue(campaign) ?? "" },
        }, clients.Call(cancellationToken))));
        return command;
    }

    private static Command OneDeadLetter<T>(ServiceClients clients, string name, string description,
        Func<string, string, Grpc.Core.CallOptions, Task<T>> call) where T : Google.Protobuf.IMessage
    {
        var workspace = Arguments.Workspace();
        var id = new Argument<string>("delivery_id") { Description = "The dead letter's delivery id (see 'dead-letters list')" };
        var command = new Command(name, description) { workspace, id };
        command.SetAction(async (parsed, cancellationToken) => clients.Print(await call(
            parsed.GetRequiredValue(workspace), parsed.GetRequiredValue(id), clients.Call(cancellationToken))));
        return command;
    }
}
