extern alias campaigns;
extern alias cli;
extern alias ingestion;

using System.Text.Json;
using cli::Integration.Campaigns.V1;
using cli::Integration.Cli;
using Grpc.Core;
using Integration.Testing;

namespace Integration.Cli.Tests;

/// <summary>Campaign commands as a user runs them: against real campaigns and ingestion services on real Redis.</summary>
public sealed class CampaignCommandTests : IAsyncLifetime
{
    private const string Token = "admin-token-for-cli-campaign-tests";
    private readonly RedisServer _redis = new();
    private KestrelServiceFactory<ingestion::Program> _ingestion = null!;
    private KestrelServiceFactory<campaigns::Program> _campaigns = null!;

    public async Task InitializeAsync()
    {
        await _redis.InitializeAsync();
        _ingestion = new(new Dictionary<string, string?>
        {
            ["ConnectionStrings:redis"] = _redis.ConnectionString,
            ["Admin:Token"] = Token,
        }, grpc: true);
        _ingestion.CreateGrpcChannel().Dispose();
        _campaigns = new(new Dictionary<string, string?>
        {
            ["ConnectionStrings:redis"] = _redis.ConnectionString,
            ["Admin:Token"] = Token,
            ["Ingestion:Address"] = $"http://127.0.0.1:{_ingestion.GrpcPort}",
            ["Campaigns:AllowedHosts"] = "127.0.0.1",
            ["Campaigns:RunnerEnabled"] = "false",
        }, grpc: true);
        _campaigns.CreateGrpcChannel().Dispose();
    }

    public async Task DisposeAsync()
    {
        await _campaigns.DisposeAsync();
        await _ingestion.DisposeAsync();
        await _redis.DisposeAsync();
    }

    private async Task<(int ExitCode, string Output, string Error)> RunAsync(params string[] args)
    {
        var settings = new CliSettings(new Uri($"http://127.0.0.1:{_ingestion.GrpcPort}"), new Uri($"http://127.0.0.1:{_campaigns.GrpcPort}"), Token,
            TimeSpan.FromSeconds(15));
        var output = new StringWriter();
        var error = new StringWriter();
        var exitCode = await new CliApp(settings, output, error).RunAsync(args);
        return (exitCode, output.ToString(), error.ToString());
    }

    private async Task<Campaign> CreateAsync(string ws, CampaignSpec spec)
    {
        spec.Name = "Morning digest";
        spec.Steps.Add(new RequestStep
        {
            Method = "POST", Url = "http://127.0.0.1:9/api/track", BodyFormat = BodyFormat.Json,
            Body = """{"app_id":"a","identity":"{{UserAttribute['ID']}}","event":"Digest","properties":{}}""",
        });
        using var channel = _campaigns.CreateGrpcChannel();
        return await new Campaigns.CampaignsClient(channel).CreateCampaignAsync(new CreateCampaignRequest { WorkspaceId = ws, Spec = spec },
            new Metadata { { "authorization", "Bearer " + Token } }, DateTime.UtcNow.AddSeconds(60));
    }

    [Fact]
    public async Task TurnsSendingInUsersTimeZonesOnWithThePassedZoneChoiceAndOffAgain()
    {
        var ws = "CLITZ" + Guid.NewGuid().ToString("N")[..6];
        var campaign = await CreateAsync(ws, new CampaignSpec { OneTime = new OneTimeDelivery { SendAtMs = 1796288400000 } });

        var on = await RunAsync("campaigns", "user-time-zone", ws, campaign.CampaignId, "--passed", "skip", "--time-zone", "Europe/Berlin");
        var off = await RunAsync("campaigns", "user-time-zone", ws, campaign.CampaignId, "--off");

        Assert.True(on.ExitCode == 0, $"exit {on.ExitCode}: {on.Error}");
        using (var json = JsonDocument.Parse(on.Output))
        {
            var oneTime = json.RootElement.GetProperty("spec").GetProperty("oneTime");
            Assert.Equal("Europe/Berlin", oneTime.GetProperty("timeZone").GetString());
            Assert.Equal("PASSED_TIME_ZONE_ACTION_SKIP", oneTime.GetProperty("userTimeZone").GetProperty("passedTimeZoneAction").GetString());
        }
        Assert.True(off.ExitCode == 0, $"exit {off.ExitCode}: {off.Error}");
        using (var json = JsonDocument.Parse(off.Output))
        {
            Assert.False(json.RootElement.GetProperty("spec").GetProperty("oneTime").TryGetProperty("userTimeZone", out _));
        }
    }

