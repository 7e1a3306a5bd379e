using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace TriggerLatency;

/// <summary>
/// The whole event-triggered path as separate processes from their Release builds, on loopback, wired by
/// environment variables as the AppHost would: redis-server (AOF everysec), ingestion, edge, campaigns and the Heap
/// emulator (limits off). Every process is killed when the bench ends; logs stay in a temporary folder
/// (kept with BENCH_KEEP_LOGS=1).
/// </summary>
internal sealed class Stack : IAsyncDisposable
{
    public const string AdminToken = "bench-admin-token";
    public const string HeapApp = "bench-app";

    private readonly string _root = RepositoryRoot();
    private readonly List<Service> _processes = [];

    private Stack(string directory) => Directory = directory;

    public string Directory { get; }

    public int RedisPort { get; } = FreePort();
    public int IngestionHttpPort { get; } = FreePort();
    public int IngestionGrpcPort { get; } = FreePort();
    public int EdgePort { get; } = FreePort();
    public int HeapPort { get; } = FreePort();
    public int CampaignsHttpPort { get; } = FreePort();
    public int CampaignsGrpcPort { get; } = FreePort();

    public Uri Edge => new($"http://127.0.0.1:{EdgePort}");
    public Uri Heap => new($"http://127.0.0.1:{HeapPort}");
    public Uri IngestionGrpc => new($"http://127.0.0.1:{IngestionGrpcPort}");
    public Uri CampaignsGrpc => new($"http://127.0.0.1:{CampaignsGrpcPort}");

    public IReadOnlyList<Service> Processes => _processes;

    public static async Task<Stack> StartAsync(IDictionary<string, string> campaignSettings)
    {
        var stack = new Stack(System.IO.Directory.CreateTempSubdirectory("trigger-latency-").FullName);
        try
        {
            await stack.StartAllAsync(campaignSettings);
            return stack;
        }
        catch
        {
            await stack.DisposeAsync();
            throw;
        }
    }

    private async Task StartAllAsync(IDictionary<string, string> campaignSettings)
    {
        var redis = Start("redis", "redis-server",
        [
            "--port", RedisPort.ToString(), "--bind", "127.0.0.1", "--dir", Directory, "--save", "",
            "--appendonly", "yes", "--appendfsync", "everysec", "--protected-mode", "no",
        ], new Dictionary<string, string>());
        await WaitAsync(redis, async () =>
        {
            using var client = new TcpClient();
            await client.ConnectAsync("127.0.0.1", RedisPort);
            var stream = client.GetStream();
            await stream.WriteAsync("PING\r\n"u8.ToArray());
            var buffer = new byte[64];
            return await stream.ReadAsync(buffer) > 0 && buffer[0] == (byte)'+';
        });
        var redisConnection = $"127.0.0.1:{RedisPort}";

        var ingestion = StartService("ingestion", "Integration.Ingestion", new()
        {
            ["ConnectionStrings__redis"] = redisConnection,
            ["Admin__Token"] = AdminToken,
            ["Kestrel__Endpoints__http__Url"] = $"http://127.0.0.1:{IngestionHttpPort}",
            ["Kestrel__Endpoints__grpc__Url"] = $"http://127.0.0.1:{IngestionGrpcPort}",
        });
        var heap = StartService("heap", "Integration.HeapEmulator", new()
        {
            ["Kestrel__Endpoints__http__Url"] = $"http://127.0.0.1:{HeapPort}",
            ["HeapEmulator__EnforceLimits"] = "false",
            ["HeapEmulator__Apps__0"] = HeapApp,
        });
        await Task.WhenAll(WaitHealthyAsync(ingestion, IngestionHttpPort), WaitHealthyAsync(heap, HeapPort));

        var edge = StartService("edge", "Integration.Edge", new()
        {
            ["ConnectionStrings__redis"] = redisConnection,
            ["Ingestion__Address"] = $"http://127.0.0.1:{IngestionGrpcPort}",
            ["Kestrel__Endpoints__http__Url"] = $"http://127.0.0.1:{EdgePort}",
        });
        var campaignEnvironment = new Dictionary<string, string>
        {
            ["ConnectionStrings__redis"] = redisConnection,
            ["Admin__Token"] = AdminToken,
            ["Ingestion__Address"] = $"http://127.0.0.1:{IngestionGrpcPort}",
            ["Campaigns__AllowedHosts__0"] = "127.0.0.1",
            ["Kestrel__Endpoints__http__Url"] = $"http://127.0.0.1:{CampaignsHttpPort}",
            ["Kestrel__Endpoints__grpc__Url"] = $"http://127.0.0.1:{CampaignsGrpcPort}",
        };
        foreach (var (key, value) in campaignSettings)
        {
            campaignEnvironment[key] = value;
        }
        var campaigns = StartService("campaigns", "Integration.Campaigns", campaignEnvironment);
        await Task.WhenAll(WaitHealthyAsync(edge, EdgePort), WaitHealthyAsync(campaigns, CampaignsHttpPort));
    }

