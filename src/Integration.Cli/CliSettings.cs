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

    public static CliSettings FromEnvironment() => new(
        new Uri(Environment.GetEnvironmentVariable(IngestionVariable) ?? "http://localhost:5101"),
        new Uri(Environment.GetEnvironmentVariable(CampaignsVariable) ?? "http://localhost:5102"),
        Environment.GetEnvironmentVariable(TokenVariable) ?? "dev-admin-token",
        TimeSpan.FromSeconds(15));
}
