namespace Integration.Cli;

/// <summary>
/// Where the services are and the token to call them with. Read from the environment, never from the command line,
/// so a token does not show in the process list or the shell history.
/// </summary>
internal sealed record CliSettings(Uri IngestionAddress, Uri CampaignsAddress, string Token, TimeSpan Timeout)
{
    public const string IngestionVariable = "INTEGRATION_INGESTION";
    public const string CampaignsVariable = "INTEGRATION_CAMPAIGNS";
    public const string TokenVariable = "INTEGRATION_ADMIN_TOKEN";

    /// <summary>The settings from the environment; an address that is not an absolute http(s) URL is an ArgumentException naming the variable.</summary>
    public static CliSettings FromEnvironment(Func<string, string?>? read = null)
    {
        read ??= Environment.GetEnvironmentVariable;
        return new(
            Address(read, IngestionVariable, "http://localhost:5101"),
            Address(read, CampaignsVariable, "http://localhost:5102"),
            read(TokenVariable) ?? "dev-admin-token",
            TimeSpan.FromSeconds(15));
    }

    private static Uri Address(Func<string, string?> read, string variable, string fallback)
    {
        var text = read(variable) ?? fallback;
        if (Uri.TryCreate(text, UriKind.Absolute, out var uri) && (uri.Scheme == Uri.UriSchemeHttp || uri.Scheme == Uri.UriSchemeHttps))
        {
            return uri;
        }
        throw new ArgumentException($"{variable}='{text}' is not an http:// or https:// address (e.g. {fallback}).");
    }
}
