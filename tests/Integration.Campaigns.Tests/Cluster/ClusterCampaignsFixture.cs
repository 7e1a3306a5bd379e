extern alias heap;
extern alias ingestion;

using System.Diagnostics;
using System.Net.Http.Json;
using Grpc.Net.Client;
using heap::Integration.HeapEmulator.Inspection;
using Integration.Campaigns.Tests.Support;
using Integration.Ingestion.V1;
using Integration.Testing;
using Microsoft.Extensions.Time.Testing;
using StackExchange.Redis;

namespace Integration.Campaigns.Tests.Cluster;

/// <summary>
/// The campaign service's peers on a real three-master Redis Cluster: ingestion (users, events, the event streams)
/// and the Heap emulator on real Kestrel, with a cluster-aware client of the tests' own.
/// </summary>
public sealed class ClusterCampaignsFixture : IAsyncLifetime
{
    public RedisCluster Cluster { get; } = new();

    public ConnectionMultiplexer Redis { get; private set; } = null!;

    internal KestrelServiceFactory<ingestion::Program> Ingestion { get; private set; } = null!;

    internal KestrelServiceFactory<heap::Program> Heap { get; private set; } = null!;

    public GrpcChannel IngestionChannel { get; private set; } = null!;

    public HttpClient HeapHttp { get; private set; } = null!;

    public string HeapTrackUrl => new Uri(Heap.HttpAddress, "/api/track").ToString();

    public async Task InitializeAsync()
    {
        await Cluster.InitializeAsync();
        Redis = await ConnectionMultiplexer.ConnectAsync(Cluster.ConnectionString);
        Ingestion = new KestrelServiceFactory<ingestion::Program>(new Dictionary<string, string?>
        {
            ["ConnectionStrings:redis"] = Cluster.ConnectionString,
            ["Admin:Token"] = CampaignsFixture.AdminToken,
            ["Logging:LogLevel:Default"] = "Warning",
        }, grpc: true);
        IngestionChannel = Ingestion.CreateGrpcChannel();
        Heap = new KestrelServiceFactory<heap::Program>(new Dictionary<string, string?>
        {
            ["HeapEmulator:Apps:0"] = CampaignsFixture.HeapApp,
            ["Logging:LogLevel:Default"] = "Warning",
        });
        HeapHttp = Heap.CreateHttpClient();
    }

    /// <summary>A campaigns replica (API, runner loops and delivery engine) on the cluster.</summary>
    internal CampaignsHost StartCampaigns(FakeTimeProvider time, IDictionary<string, string?>? settings = null)
    {
        var config = new Dictionary<string, string?>
        {
            ["ConnectionStrings:redis"] = Cluster.ConnectionString,
            ["Admin:Token"] = CampaignsFixture.AdminToken,
            ["Ingestion:Address"] = $"http://127.0.0.1:{Ingestion.GrpcPort}",
            ["Campaigns:AllowedHosts"] = "127.0.0.1",
            ["Campaigns:RunnerEnabled"] = "true",
            ["Campaigns:PollIntervalMs"] = "20",
            ["Delivery:IdlePollInterval"] = "00:00:00.020",
            ["Delivery:SchedulerInterval"] = "00:00:00.050",
            ["Logging:LogLevel:Default"] = "Warning",
        };
        foreach (var (key, value) in settings ?? new Dictionary<string, string?>())
        {
            config[key] = value;
        }
        var host = new CampaignsHost(config, time, queue: null);
        host.CreateHttpClient().Dispose();
        return host;
    }

    /// <summary>Workspace ids whose slots belong to each master in turn, <paramref name="perMaster"/> of each.</summary>
    public IReadOnlyList<string> WorkspacesOnEveryMaster(int perMaster) =>
        Enumerable.Range(0, 1000).Select(_ => Specs.NewWorkspace())
            .GroupBy(ws => Redis.GetDatabase().IdentifyEndpoint($"camps:{{{ws}}}")!.ToString())
            .SelectMany(g => g.Take(perMaster)).ToList();

    public Task<IngestResponse> IngestEventAsync(string workspaceId, string customerId, string eventName, params (string Key, object Value)[] attributes)
    {
        var record = new EventRecord
        {
            User = new UserRecord { CustomerId = customerId },
            EventName = eventName,
            EventTimeMs = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds(),
        };
        foreach (var (key, value) in attributes)
        {
            record.Attributes[key] = CampaignsFixture.Value(value);
        }
        var request = new IngestEventsRequest { WorkspaceId = workspaceId, ConfigName = "test" };
        request.Events.Add(record);
        return new Ingestion.V1.Ingestion.IngestionClient(IngestionChannel).IngestEventsAsync(request, deadline: CampaignsFixture.Deadline()).ResponseAsync;
    }

    public async Task<IReadOnlyList<RecordedEvent>> HeapEventsAsync(string identity, string? eventName = null)
    {
        var url = $"/_emulator/events?app_id={CampaignsFixture.HeapApp}&identity={Uri.EscapeDataString(identity)}"
            + (eventName is null ? "" : $"&event={Uri.EscapeDataString(eventName)}");
        return (await HeapHttp.GetFromJsonAsync<EventsPage>(url, CampaignsFixture.EmulatorJson))!.Events;
    }

    public async Task<EmulatorStats> HeapStatsAsync() =>
        (await HeapHttp.GetFromJsonAsync<EmulatorStats>("/_emulator/stats", CampaignsFixture.EmulatorJson))!;

    public async Task DisposeAsync()
    {
        HeapHttp.Dispose();
        IngestionChannel.Dispose();
        await Heap.DisposeAsync();
        await Ingestion.DisposeAsync();
        await Redis.DisposeAsync();
        await Cluster.DisposeAsync();
    }
}

/// <summary>A fake clock that follows real time (so the runners' waits complete) and can jump over a campaign's delays.</summary>
internal sealed class FollowingClock : IAsyncDisposable
{
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _loop;

    public FollowingClock()
    {
        _loop = Task.Run(async () =>
        {
            var watch = Stopwatch.StartNew();
            var last = TimeSpan.Zero;
            while (!_stop.IsCancellationRequested)
            {
                await Task.Delay(5);
                var now = watch.Elapsed;
                Time.Advance(now - last);
                last = now;
            }
        });
    }

    public FakeTimeProvider Time { get; } = new(DateTimeOffset.UtcNow);

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        await _loop;
        _stop.Dispose();
    }
}
