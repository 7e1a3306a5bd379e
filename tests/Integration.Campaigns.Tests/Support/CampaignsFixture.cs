extern alias heap;
extern alias ingestion;

using System.Collections.Concurrent;
using System.Net.Http.Json;
using System.Text.Json;
using Grpc.Core;
using Grpc.Net.Client;
using heap::Integration.HeapEmulator.Inspection;
using Integration.Campaigns.Delivery;
using Integration.Campaigns.V1;
using Integration.Common.V1;
using Integration.Ingestion.V1;
using Integration.Testing;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;

namespace Integration.Campaigns.Tests.Support;

/// <summary>
/// The campaign service's real peers for one test class: redis-server, the ingestion service (users, events,
/// segments) and the Heap emulator, each on real Kestrel.
/// </summary>
public sealed class CampaignsFixture : IAsyncLifetime
{
    public const string AdminToken = "test-admin-token";
    public const string HeapApp = "test-app";

    public RedisServer Redis { get; } = new();

    internal KestrelServiceFactory<ingestion::Program> Ingestion { get; private set; } = null!;

    internal KestrelServiceFactory<heap::Program> Heap { get; private set; } = null!;

    public GrpcChannel IngestionChannel { get; private set; } = null!;

    public HttpClient HeapHttp { get; private set; } = null!;

    /// <summary>The emulator's track URL, on 127.0.0.1 (which the campaigns under test allow).</summary>
    public string HeapTrackUrl => new Uri(Heap.HttpAddress, "/api/track").ToString();

    public async Task InitializeAsync()
    {
        await Redis.InitializeAsync();
        Ingestion = new KestrelServiceFactory<ingestion::Program>(new Dictionary<string, string?>
        {
            ["ConnectionStrings:redis"] = Redis.ConnectionString,
            ["Admin:Token"] = AdminToken,
            // A workspace's stream entries are compressed after its first 50 (EventTriggerTests reads compressed ones).
            ["Storage:StreamDictionarySamples"] = "50",
            ["Logging:LogLevel:Default"] = "Warning",
        }, grpc: true);
        IngestionChannel = Ingestion.CreateGrpcChannel();
        Heap = new KestrelServiceFactory<heap::Program>(new Dictionary<string, string?>
        {
            ["HeapEmulator:Apps:0"] = HeapApp,
            ["Logging:LogLevel:Default"] = "Warning",
        });
        HeapHttp = Heap.CreateHttpClient();
    }

    /// <summary>Starts a campaigns service against the fixture's peers.</summary>
    internal CampaignsHost StartCampaigns(FakeTimeProvider time, RecordingDeliveryQueue? queue = null, bool runner = false,
        IDictionary<string, string?>? settings = null)
    {
        var config = new Dictionary<string, string?>
        {
            ["ConnectionStrings:redis"] = Redis.ConnectionString,
            ["Admin:Token"] = AdminToken,
            ["Ingestion:Address"] = $"http://127.0.0.1:{Ingestion.GrpcPort}",
            ["Campaigns:AllowedHosts"] = "127.0.0.1",
            ["Campaigns:RunnerEnabled"] = runner ? "true" : "false",
            ["Campaigns:PollIntervalMs"] = "20",
            ["Delivery:BackoffBase"] = "00:00:00.200",
            ["Delivery:BackoffCap"] = "00:00:01",
            ["Delivery:IdlePollInterval"] = "00:00:00.020",
            ["Delivery:SchedulerInterval"] = "00:00:00.050",
            ["Logging:LogLevel:Default"] = "Warning",
        };
        foreach (var (key, value) in settings ?? new Dictionary<string, string?>())
        {
            config[key] = value;
        }
        var host = new CampaignsHost(config, time, queue);
        host.CreateHttpClient().Dispose();
        return host;
    }

    public Task<IngestResponse> IngestUserAsync(string workspaceId, string customerId, params (string Key, object Value)[] attributes)
    {
        var user = new UserRecord { CustomerId = customerId, UpdatedAtMs = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() };
        foreach (var (key, value) in attributes)
        {
            user.Attributes[key] = Value(value);
        }
        var request = new IngestUsersRequest { WorkspaceId = workspaceId, ConfigName = "test" };
        request.Users.Add(user);
        return new Ingestion.V1.Ingestion.IngestionClient(IngestionChannel).IngestUsersAsync(request, deadline: Deadline()).ResponseAsync;
    }

    public Task<IngestResponse> IngestEventAsync(string workspaceId, string customerId, string eventName, DateTimeOffset at,
        params (string Key, object Value)[] attributes)
    {
        var record = new EventRecord
        {
            User = new UserRecord { CustomerId = customerId },
            EventName = eventName,
            EventTimeMs = at.ToUnixTimeMilliseconds(),
        };
        foreach (var (key, value) in attributes)
        {
            record.Attributes[key] = Value(value);
        }
        var request = new IngestEventsRequest { WorkspaceId = workspaceId, ConfigName = "test" };
        request.Events.Add(record);
        return new Ingestion.V1.Ingestion.IngestionClient(IngestionChannel).IngestEventsAsync(request, deadline: Deadline()).ResponseAsync;
    }

