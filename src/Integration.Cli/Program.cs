using Google.Protobuf;
using Grpc.Core;
using Grpc.Net.Client;
using Integration.Admin.V1;
using Integration.Campaigns.V1;
using Integration.Common.V1;
using Integration.Ingestion.V1;

// A small command line for the admin, ingestion, campaigns and deliveries gRPC APIs, for machines without grpcurl.
// Addresses: INTEGRATION_INGESTION (default http://localhost:5101), INTEGRATION_CAMPAIGNS (http://localhost:5102);
// token: INTEGRATION_ADMIN_TOKEN (default dev-admin-token).

var address = Environment.GetEnvironmentVariable("INTEGRATION_INGESTION") ?? "http://localhost:5101";
var campaignsAddress = Environment.GetEnvironmentVariable("INTEGRATION_CAMPAIGNS") ?? "http://localhost:5102";
var token = Environment.GetEnvironmentVariable("INTEGRATION_ADMIN_TOKEN") ?? "dev-admin-token";
var auth = new Metadata { { "authorization", $"Bearer {token}" } };
var formatter = new JsonFormatter(JsonFormatter.Settings.Default.WithIndentation());

using var channel = GrpcChannel.ForAddress(address);
var admin = new Admin.AdminClient(channel);
var ingestion = new Ingestion.IngestionClient(channel);
using var campaignsChannel = GrpcChannel.ForAddress(campaignsAddress);
var campaigns = new Campaigns.CampaignsClient(campaignsChannel);
var deliveries = new Deliveries.DeliveriesClient(campaignsChannel);
var deadline = DateTime.UtcNow.AddSeconds(15);

try
{
    IMessage result = args switch
    {
        ["user", var ws, var id, ..] => await ingestion.GetUserAsync(
            new GetUserRequest { WorkspaceId = ws, CustomerId = id, IdentifierKind = Kind(Option(args, "--identifier") ?? "none") }, auth, deadline),
        ["events", var ws, var id, ..] => await ingestion.ListUserEventsAsync(
            new ListUserEventsRequest { WorkspaceId = ws, CustomerId = id, Limit = int.Parse(Option(args, "--limit") ?? "100") }, auth, deadline),
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
        ["campaigns", "list", var ws] => await campaigns.ListCampaignsAsync(new ListCampaignsRequest { WorkspaceId = ws }, auth, deadline),
        ["campaigns", "get", var ws, var id] => await campaigns.GetCampaignAsync(
            new GetCampaignRequest { WorkspaceId = ws, CampaignId = id }, auth, deadline),
        ["campaigns", "pause", var ws, var id] => await campaigns.PauseCampaignAsync(
            new CampaignStateRequest { WorkspaceId = ws, CampaignId = id }, auth, deadline),
        ["campaigns", "resume", var ws, var id] => await campaigns.ResumeCampaignAsync(
            new CampaignStateRequest { WorkspaceId = ws, CampaignId = id }, auth, deadline),
        ["campaigns", "test", var ws, var id, var customer] => await campaigns.TestCampaignAsync(
            new TestCampaignRequest { WorkspaceId = ws, CampaignId = id, CustomerId = customer }, auth, deadline),
        ["campaigns", "preview", var ws, var id, var customer] => await campaigns.PreviewCampaignAsync(
            new PreviewCampaignRequest { WorkspaceId = ws, CampaignId = id, CustomerId = customer }, auth, deadline),
        ["business-event", var ws, var name, .. var pairs] => await campaigns.TriggerBusinessEventAsync(
            BusinessEvent(ws, name, pairs), auth, deadline),
        ["deliveries", "stats", var ws, var id] => await deliveries.GetDeliveryStatsAsync(
            new GetDeliveryStatsRequest { WorkspaceId = ws, CampaignId = id }, auth, deadline),
        ["deliveries", "log", var ws, var id] => await deliveries.ListDeliveriesAsync(
            new ListDeliveriesRequest { WorkspaceId = ws, CampaignId = id, Limit = 50 }, auth, deadline),
        ["dead-letters", "list", var ws, ..] => await deliveries.ListDeadLettersAsync(new ListDeadLettersRequest
        {
            Filter = new DeadLetterFilter { WorkspaceId = ws, CampaignId = Option(args, "--campaign") ?? "" },
        }, auth, deadline),
        ["dead-letters", "replay", var ws, var id] => await deliveries.ReplayDeadLetterAsync(
            new ReplayDeadLetterRequest { WorkspaceId = ws, DeliveryId = id }, auth, deadline),
        ["dead-letters", "replay-all", var ws, ..] => await deliveries.ReplayDeadLettersAsync(new ReplayDeadLettersRequest
        {
            Filter = new DeadLetterFilter { WorkspaceId = ws, CampaignId = Option(args, "--campaign") ?? "" },
        }, auth, deadline),
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

static TriggerBusinessEventRequest BusinessEvent(string workspaceId, string name, string[] pairs)
{
    var request = new TriggerBusinessEventRequest { WorkspaceId = workspaceId, Name = name };
    foreach (var pair in pairs)
    {
        var eq = pair.IndexOf('=');
        if (eq <= 0)
        {
            throw new ArgumentException($"Business event attributes are key=value, not '{pair}'.");
        }
        var value = pair[(eq + 1)..];
        request.Attributes[pair[..eq]] = double.TryParse(value, System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out var number)
            ? new AttributeValue { NumberValue = number }
            : new AttributeValue { StringValue = value };
    }
    return request;
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
          campaigns list <workspace> | get|pause|resume <workspace> <campaign_id>
          campaigns test|preview <workspace> <campaign_id> <customer_id>         test sends once; preview only renders
          business-event <workspace> <name> [key=value …]                          sends to every listening campaign's audience
          deliveries stats|log <workspace> <campaign_id>
          dead-letters list <workspace> [--campaign ID] | replay <workspace> <delivery_id> | replay-all <workspace> [--campaign ID]
        environment: INTEGRATION_INGESTION (http://localhost:5101), INTEGRATION_CAMPAIGNS (http://localhost:5102),
                     INTEGRATION_ADMIN_TOKEN (dev-admin-token)
        """;
}
