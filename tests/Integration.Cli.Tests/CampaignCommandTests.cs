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
            new Metadata { { "authorization", "Bearer " + Token } }, DateTime.UtcNow.AddSeconds(15));
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
}
