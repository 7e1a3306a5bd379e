using System.CommandLine;
using Integration.Admin.V1;

namespace Integration.Cli.Commands;

/// <summary>The arguments and options several commands share, each described once.</summary>
internal static class Arguments
{
    public static Argument<string> Workspace() => new("workspace") { Description = "Workspace id (e.g. DEMO0001)" };

    public static Argument<string> Customer() => new("customer_id") { Description = "The user's identifier (the config's common identifier, e.g. the email)" };

    public static Argument<string> Campaign() => new("campaign_id") { Description = "Campaign id (see 'campaigns list')" };

    public static Option<string> CampaignFilter() => new("--campaign") { Description = "Only this campaign's dead letters" };

    /// <summary>An identifier kind, spelled as in the admin API: email, phone, external_id (or none).</summary>
    public static Option<IdentifierKind> IdentifierKind(string description, IdentifierKind defaultKind) => new("--identifier")
    {
        Description = $"{description}: email, phone or external_id (default {Spell(defaultKind)})",
        DefaultValueFactory = _ => defaultKind,
        CustomParser = result =>
        {
            var text = result.Tokens.Count == 1 ? result.Tokens[0].Value : "";
            switch (text.ToLowerInvariant())
            {
                case "none": return Admin.V1.IdentifierKind.Unspecified;
                case "email": return Admin.V1.IdentifierKind.Email;
                case "phone": return Admin.V1.IdentifierKind.Phone;
                case "external_id" or "external-id": return Admin.V1.IdentifierKind.ExternalId;
                default:
                    result.AddError($"Unknown identifier kind '{text}': use email, phone or external_id.");
                    return defaultKind;
            }
        },
    };

    private static string Spell(IdentifierKind kind) => kind switch
    {
        Admin.V1.IdentifierKind.Email => "email",
        Admin.V1.IdentifierKind.Phone => "phone",
        Admin.V1.IdentifierKind.ExternalId => "external_id",
        _ => "none",
    };
}