    private Service StartService(string name, string project, Dictionary<string, string> environment)
    {
        environment["ASPNETCORE_ENVIRONMENT"] = "Production";
        var dll = Path.Combine(_root, "src", project, "bin/Release/net10.0", project + ".dll");
        return Start(name, dll, [], environment);
    }

    private Service Start(string name, string fileName, IEnumerable<string> arguments, IDictionary<string, string> environment)
    {
        var logPath = Path.Combine(Directory, name + ".log");
        var isDll = fileName.EndsWith(".dll", StringComparison.Ordinal);
        // exec keeps the pid; a service reads appsettings.json from its own folder (the working directory).
        var info = new ProcessStartInfo("/bin/sh") { UseShellExecute = false, WorkingDirectory = isDll ? Path.GetDirectoryName(fileName)! : Directory };
        info.ArgumentList.Add("-c");
        info.ArgumentList.Add("exec \"$0\" \"$@\" >>\"$LOGFILE\" 2>&1");
        info.ArgumentList.Add(isDll ? "dotnet" : fileName);
        if (isDll)
        {
            info.ArgumentList.Add(fileName);
        }
        foreach (var argument in arguments)
        {
            info.ArgumentList.Add(argument);
        }
        info.Environment["LOGFILE"] = logPath;
        foreach (var (key, value) in environment)
        {
            info.Environment[key] = value;
        }
        // For experiments: BENCH_ENV_X=y gives every started service X=y.
        foreach (System.Collections.DictionaryEntry entry in Environment.GetEnvironmentVariables())
        {
            if (entry.Key is string key && key.StartsWith("BENCH_ENV_", StringComparison.Ordinal))
            {
                info.Environment[key["BENCH_ENV_".Length..]] = entry.Value as string;
            }
        }
        var service = new Service(name, Process.Start(info) ?? throw new InvalidOperationException($"{name} did not start."), logPath);
        _processes.Add(service);
        return service;
    }

    private static async Task WaitHealthyAsync(Service service, int port)
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(2) };
        await WaitAsync(service, async () => (await http.GetAsync($"http://127.0.0.1:{port}/health")).IsSuccessStatusCode);
    }

    private static async Task WaitAsync(Service service, Func<Task<bool>> probe)
    {
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (DateTime.UtcNow < deadline)
        {
            if (service.Process.HasExited)
            {
                throw new InvalidOperationException($"{service.Name} exited during start-up:{Environment.NewLine}{service.LogTail()}");
            }
            try
            {
                if (await probe())
                {
                    return;
                }
            }
            catch (Exception ex) when (ex is HttpRequestException or SocketException or TaskCanceledException or IOException)
            {
            }
            await Task.Delay(100);
        }
        throw new TimeoutException($"{service.Name} was not healthy within 60 s:{Environment.NewLine}{service.LogTail()}");
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    private static string RepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Integration.sln")))
            {
                return dir.FullName;
            }
        }
        throw new InvalidOperationException("Integration.sln not found above " + AppContext.BaseDirectory);
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var service in Enumerable.Reverse(_processes))
        {
            service.Dispose();
        }
        await Task.Yield();
        if (Environment.GetEnvironmentVariable("BENCH_KEEP_LOGS") is null)
        {
            try
            {
                System.IO.Directory.Delete(Directory, recursive: true);
            }
            catch (IOException)
            {
            }
        }
        else
        {
            Console.WriteLine($"logs kept in {Directory}");
        }
    }
}

/// <summary>A started process (SIGKILLed at the end), its output in a log file.</summary>
internal sealed class Service(string name, Process process, string logPath) : IDisposable
{
    public string Name => name;

    public Process Process => process;

    /// <summary>CPU time (user + system) used so far, in seconds, from /proc.</summary>
    public double CpuSeconds()
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{process.Id}/stat");
            var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
            return (long.Parse(fields[11]) + long.Parse(fields[12])) / 100.0;
        }
        catch (IOException)
        {
            return 0;
        }
    }

    public string LogTail(int lines = 20)
    {
        try
        {
            return string.Join(Environment.NewLine, File.ReadLines(logPath).TakeLast(lines));
        }
        catch (IOException)
        {
            return "";
        }
    }

    public void Dispose()
    {
        if (!process.HasExited)
        {
            process.Kill();
            process.WaitForExit(10_000);
        }
        process.Dispose();
    }
}
