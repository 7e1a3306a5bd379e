extern alias cli;
extern alias ingestion;

using System.CommandLine;
using System.Text.Json;
using cli::Integration.Cli;
using Integration.Testing;

namespace Integration.Cli.Tests;

/// <summary>The command line as a user runs it: against a real ingestion service on real Redis.</summary>
public sealed class CommandLineTests : IAsyncLifetime
{
    private const string Token = "admin-token-for-cli-tests";
    private readonly RedisServer _redis = new();
    private KestrelServiceFactory<ingestion::Program> _ingestion = null!;

    public async Task InitializeAsync()
    {
        await _redis.InitializeAsync();
        _ingestion = new(new Dictionary<string, string?>
        {
            ["ConnectionStrings:redis"] = _redis.ConnectionString,
            ["Admin:Token"] = Token,
            ["Ingestion:EdgePublicBaseUrl"] = "https://edge.example.com",
        }, grpc: true);
        _ingestion.CreateGrpcChannel().Dispose();
    }

    public async Task DisposeAsync()
    {
        await _ingestion.DisposeAsync();
        await _redis.DisposeAsync();
    }

    private async Task<(int ExitCode, string Output, string Error)> RunWithTokenAsync(string token, params string[] args)
    {
        var address = new Uri($"http://127.0.0.1:{_ingestion.GrpcPort}");
        var settings = new CliSettings(address, new Uri($"http://127.0.0.1:{FreePort.Next()}"), token, TimeSpan.FromSeconds(15));
        var output = new StringWriter();
        var error = new StringWriter();
        var exitCode = await new CliApp(settings, output, error).RunAsync(args);
        return (exitCode, output.ToString(), error.ToString());
    }

    private Task<(int ExitCode, string Output, string Error)> RunAsync(params string[] args) => RunWithTokenAsync(Token, args);

    [Fact]
    public void DescribesEveryCommandArgumentAndOption()
    {
        using var clients = new ServiceClients(CliSettings.FromEnvironment(), TextWriter.Null);
        var undescribed = new List<string>();
        void Walk(Command command, string path)
        {
            if (string.IsNullOrWhiteSpace(command.Description))
            {
                undescribed.Add(path);
            }
            undescribed.AddRange(command.Arguments.Where(a => string.IsNullOrWhiteSpace(a.Description)).Select(a => $"{path} <{a.Name}>"));
            undescribed.AddRange(command.Options.Where(o => string.IsNullOrWhiteSpace(o.Description)).Select(o => $"{path} {o.Name}"));
            foreach (var sub in command.Subcommands)
            {
                Walk(sub, $"{path} {sub.Name}");
            }
        }

        Walk(CliApp.BuildCommands(clients), "integration");

        Assert.Empty(undescribed);
    }