    public async Task<IReadOnlyList<RecordedEvent>> HeapEventsAsync(string identity, string? eventName = null)
    {
        var url = $"/_emulator/events?app_id={HeapApp}&identity={Uri.EscapeDataString(identity)}"
            + (eventName is null ? "" : $"&event={Uri.EscapeDataString(eventName)}");
        var page = await HeapHttp.GetFromJsonAsync<EventsPage>(url, EmulatorJson);
        return page!.Events;
    }

    public static readonly JsonSerializerOptions EmulatorJson = new(JsonSerializerDefaults.Web) { PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower };

    public static AttributeValue Value(object value) => value switch
    {
        string s => new AttributeValue { StringValue = s },
        bool b => new AttributeValue { BoolValue = b },
        int i => new AttributeValue { NumberValue = i },
        long l => new AttributeValue { NumberValue = l },
        double d => new AttributeValue { NumberValue = d },
        _ => throw new ArgumentException($"Unsupported attribute value {value}"),
    };

    public static DateTime Deadline() => DateTime.UtcNow.AddSeconds(60);

    public async Task DisposeAsync()
    {
        HeapHttp.Dispose();
        IngestionChannel.Dispose();
        await Heap.DisposeAsync();
        await Ingestion.DisposeAsync();
        await Redis.DisposeAsync();
    }
}

/// <summary>The campaigns service on real Kestrel with a fake clock and, optionally, a recording delivery queue.</summary>
internal sealed class CampaignsHost(IDictionary<string, string?> settings, FakeTimeProvider time, RecordingDeliveryQueue? queue)
    : KestrelServiceFactory<Program>(settings, grpc: true)
{
    private GrpcChannel? _channel;

    public FakeTimeProvider Time => time;

    public T Get<T>() where T : notnull => Services.GetRequiredService<T>();

    public V1.Campaigns.CampaignsClient Client => new(_channel ??= CreateGrpcChannel());

    public static Metadata Auth => new() { { "authorization", "Bearer " + CampaignsFixture.AdminToken } };

    public static CallOptions Call => new(Auth, CampaignsFixture.Deadline());

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        base.ConfigureWebHost(builder);
        builder.ConfigureTestServices(services =>
        {
            services.AddSingleton<TimeProvider>(time);
            if (queue is not null)
            {
                services.AddSingleton<IDeliveryQueue>(queue);
            }
        });
    }

    public override async ValueTask DisposeAsync()
    {
        _channel?.Dispose();
        await base.DisposeAsync();
    }
}

/// <summary>Records what campaigns hand to the delivery engine (unit-level tests); the same id is recorded once, as the engine does.</summary>
internal sealed class RecordingDeliveryQueue : IDeliveryQueue
{
    private readonly ConcurrentDictionary<string, DeliveryRequest> _byId = new();
    private readonly ConcurrentQueue<DeliveryRequest> _all = new();

    public IReadOnlyList<DeliveryRequest> Requests => _all.ToList();

    public int Calls => _calls;

    private int _calls;

    public IReadOnlyList<DeliveryRequest> For(string workspaceId) => _all.Where(r => r.WorkspaceId == workspaceId).ToList();

    /// <summary>Set: every call after this many throws, as if the process died there.</summary>
    public int? FailAfter { get; set; }

    public Task EnqueueAsync(DeliveryRequest request, CancellationToken cancellationToken)
    {
        if (Interlocked.Increment(ref _calls) > FailAfter)
        {
            throw new InvalidOperationException("The runner died here.");
        }
        if (_byId.TryAdd(request.DeliveryId, request))
        {
            _all.Enqueue(request);
        }
        return Task.CompletedTask;
    }
}

internal static class Specs
{
    /// <summary>A Heap track step: POST JSON to the emulator with the given body template.</summary>
    public static RequestStep HeapTrack(string url, string body, long delayMs = 0, params (string Name, string Value)[] headers)
    {
        var step = new RequestStep { Method = "POST", Url = url, BodyFormat = BodyFormat.Json, Body = body, DelayMs = delayMs };
        foreach (var (name, value) in headers)
        {
            step.Headers.Add(new Header { Name = name, Value = value });
        }
        return step;
    }

    public static string TrackBody(string eventName, string properties = "{}") =>
        $$"""{"app_id":"{{CampaignsFixture.HeapApp}}","identity":"{{"{{"}}UserAttribute['ID']{{"}}"}}","event":"{{eventName}}","properties":{{properties}}}""";

    public static string NewWorkspace() => "ws-" + Guid.NewGuid().ToString("N")[..12];
}

internal static class Eventually
{
    /// <summary>Polls until <paramref name="condition"/> holds; fails after <paramref name="timeout"/>.</summary>
    public static async Task<T> HoldsAsync<T>(Func<Task<T>> probe, Func<T, bool> condition, TimeSpan timeout, string what)
    {
        var deadline = DateTime.UtcNow + timeout;
        T value;
        while (!condition(value = await probe()))
        {
            if (DateTime.UtcNow > deadline)
            {
                Assert.Fail($"Timed out after {timeout.TotalSeconds} s waiting for {what}.");
            }
            await Task.Delay(50);
        }
        return value;
    }
}