    [Fact]
    public async Task APeriodicCampaignGetsItToo()
    {
        var ws = "CLITZ" + Guid.NewGuid().ToString("N")[..6];
        var campaign = await CreateAsync(ws, new CampaignSpec { Periodic = new PeriodicDelivery { Frequency = Frequency.Daily, TimeOfDay = "10:00" } });

        var on = await RunAsync("campaigns", "user-time-zone", ws, campaign.CampaignId);

        Assert.True(on.ExitCode == 0, $"exit {on.ExitCode}: {on.Error}");
        using var json = JsonDocument.Parse(on.Output);
        Assert.True(json.RootElement.GetProperty("spec").GetProperty("periodic").TryGetProperty("userTimeZone", out _));
    }

    [Fact]
    public async Task AOneTimeCampaignWithoutATimeIsRefusedNamingTheField()
    {
        var ws = "CLITZ" + Guid.NewGuid().ToString("N")[..6];
        var campaign = await CreateAsync(ws, new CampaignSpec { OneTime = new OneTimeDelivery() });

        var result = await RunAsync("campaigns", "user-time-zone", ws, campaign.CampaignId);

        Assert.True(result.ExitCode == 1, $"exit {result.ExitCode}: {result.Error}");
        Assert.StartsWith("InvalidArgument: spec.one_time.send_at_ms:", result.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AnUnknownPassedChoiceIsAUsageErrorNamingTheValue()
    {
        var result = await RunAsync("campaigns", "user-time-zone", "ACME01", "c-1", "--passed", "later");

        Assert.True(result.ExitCode == 2, $"exit {result.ExitCode}: {result.Error}");
        Assert.Contains("'later'", result.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AnEventTriggeredCampaignIsAUsageError()
    {
        var ws = "CLITZ" + Guid.NewGuid().ToString("N")[..6];
        var campaign = await CreateAsync(ws, new CampaignSpec { EventTriggered = new EventTriggeredDelivery { EventName = "Signed Up" } });

        var result = await RunAsync("campaigns", "user-time-zone", ws, campaign.CampaignId);

        Assert.True(result.ExitCode == 2, $"exit {result.ExitCode}: {result.Error}");
        Assert.Contains("only One Time and Periodic", result.Error, StringComparison.Ordinal);
    }

    private static string SpecFile(string json)
    {
        var path = Path.Combine(Path.GetTempPath(), $"cli-spec-{Guid.NewGuid():N}.json");
        File.WriteAllText(path, json);
        return path;
    }

    private const string EventTriggeredSpec = """
        {"name":"Cart reminder","eventTriggered":{"eventName":"Checkout Started"},
         "steps":[{"method":"POST","url":"http://127.0.0.1:9/api/track","bodyFormat":"BODY_FORMAT_JSON",
                   "body":"{\"app_id\":\"a\",\"identity\":\"{{UserAttribute['ID']}}\",\"event\":\"Reminder\",\"properties\":{}}"}],
         "options":{"frequencyCap":{"perDay":2},"quietHours":{"start":"22:00","end":"08:00","zone":"QUIET_HOURS_ZONE_USER","action":"QUIET_HOURS_ACTION_DROP"}},
         "conversion_goals":{"events":[{"event_name":"Order Completed","filters":[{"attribute":"amount","operator":"ATTRIBUTE_OPERATOR_GREATER_THAN","value":{"numberValue":10}}]}],"windowMs":"86400000"}}
        """;

    [Fact]
    public async Task CreatesACampaignFromADefinitionFileWithItsControlsAndGoals()
    {
        var ws = "CLICR" + Guid.NewGuid().ToString("N")[..6];

        var created = await RunAsync("campaigns", "create", ws, SpecFile(EventTriggeredSpec), "--activate");

        Assert.True(created.ExitCode == 0, $"exit {created.ExitCode}: {created.Error}");
        using var json = JsonDocument.Parse(created.Output);
        Assert.Equal("CAMPAIGN_STATE_ACTIVE", json.RootElement.GetProperty("state").GetString());
        var spec = json.RootElement.GetProperty("spec");
        Assert.Equal(2, spec.GetProperty("options").GetProperty("frequencyCap").GetProperty("perDay").GetInt32());
        Assert.Equal("QUIET_HOURS_ACTION_DROP", spec.GetProperty("options").GetProperty("quietHours").GetProperty("action").GetString());
        Assert.Equal("Order Completed", spec.GetProperty("conversionGoals").GetProperty("events")[0].GetProperty("eventName").GetString());
    }

    [Fact]
    public async Task UpdatesACampaignFromAFileAtTheVersionItRead()
    {
        var ws = "CLIUP" + Guid.NewGuid().ToString("N")[..6];
        var campaign = await CreateAsync(ws, new CampaignSpec { EventTriggered = new EventTriggeredDelivery { EventName = "Signed Up" } });

        var updated = await RunAsync("campaigns", "update", ws, campaign.CampaignId, SpecFile(EventTriggeredSpec));

        Assert.True(updated.ExitCode == 0, $"exit {updated.ExitCode}: {updated.Error}");
        using var json = JsonDocument.Parse(updated.Output);
        Assert.Equal("Cart reminder", json.RootElement.GetProperty("spec").GetProperty("name").GetString());
        Assert.Equal(campaign.Version + 1, long.Parse(json.RootElement.GetProperty("version").GetString()!, System.Globalization.CultureInfo.InvariantCulture));
        Assert.Equal("CAMPAIGN_STATE_DRAFT", json.RootElement.GetProperty("state").GetString());
    }

    [Theory]
    [InlineData("""{"name":"x","colour":"red"}""", "Unknown field: colour")]
    [InlineData("""{"name":""", "is not valid JSON")]
    [InlineData("""{"name":"x","eventTriggered":{"eventName":"E"},"options":{"quietHours":{"action":"LATER"}}}""", "QuietHoursAction")]
    public async Task ABadDefinitionFileIsAUsageErrorNamingTheFileAndTheProblem(string json, string problem)
    {
        var path = SpecFile(json);

        var result = await RunAsync("campaigns", "create", "ACME01", path);

        Assert.True(result.ExitCode == 2, $"exit {result.ExitCode}: {result.Error}");
        Assert.Contains(path, result.Error, StringComparison.Ordinal);
        Assert.Contains(problem, result.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AMissingDefinitionFileIsAUsageError()
    {
        var result = await RunAsync("campaigns", "create", "ACME01", "/nonexistent/spec.json");

        Assert.True(result.ExitCode == 2, $"exit {result.ExitCode}: {result.Error}");
        Assert.StartsWith("Cannot read '/nonexistent/spec.json'", result.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ADefinitionTheServiceRefusesExitsOneNamingTheField()
    {
        var result = await RunAsync("campaigns", "create", "ACME01", SpecFile("""{"name":"x","eventTriggered":{"eventName":"E"}}"""));

        Assert.True(result.ExitCode == 1, $"exit {result.ExitCode}: {result.Error}");
        Assert.StartsWith("InvalidArgument: spec.steps", result.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task CountsAndListsTheUsersOfASegmentDefinitionAndOfACampaignsAudience()
    {
        var ws = "CLISG" + Guid.NewGuid().ToString("N")[..6];
        using (var channel = _ingestion.CreateGrpcChannel())
        {
            var request = new cli::Integration.Ingestion.V1.IngestUsersRequest { WorkspaceId = ws, ConfigName = "heap" };
            foreach (var (id, plan) in new[] { ("ada", "pro"), ("bob", "free"), ("cy", "pro") })
            {
                var user = new cli::Integration.Ingestion.V1.UserRecord { CustomerId = id, UpdatedAtMs = 1 };
                user.Attributes["plan"] = new Integration.Common.V1.AttributeValue { StringValue = plan };
                request.Users.Add(user);
                request.PayloadIds.Add(id);
            }
            await new cli::Integration.Ingestion.V1.Ingestion.IngestionClient(channel).IngestUsersAsync(request,
                new Metadata { { "authorization", "Bearer " + Token } }, DateTime.UtcNow.AddSeconds(60));
        }
        var segment = SpecFile("""{"filters":[{"attribute":{"attribute":"plan","operator":"ATTRIBUTE_OPERATOR_EQUALS","value":{"stringValue":"pro"}}}]}""");
        var campaign = await CreateAsync(ws, new CampaignSpec { EventTriggered = new EventTriggeredDelivery { EventName = "Signed Up" } });

        var count = await RunAsync("segments", "count", ws, segment);
        var users = await RunAsync("segments", "users", ws, segment, "--limit", "1");
        var audience = await RunAsync("segments", "count", ws, "--campaign", campaign.CampaignId);
        var neither = await RunAsync("segments", "count", ws);

        Assert.True(count.ExitCode == 0, $"exit {count.ExitCode}: {count.Error}");
        using (var json = JsonDocument.Parse(count.Output))
        {
            Assert.Equal("2", json.RootElement.GetProperty("matching").GetString());
            Assert.Equal("3", json.RootElement.GetProperty("total").GetString());
        }
        using (var json = JsonDocument.Parse(users.Output))
        {
            Assert.Single(json.RootElement.GetProperty("users").EnumerateArray());
            Assert.NotEqual("", json.RootElement.GetProperty("nextPageToken").GetString());
        }
        using (var json = JsonDocument.Parse(audience.Output))
        {
            Assert.Equal("3", json.RootElement.GetProperty("matching").GetString());
        }
        Assert.True(neither.ExitCode == 2, $"exit {neither.ExitCode}: {neither.Error}");
        Assert.Contains("either a definition file or --campaign", neither.Error, StringComparison.Ordinal);
    }
}
