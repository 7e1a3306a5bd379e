using System.CommandLine;
using Integration.Admin.V1;

namespace Integration.Cli.Commands;

/// <summary>The arguments and options several commands share, each described once.</summary>
internal static class Arguments
{
    public static Argument<string> Workspace() => new("workspace") { Description = "Workspace id (e.g. DEMO0001)" };

    public static Argument<string> Customer() => new("customer_id") { Description = "The user's identifier (the config's common identifier, e.g. the email)" };

    public static Argument<string> Campaign() => new("campaign_id") { Description = "Campaign id (see 'campaigns list')" };

    /// <summary>A page size, 1-1000: the services answer 0 with their own default, so 0 or less is a usage error here.</summary>
    public static Option<int> Limit(string description, int defaultValue)
    {
        var limit = new Option<int>("--limit") { Description = $"{description}, 1-1000 (default {defaultValue})", DefaultValueFactory = _ => defaultValue };
        limit.Validators.Add(result =>
        {
            if (result.GetValueOrDefault<int>() is < 1 or > 1000)
            {
                result.AddError($"--limit must be between 1 and 1000, not {result.GetValueOrDefault<int>()}.");
            }
        });
        return limit;
    }

    public static Option<string> CampaignFilter() => new("--campaign") { Description = "Only this campaign's dead letters" };

    // One spelling table for parsing the option and for naming its default; "external-id" is also accepted.
    private static readonly (string Name, IdentifierKind Kind)[] Kinds =
    [
        ("none", Admin.V1.IdentifierKind.Unspecified),
        ("email", Admin.V1.IdentifierKind.Email),
        ("phone", Admin.V1.IdentifierKind.Phone),
        ("external_id", Admin.V1.IdentifierKind.ExternalId),
        ("external-id", Admin.V1.IdentifierKind.ExternalId),
    ];

    /// <summary>An identifier kind, spelled as in the admin API: email, phone, external_id (or none).</summary>
    public static Option<IdentifierKind> IdentifierKind(string description, IdentifierKind defaultKind) => new("--identifier")
    {
        Description = $"{description}: email, phone or external_id (default {Kinds.First(k => k.Kind == defaultKind).Name})",
        HelpName = "email|phone|external_id",
        DefaultValueFactory = _ => defaultKind,
        CustomParser = result => Spelled(result, Kinds, "identifier kind", "email, phone or external_id") ?? defaultKind,
    };

    /// <summary>The value a spelling table gives the option's token (case-insensitive), or null with a usage error naming the token.</summary>
    public static T? Spelled<T>(System.CommandLine.Parsing.ArgumentResult result, (string Name, T Value)[] table, string what, string choices)
        where T : struct
    {
        var text = result.Tokens.Count == 1 ? result.Tokens[0].Value : "";
        foreach (var (name, value) in table)
        {
            if (string.Equals(name, text, StringComparison.OrdinalIgnoreCase))
            {
                return value;
            }
        }
        result.AddError($"Unknown {what} '{text}': use {choices}.");
        return null;
    }
}
