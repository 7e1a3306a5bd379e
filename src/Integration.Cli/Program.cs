using Google.Protobuf;
using Grpc.Core;
using Grpc.Net.Client;
using Integration.Admin.V1;
using Integration.Ingestion.V1;

// A small command line for the admin and ingestion gRPC APIs, for machines without grpcurl.
// Address: INTEGRATION_INGESTION (default http://localhost:5101); token: INTEGRATION_ADMIN_TOKEN (default dev-admin-token).

var address = Environment.GetEnvironmentVariable("INTEGRATION_INGESTION") ?? "http://localhost:5101";
var token = Environment.GetEnvironmentVariable("INTEGRATION_ADMIN_TOKEN") ?? "dev-admin-token";
var auth = new Metadata { { "authorization", $"Bearer {token}" } };
var formatter = new JsonFormatter(JsonFormatter.Settings.Default.WithIndentation());

using var channel = GrpcChannel.ForAddress(address);
var admin = new Admin.AdminClient(channel);
var ingestion = new Ingestion.IngestionClient(channel);
var deadline = DateTime.UtcNow.AddSeconds(15);

try
{
    IMessage result = args switch
    {
        ["user", var ws, var id, ..] => await ingestion.GetUserAsync(
            new GetUserRequest { WorkspaceId = ws, CustomerId = id, IdentifierKind = Kind(Option(args, "--identifier") ?? "none") }, deadline: deadline),
        ["events", var ws, var id, ..] => await ingestion.ListUserEventsAsync(
            new ListUserEventsRequest { WorkspaceId = ws, CustomerId = id, Limit = int.Parse(Option(args, "--limit") ?? "100") }, deadline: deadline),
        ["workspace", "create", var ws, ..] => await admin.CreateWorkspaceAsync(new CreateWorkspaceRequest
        {
            WorkspaceId = ws,
            Name = Option(args, "--name") ?? "",
            RateLimitPerSecond = int.Parse(Option(args, "--limit") ?? "0"),
        }, auth, deadline),
        ["workspace", "get", var ws] => await admin.GetWorkspaceAsync(new GetWorkspaceRequest { WorkspaceId = ws }, auth, deadline),
        ["workspace", "rotate-key", var ws] => await admin.RotateWorkspaceKeyAsync(new RotateWorkspaceKeyRequest { WorkspaceId = ws }, auth, deadline),
        ["workspace", "set-limit", var ws, var limit] => await admin.SetRateLimitAsync(
            new SetRateLimitRequest { WorkspaceId = ws, RateLimitPerSecond = int.Parse(limit) }, auth, deadline),
        ["config", "create", var ws, var name, ..] => await admin.CreateIntegrationConfigAsync(new CreateIntegrationConfigRequest
        {
            Config = new IntegrationConfig
            {
                WorkspaceId = ws,
                ConfigName = name,
                IdentifierKind = (IdentifierKind)Kind(Option(args, "--identifier") ?? "email"),
            },
        }, auth, deadline),
        ["config", "list", var ws] => await admin.ListIntegrationConfigsAsync(new ListIntegrationConfigsRequest { WorkspaceId = ws }, auth, deadline),
        ["config", "delete", var ws, var name] => await admin.DeleteIntegrationConfigAsync(
            new DeleteIntegrationConfigRequest { WorkspaceId = ws, ConfigName = name }, auth, deadline),
        _ => throw new ArgumentException(Usage),
    };
    Console.WriteLine(formatter.Format(result));
    return 0;
}
catch (RpcException ex)
{
    Console.Error.WriteLine($"{ex.StatusCode}: {ex.Status.Detail}");
    return 1;
}
catch (Exception ex) when (ex is ArgumentException or FormatException)
{
    Console.Error.WriteLine(ex.Message);
    return 2;
}

static string? Option(string[] args, string name)
{
    var index = Array.IndexOf(args, name);
    return index >= 0 && index + 1 < args.Length ? args[index + 1] : null;
}

static int Kind(string name) => name.ToLowerInvariant() switch
{
    "none" => 0,
    "email" => 1,
    "phone" => 2,
    "external_id" or "external-id" => 3,
    _ => throw new ArgumentException($"Unknown identifier kind '{name}': use email, phone or external_id."),
};

partial class Program
{
    private const string Usage = """
        usage: integration <command>
          user <workspace> <customer_id> [--identifier email|phone|external_id]   merged profile and event counts
          events <workspace> <customer_id> [--limit N]                           the user's events, oldest first
          workspace create <id> [--name N] [--limit N]                           prints the data API key once
          workspace get <id> | rotate-key <id> | set-limit <id> <n>
          config create <workspace> <name> [--identifier email|phone|external_id]
          config list <workspace> | delete <workspace> <name>
        environment: INTEGRATION_INGESTION (http://localhost:5101), INTEGRATION_ADMIN_TOKEN (dev-admin-token)
        """;
}
