extern alias heap;

using System.Net.Http.Json;
using System.Text.Json;
using System.Text.Json.Nodes;
using Grpc.Core;
using Grpc.Net.Client;
using heap::Integration.HeapEmulator.Inspection;
using Integration.Campaigns.Delivery;
using Integration.Testing;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using StackExchange.Redis;

namespace Integration.Campaigns.Tests.Delivery;

/// <summary>
/// The delivery engine as the campaigns service hosts it (AddDeliveryEngine + MapDeliveryEndpoints on a
/// WebApplication with an HTTP/2 gRPC endpoint), against a real Redis. Each instance is one runner replica.
/// </summary>
internal sealed class DeliveryTestHost : IAsyncDisposable
{
    public const string AdminToken = "test-admin-token";

    private readonly WebApplication _app;

    private DeliveryTestHost(WebApplication app, int grpcPort)
    {
        _app = app;
        GrpcPort = grpcPort;
    }

    public int GrpcPort { get; }

    public IServiceProvider Services => _app.Services;

    public IDeliveryQueue Queue => Services.GetRequiredService<IDeliveryQueue>();

    public IDeadLetterStore Store => Services.GetRequiredService<IDeadLetterStore>();

    public static async Task<DeliveryTestHost> StartAsync(
        string redisConnectionString, IDictionary<string, string?>? settings = null, Action<IServiceCollection>? services = null)
    {
        var builder = WebApplication.CreateBuilder(new WebApplicationOptions { EnvironmentName = "Testing" });
        var grpcPort = FreePort.Next();
        builder.WebHost.ConfigureKestrel(k => k.ListenLocalhost(grpcPort, o => o.Protocols = HttpProtocols.Http2));
        var config = new Dictionary<string, string?>
        {
            ["Admin:Token"] = AdminToken,
            // The emulator listens on loopback, which the SSRF guard refuses unless allowed.
            ["Campaigns:AllowedHosts"] = "127.0.0.1",
            ["Delivery:BackoffBase"] = "00:00:00.200",
            ["Delivery:BackoffCap"] = "00:00:01",
            ["Delivery:ClaimAfter"] = "00:00:03",
            ["Delivery:MaxAttemptTimeout"] = "00:00:02",
            ["Delivery:IdlePollInterval"] = "00:00:00.020",
            ["Delivery:SchedulerInterval"] = "00:00:00.050",
            ["Delivery:Throttle:Enabled"] = "false",
            ["Logging:LogLevel:Default"] = "Warning",
        };
        foreach (var (key, value) in settings ?? new Dictionary<string, string?>())
        {
            config[key] = value;
        }
        // The test output holds the referenced services' appsettings.json (with their fixed Kestrel ports): not ours.
        builder.Configuration.Sources.Clear();
        builder.Configuration.AddInMemoryCollection(config);
        builder.AddServiceDefaults();
        builder.Services.AddSingleton<IConnectionMultiplexer>(_ => ConnectionMultiplexer.Connect(redisConnectionString));
        builder.Services.AddGrpc();
        builder.AddDeliveryEngine();
        services?.Invoke(builder.Services);

        var app = builder.Build();
        app.MapDeliveryEndpoints();
        await app.StartAsync();
        return new DeliveryTestHost(app, grpcPort);
    }

    public V1.Deliveries.DeliveriesClient CreateClient(out GrpcChannel channel)
    {
        channel = GrpcChannel.ForAddress($"http://127.0.0.1:{GrpcPort}");
        return new V1.Deliveries.DeliveriesClient(channel);
    }

    public static Metadata Auth => new() { { "authorization", "Bearer " + AdminToken } };

    public async ValueTask DisposeAsync()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(15));
        await _app.StopAsync(timeout.Token);
        await _app.DisposeAsync();
    }
}