    [Theory]
    [InlineData("INTEGRATION_INGESTION", "notaurl")]
    [InlineData("INTEGRATION_INGESTION", "localhost:5101")]
    [InlineData("INTEGRATION_CAMPAIGNS", "ftp://localhost:5102")]
    public async Task AnAddressThatIsNotAnHttpUrlIsAUsageErrorNamingTheVariable(string variable, string value)
    {
        var output = new StringWriter();
        var error = new StringWriter();

        var exitCode = await CliApp.RunFromEnvironmentAsync(["user", "DEMO0001", "alice@example.com"], name => name == variable ? value : null, output, error);

        Assert.Equal(2, exitCode);
        Assert.Contains($"{variable}='{value}' is not an http:// or https:// address", error.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task CreatesAWorkspaceTokenThatActsOnItsWorkspaceOnlyAndRevokesIt()
    {
        var id = "cli" + Guid.NewGuid().ToString("N")[..8];
        await RunAsync("workspace", "create", id);
        await RunAsync("workspace", "create", id + "x");

        var created = await RunAsync("tokens", "create", id, "campaign team");
        using var json = JsonDocument.Parse(created.Output);
        var token = json.RootElement.GetProperty("token").GetString()!;
        var tokenId = json.RootElement.GetProperty("info").GetProperty("tokenId").GetString()!;
        var own = await RunWithTokenAsync(token, "workspace", "get", id);
        var other = await RunWithTokenAsync(token, "workspace", "get", id + "x");
        var listed = await RunAsync("tokens", "list", id);
        var revoked = await RunAsync("tokens", "revoke", id, tokenId);
        var after = await RunWithTokenAsync(token, "workspace", "get", id);

        Assert.True(created.ExitCode == 0, $"exit {created.ExitCode}: {created.Error}");
        Assert.Equal(0, own.ExitCode);
        Assert.Equal(1, other.ExitCode);
        Assert.StartsWith("PermissionDenied:", other.Error);
        Assert.Contains("campaign team", listed.Output);
        Assert.DoesNotContain(token.Split('.')[^1], listed.Output);
        Assert.Equal(0, revoked.ExitCode);
        Assert.StartsWith("Unauthenticated:", after.Error);
    }

    [Fact]
    public async Task PrintsTheAuditLogNewestFirst()
    {
        var id = "cli" + Guid.NewGuid().ToString("N")[..8];
        await RunAsync("workspace", "create", id);
        await RunAsync("workspace", "set-limit", id, "900");

        var audit = await RunAsync("audit", id, "--limit", "1");

        Assert.True(audit.ExitCode == 0, $"exit {audit.ExitCode}: {audit.Error}");
        using var json = JsonDocument.Parse(audit.Output);
        var entry = Assert.Single(json.RootElement.GetProperty("entries").EnumerateArray());
        Assert.Equal("Admin/SetRateLimit", entry.GetProperty("action").GetString());
        Assert.Equal("admin", entry.GetProperty("actor").GetString());
        Assert.NotEqual("", json.RootElement.GetProperty("nextPageToken").GetString());
    }

    [Fact]
    public async Task SetsTheRetentionAndAuditsIt()
    {
        var id = "cli" + Guid.NewGuid().ToString("N")[..8];
        await RunAsync("workspace", "create", id);

        var set = await RunAsync("workspace", "set-retention", id, "30");
        var refused = await RunAsync("workspace", "set-retention", id, "0");
        var fetched = await RunAsync("workspace", "get", id);
        var audit = await RunAsync("audit", id, "--limit", "1");

        Assert.True(set.ExitCode == 0, $"exit {set.ExitCode}: {set.Error}");
        Assert.Equal(30, JsonDocument.Parse(set.Output).RootElement.GetProperty("retentionDays").GetInt32());
        Assert.NotEqual(0, refused.ExitCode);
        Assert.StartsWith("InvalidArgument:", refused.Error);
        Assert.Contains("retention_days", refused.Error);
        Assert.Equal(30, JsonDocument.Parse(fetched.Output).RootElement.GetProperty("retentionDays").GetInt32());
        var entry = Assert.Single(JsonDocument.Parse(audit.Output).RootElement.GetProperty("entries").EnumerateArray());
        Assert.Equal("Admin/SetRetention", entry.GetProperty("action").GetString());
    }

    [Fact]
    public async Task CreatesAWorkspaceAndReadsItBack()
    {
        var id = "cli" + Guid.NewGuid().ToString("N")[..8];

        var created = await RunAsync("workspace", "create", id, "--name", "Acme", "--limit", "700");
        var fetched = await RunAsync("workspace", "get", id);

        Assert.True(created.ExitCode == 0, $"exit {created.ExitCode}: {created.Error}");
        var key = JsonDocument.Parse(created.Output).RootElement.GetProperty("dataApiKey").GetString();
        Assert.True(key?.Length >= 40, created.Output);
        Assert.True(fetched.ExitCode == 0, $"exit {fetched.ExitCode}: {fetched.Error}");
        var workspace = JsonDocument.Parse(fetched.Output).RootElement;
        Assert.Equal("Acme", workspace.GetProperty("name").GetString());
        Assert.Equal(700, workspace.GetProperty("rateLimitPerSecond").GetInt32());
        Assert.DoesNotContain(key!, fetched.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task CreatesAConfigWithThePhoneIdentifier()
    {
        var id = "cli" + Guid.NewGuid().ToString("N")[..8];
        await RunAsync("workspace", "create", id);

        var created = await RunAsync("config", "create", id, "heap-prod", "--identifier", "phone");
        var listed = await RunAsync("config", "list", id);

        Assert.True(created.ExitCode == 0, $"exit {created.ExitCode}: {created.Error}");
        Assert.Contains("IDENTIFIER_KIND_PHONE", created.Output, StringComparison.Ordinal);
        Assert.Contains("heap-prod", listed.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task CreatesAConfigWithSomeSyncModulesAndAnEventMappingAndChangesItWithReplace()
    {
        var id = "cli" + Guid.NewGuid().ToString("N")[..8];
        await RunAsync("workspace", "create", id);

        var created = await RunAsync("config", "create", id, "heap-prod", "--modules", "users,events", "--map-event", "Purchase=Order Completed");
        var again = await RunAsync("config", "create", id, "heap-prod", "--modules", "sessions");
        var replaced = await RunAsync("config", "create", id, "heap-prod", "--modules", "users", "custom-properties", "--replace");

        Assert.True(created.ExitCode == 0, $"exit {created.ExitCode}: {created.Error}");
        using (var json = JsonDocument.Parse(created.Output))
        {
            Assert.Equal(["SYNC_MODULE_USERS", "SYNC_MODULE_EVENTS"], json.RootElement.GetProperty("modules").EnumerateArray().Select(m => m.GetString()));
            Assert.Equal("Order Completed", json.RootElement.GetProperty("eventNameMapping").GetProperty("Purchase").GetString());
        }
        Assert.True(again.ExitCode == 1, $"exit {again.ExitCode}: {again.Error}");
        Assert.StartsWith("AlreadyExists:", again.Error, StringComparison.Ordinal);
        Assert.True(replaced.ExitCode == 0, $"exit {replaced.ExitCode}: {replaced.Error}");
        using (var json = JsonDocument.Parse(replaced.Output))
        {
            Assert.Equal(["SYNC_MODULE_USERS", "SYNC_MODULE_CUSTOM_PROPERTIES"], json.RootElement.GetProperty("modules").EnumerateArray().Select(m => m.GetString()));
        }
    }

    [Theory]
    [InlineData("--modules", "users,orders", "Unknown sync module 'orders'")]
    [InlineData("--modules", ",", "--modules needs at least one")]
    [InlineData("--map-event", "Purchase", "--map-event takes heap_name=moengage_name, not 'Purchase'")]
    public async Task ABadModuleOrEventMappingIsAUsageErrorNamingIt(string option, string value, string message)
    {
        var result = await RunAsync("config", "create", "ACME01", "heap-prod", option, value);

        Assert.True(result.ExitCode == 2, $"exit {result.ExitCode}: {result.Error}");
        Assert.Contains(message, result.Error, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("deliveries", "log", "DEMO0001", "c-1", "--limit", "0")]
    [InlineData("events", "DEMO0001", "alice@example.com", "--limit", "1001")]
    [InlineData("audit", "DEMO0001", "--limit", "5000")]
    public async Task ALimitOutside1To1000IsAUsageErrorNotTheServicesDefault(params string[] args)
    {
        var result = await RunAsync(args);

        Assert.True(result.ExitCode == 2, $"exit {result.ExitCode}: {result.Error}");
        Assert.Contains($"--limit must be between 1 and 1000, not {args[^1]}.", result.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task DeletingAConfigThatDoesNotExistSaysSoInsteadOfPrintingAnEmptyAnswer()
    {
        var id = "cli" + Guid.NewGuid().ToString("N")[..8];
        await RunAsync("workspace", "create", id);

        var deleted = await RunAsync("config", "delete", id, "never-created");
        var tokens = await RunAsync("tokens", "list", id);

        Assert.True(deleted.ExitCode == 0, $"exit {deleted.ExitCode}: {deleted.Error}");
        Assert.Contains("\"deleted\": false", deleted.Output, StringComparison.Ordinal);
        Assert.Contains("\"tokens\": []", tokens.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task SetsASyncSecretOnceAndDeletesIt()
    {
        var id = "cli" + Guid.NewGuid().ToString("N")[..8];
        await RunAsync("workspace", "create", id);
        await RunAsync("config", "create", id, "heap-" + id);

        var set = await RunAsync("config", "set-sync-secret", id, "heap-" + id);
        var listed = await RunAsync("config", "list", id);
        var deleted = await RunAsync("config", "delete-sync-secret", id, "heap-" + id);

        Assert.True(set.ExitCode == 0, $"exit {set.ExitCode}: {set.Error}");
        var secret = JsonDocument.Parse(set.Output).RootElement.GetProperty("syncSecret").GetString();
        Assert.True(secret?.Length >= 16, set.Output);
        Assert.DoesNotContain(secret!, listed.Output, StringComparison.Ordinal);
        Assert.Contains("\"hasSyncSecret\": true", listed.Output, StringComparison.Ordinal);
        Assert.True(deleted.ExitCode == 0, $"exit {deleted.ExitCode}: {deleted.Error}");
        Assert.Contains("\"deleted\": true", deleted.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AnUnknownWorkspaceIsARefusalWithTheServicesReason()
    {
        var result = await RunAsync("workspace", "get", "nosuchworkspace");

        Assert.True(result.ExitCode == 1, $"exit {result.ExitCode}: {result.Error}");
        Assert.StartsWith("NotFound:", result.Error, StringComparison.Ordinal);
        Assert.Empty(result.Output);
    }

    [Fact]
    public async Task AWrongTokenIsARefusal()
    {
        var result = await RunWithTokenAsync("not-the-token", "workspace", "get", "whatever");

        Assert.True(result.ExitCode == 1, $"exit {result.ExitCode}: {result.Error}");
        Assert.StartsWith("Unauthenticated:", result.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AMissingArgumentIsAUsageErrorNamingIt()
    {
        var result = await RunAsync("workspace", "set-limit", "ACME01");

        Assert.True(result.ExitCode == 2, $"exit {result.ExitCode}: {result.Error}");
        Assert.Contains("'limit'", result.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ANonNumericLimitIsAUsageError()
    {
        var result = await RunAsync("workspace", "set-limit", "ACME01", "fast");

        Assert.True(result.ExitCode == 2, $"exit {result.ExitCode}: {result.Error}");
        Assert.Contains("fast", result.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AnUnknownIdentifierKindIsAUsageErrorNamingTheValue()
    {
        var result = await RunAsync("user", "ACME01", "alice@example.com", "--identifier", "fax");

        Assert.True(result.ExitCode == 2, $"exit {result.ExitCode}: {result.Error}");
        Assert.Contains("'fax'", result.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ANonNumericFrequencyCapIsAUsageErrorNamingTheValue()
    {
        var result = await RunAsync("settings", "set", "ACME01", "--per-day", "lots");

        Assert.True(result.ExitCode == 2, $"exit {result.ExitCode}: {result.Error}");
        Assert.Contains("lots", result.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AnUnknownCommandIsAUsageError()
    {
        var result = await RunAsync("frobnicate");

        Assert.True(result.ExitCode == 2, $"exit {result.ExitCode}: {result.Error}");
        Assert.Contains("frobnicate", result.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AMalformedBusinessEventAttributeIsAUsageError()
    {
        var result = await RunAsync("business-event", "ACME01", "price-drop", "sku");

        Assert.True(result.ExitCode == 2, $"exit {result.ExitCode}: {result.Error}");
        Assert.Contains("key=value", result.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AnUnreachableServiceExitsWithItsOwnStatus()
    {
        var result = await RunAsync("campaigns", "list", "ACME01");

        Assert.True(result.ExitCode == 3, $"exit {result.ExitCode}: {result.Error}");
        Assert.StartsWith("Unavailable:", result.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task HelpSucceedsAndListsTheCommands()
    {
        var result = await RunAsync("--help");

        Assert.True(result.ExitCode == 0, $"exit {result.ExitCode}: {result.Error}");
        Assert.Contains("dead-letters", result.Output, StringComparison.Ordinal);
    }
}
