using System.CommandLine;
using Grpc.Core;
using Integration.Cli.Commands;

namespace Integration.Cli;

/// <summary>
/// Builds the command tree and runs one command line: parse errors and bad values are usage errors (exit 2),
/// an error status from a service is printed as <c>Status: detail</c> (exit 1), an unreachable service exits 3.
/// </summary>
internal sealed class CliApp(CliSettings settings, TextWriter output, TextWriter error)
{
    public static RootCommand BuildCommands(ServiceClients clients)
    {
        var root = new RootCommand(
            $"""
            Command line for the Heap ⇄ MoEngage integration's gRPC APIs (admin, ingestion, campaigns, deliveries).
            Environment: {CliSettings.IngestionVariable} (default http://localhost:5101), {CliSettings.CampaignsVariable} (default http://localhost:5102), {CliSettings.TokenVariable} (default dev-admin-token).
            Answers print as protobuf JSON; {ExitCodes.Help}.
            """);
        root.Add(UserCommands.User(clients));
        root.Add(UserCommands.Events(clients));
        root.Add(WorkspaceCommands.Build(clients));
        root.Add(ConfigCommands.Build(clients));
        root.Add(TokenCommands.Tokens(clients));
        root.Add(TokenCommands.Audit(clients));
        root.Add(CampaignCommands.Build(clients));
        root.Add(CampaignCommands.BusinessEvent(clients));
        root.Add(SegmentCommands.Build(clients));
        root.Add(SettingsCommands.Build(clients));
        root.Add(DeliveryCommands.Deliveries(clients));
        root.Add(DeliveryCommands.DeadLetters(clients));
        return root;
    }

    /// <summary>Runs one command line with the settings from the environment; unusable settings are a usage error.</summary>
    public static Task<int> RunFromEnvironmentAsync(string[] args, Func<string, string?> environment, TextWriter output, TextWriter error)
    {
        CliSettings settings;
        try
        {
            settings = CliSettings.FromEnvironment(environment);
        }
        catch (ArgumentException ex)
        {
            error.WriteLine(ex.Message);
            return Task.FromResult(ExitCodes.Usage);
        }
        return new CliApp(settings, output, error).RunAsync(args);
    }

    public async Task<int> RunAsync(string[] args, CancellationToken cancellationToken = default)
    {
        using var clients = new ServiceClients(settings, output);
        var parsed = BuildCommands(clients).Parse(args);
        if (parsed.Errors.Count > 0)
        {
            foreach (var parseError in parsed.Errors)
            {
                error.WriteLine(parseError.Message);
            }
            error.WriteLine("Run 'integration --help' (or '<command> --help') for usage.");
            return ExitCodes.Usage;
        }
        try
        {
            return await parsed.InvokeAsync(new InvocationConfiguration { Output = output, Error = error, EnableDefaultExceptionHandler = false }, cancellationToken);
        }
        catch (RpcException ex) when (ex.StatusCode is StatusCode.Unavailable or StatusCode.DeadlineExceeded)
        {
            error.WriteLine($"{ex.StatusCode}: could not reach the service ({ex.Status.Detail}). Is the system running? Check {CliSettings.IngestionVariable} / {CliSettings.CampaignsVariable}.");
            return ExitCodes.Unreachable;
        }
        catch (RpcException ex)
        {
            error.WriteLine($"{ex.StatusCode}: {ex.Status.Detail}");
            return ExitCodes.Refused;
        }
        catch (Exception ex) when (ex is ArgumentException or FormatException)
        {
            error.WriteLine(ex.Message);
            return ExitCodes.Usage;
        }
    }
}