/// <summary>Builds the requests a campaign would hand over, and reads back what the emulator recorded.</summary>
internal static class Deliveries
{
    public static readonly JsonSerializerOptions EmulatorJson = new(JsonSerializerDefaults.Web)
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
    };

    public static DeliveryRequest HeapTrack(
        Uri emulator, string workspace, string campaign, string identity, string trigger = "t1", string app = "test-app",
        DeliveryOptions? options = null, IReadOnlyDictionary<string, string>? headers = null, string? traceParent = null,
        DateTimeOffset? notBefore = null, string eventName = "Campaign Sent") =>
        new(DeliveryIds.For(campaign, 0, identity, trigger), workspace, campaign, 0, identity, trigger, "POST",
            new Uri(emulator, "/api/track").ToString(), headers ?? new Dictionary<string, string>(),
            new JsonObject { ["app_id"] = app, ["identity"] = identity, ["event"] = eventName }.ToJsonString(),
            "application/json", notBefore, options ?? new DeliveryOptions(), traceParent);

    public static async Task<EventsPage> EventsAsync(this HttpClient emulator, string identity) =>
        (await emulator.GetFromJsonAsync<EventsPage>($"/_emulator/events?identity={Uri.EscapeDataString(identity)}", EmulatorJson))!;

    public static async Task<EmulatorStats> StatsAsync(this HttpClient emulator) =>
        (await emulator.GetFromJsonAsync<EmulatorStats>("/_emulator/stats", EmulatorJson))!;

    public static async Task FaultAsync(this HttpClient emulator, object fault)
    {
        var response = await emulator.PostAsync("/_emulator/faults",
            new StringContent(JsonSerializer.Serialize(fault, EmulatorJson), System.Text.Encoding.UTF8, "application/json"));
        response.EnsureSuccessStatusCode();
    }

    public static async Task ClearFaultsAsync(this HttpClient emulator) =>
        (await emulator.DeleteAsync("/_emulator/faults")).EnsureSuccessStatusCode();

    /// <summary>Polls until <paramref name="condition"/> holds; fails with <paramref name="what"/> after <paramref name="timeout"/>.</summary>
    public static async Task<T> EventuallyAsync<T>(Func<Task<T>> probe, Func<T, bool> condition, TimeSpan timeout, string what)
    {
        var deadline = DateTime.UtcNow + timeout;
        T value;
        while (!condition(value = await probe()))
        {
            if (DateTime.UtcNow > deadline)
            {
                Assert.Fail($"Timed out after {timeout.TotalSeconds} s waiting for {what}; last value: {JsonSerializer.Serialize(value)}");
            }
            await Task.Delay(50);
        }
        return value;
    }

    public static Task<DeliveryRecord?> RecordWhenAsync(this DeliveryTestHost host, DeliveryRequest request, string state, TimeSpan timeout) =>
        EventuallyAsync(() => host.Store.GetAsync(request.WorkspaceId, request.DeliveryId), r => r?.State == state, timeout,
            $"delivery {request.DeliveryId} to be {state}");
}

/// <summary>A real redis-server and the Heap emulator on real Kestrel, shared by one test class.</summary>
public class EmulatorFixture : IAsyncLifetime
{
    private readonly Dictionary<string, string?> _settings;

    public EmulatorFixture() : this(new Dictionary<string, string?>())
    {
    }

    protected EmulatorFixture(Dictionary<string, string?> settings)
    {
        _settings = new Dictionary<string, string?> { ["HeapEmulator:Apps:0"] = "test-app", ["Logging:LogLevel:Default"] = "Warning" };
        foreach (var (key, value) in settings)
        {
            _settings[key] = value;
        }
    }

    public RedisServer Redis { get; } = new();

    internal KestrelServiceFactory<heap::Program> Emulator { get; private set; } = null!;

    public HttpClient Http { get; private set; } = null!;

    public Uri EmulatorAddress => Emulator.HttpAddress;

    public async Task InitializeAsync()
    {
        await Redis.InitializeAsync();
        Emulator = new KestrelServiceFactory<heap::Program>(_settings);
        Http = Emulator.CreateHttpClient();
    }

    public async Task DisposeAsync()
    {
        Http.Dispose();
        await Emulator.DisposeAsync();
        await Redis.DisposeAsync();
    }
}
