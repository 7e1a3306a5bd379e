using System.CommandLine;
using Integration.Campaigns.V1;

namespace Integration.Cli.Commands;

/// <summary>A workspace's campaign settings: the frequency cap and the time zones quiet hours are read in.</summary>
internal static class SettingsCommands
{
    public static Command Build(ServiceClients clients) => new("settings", "A workspace's campaign settings (frequency cap, time zone)")
    {
        Get(clients),
        Set(clients),
    };

    private static Command Get(ServiceClients clients)
    {
        var workspace = Arguments.Workspace();
        var command = new Command("get", "Shows the workspace's campaign settings") { workspace };
        command.SetAction(async (parsed, cancellationToken) => clients.Print(await clients.Campaigns.GetWorkspaceSettingsAsync(
            new GetWorkspaceSettingsRequest { WorkspaceId = parsed.GetRequiredValue(workspace) }, clients.Call(cancellationToken))));
        return command;
    }

    private static Command Set(ServiceClients clients)
    {
        var workspace = Arguments.Workspace();
        var perHour = new Option<int?>("--per-hour") { Description = "Frequency cap: sends per user in any rolling hour (0: no limit)" };
        var perDay = new Option<int?>("--per-day") { Description = "Frequency cap: sends per user in any rolling 24 hours (0: no limit)" };
        var perWeek = new Option<int?>("--per-week") { Description = "Frequency cap: sends per user in any rolling 7 days (0: no limit)" };
        var noCap = new Option<bool>("--no-cap") { Description = "Remove the workspace's frequency cap" };
        var zone = new Option<string?>("--time-zone") { Description = "The workspace's IANA time zone, e.g. Europe/Berlin (\"\": UTC)" };
        var zoneAttribute = new Option<string?>("--time-zone-attribute") { Description = "Profile attribute holding a user's IANA time zone (\"\": timezone)" };
        var command = new Command("set", "Changes the given settings and keeps the others") { workspace, perHour, perDay, perWeek, noCap, zone, zoneAttribute };
        command.SetAction(async (parsed, cancellationToken) =>
        {
            var id = parsed.GetRequiredValue(workspace);
            var settings = await clients.Campaigns.GetWorkspaceSettingsAsync(new GetWorkspaceSettingsRequest { WorkspaceId = id }, clients.Call(cancellationToken));
            settings.WorkspaceId = id;
            if (parsed.GetValue(noCap))
            {
                settings.FrequencyCap = null;
            }
            if (parsed.GetValue(perHour) is { } hour)
            {
                (settings.FrequencyCap ??= new FrequencyCap()).PerHour = hour;
            }
            if (parsed.GetValue(perDay) is { } day)
            {
                (settings.FrequencyCap ??= new FrequencyCap()).PerDay = day;
            }
            if (parsed.GetValue(perWeek) is { } week)
            {
                (settings.FrequencyCap ??= new FrequencyCap()).PerWeek = week;
            }
            if (parsed.GetValue(zone) is { } timeZone)
            {
                settings.TimeZone = timeZone;
            }
            if (parsed.GetValue(zoneAttribute) is { } attribute)
            {
                settings.TimeZoneAttribute = attribute;
            }
            return clients.Print(await clients.Campaigns.UpdateWorkspaceSettingsAsync(
                new UpdateWorkspaceSettingsRequest { Settings = settings }, clients.Call(cancellationToken)));
        });
        return command;
    }
}
