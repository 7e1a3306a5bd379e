using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Integration.AppHost.Tests;

/// <summary>
/// The whole system started once for the test class, with Redis from redis-server in a temporary
/// folder so that tests never touch a developer's data.
/// </summary>
public sealed class AppHostFixture : IAsyncLifetime
{
    public static readonly TimeSpan StartTimeout = TimeSpan.FromMinutes(3);

    public static readonly string[] Resources = ["redis", "ingestion", "edge", "campaigns", "heap"];

    private readonly string _dataDirectory = Path.Combine(Path.GetTempPath(), "integration-apphost-" + Guid.NewGuid().ToString("N"));

    public DistributedApplication App { get; private set; } = null!;

    public Otlp.OtlpTraceReceiver Traces { get; } = new();

    public async Task InitializeAsync()
    {
        using var cts = new CancellationTokenSource(StartTimeout);
        var builder = await DistributedApplicationTestingBuilder.CreateAsync<Projects.Integration_AppHost>(
            [
                "--Redis:Mode=Executable",
                $"--Redis:DataDirectory={_dataDirectory}",
                // Random ports, so a developer's running AppHost does not clash with the tests.
                "--Ports:Edge=0", "--Ports:Ingestion=0", "--Ports:Campaigns=0", "--Ports:Heap=0",
                // Tests send their own traffic; the demo generator would only add noise.
                "--HeapTraffic:Enabled=false",
            ],
            cts.Token);
        builder.Services.AddLogging(logging => logging.SetMinimumLevel(LogLevel.Warning));

        // Every service exports its spans to a receiver in this process, so tests can follow one trace.
        await Traces.StartAsync();
        foreach (var project in builder.Resources.OfType<ProjectResource>().ToList())
        {
            builder.CreateResourceBuilder(project)
                .WithEnvironment("OTEL_EXPORTER_OTLP_ENDPOINT", Traces.Endpoint)
                .WithEnvironment("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf")
                .WithEnvironment("OTEL_BSP_SCHEDULE_DELAY", "200");
        }

        App = await builder.BuildAsync(cts.Token);
        await App.StartAsync(cts.Token);
    }

    public async Task DisposeAsync()
    {
        await App.DisposeAsync();
        await Traces.DisposeAsync();
        try
        {
            Directory.Delete(_dataDirectory, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}

/// <summary>One running system shared by every whole-system test (starting it takes ~10-20 s).</summary>
[CollectionDefinition(Name)]
public sealed class AppHostCollection : ICollectionFixture<AppHostFixture>
{
    public const string Name = "apphost";
}
