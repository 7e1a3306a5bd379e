using System.Diagnostics;
using System.Net.Sockets;
using Xunit;

namespace Integration.Testing;

/// <summary>
/// A real Redis Cluster of three masters (no replicas): three <c>redis-server --cluster-enabled yes</c> on free
/// loopback ports, joined with <c>redis-cli --cluster create</c>, started for a test class or collection and
/// killed afterwards. The slots are spread over the three masters the way <c>redis-cli</c> spreads them, so
/// keys of different hash tags land on different processes.
/// </summary>
public sealed class RedisCluster : IAsyncLifetime
{
    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(60);

    private readonly string _directory = Path.Combine(Path.GetTempPath(), "integration-cluster-" + Guid.NewGuid().ToString("N"));
    private readonly List<Process> _processes = [];
    private readonly List<int> _ports = [];

    /// <summary>The masters' client ports.</summary>
    public IReadOnlyList<int> Ports => _ports;

    /// <summary>StackExchange.Redis connection string naming every master (any one would do: the client discovers the rest).</summary>
    public string ConnectionString => string.Join(",", _ports.Select(p => $"127.0.0.1:{p}"));

    public async Task InitializeAsync()
    {
        Directory.CreateDirectory(_directory);
        for (var node = 0; node < 3; node++)
        {
            await StartNodeAsync(node);
        }

        var create = await RunCliAsync(TimeSpan.FromSeconds(60),
            ["--cluster", "create", .. _ports.Select(p => $"127.0.0.1:{p}"), "--cluster-replicas", "0", "--cluster-yes"]);
        if (create.ExitCode != 0)
        {
            throw new InvalidOperationException($"redis-cli --cluster create failed ({create.ExitCode}): {create.Output}");
        }

        // Every node must see every slot covered before a client can rely on any of them.
        var deadline = DateTime.UtcNow + StartTimeout;
        foreach (var port in _ports)
        {
            while (true)
            {
                var info = await RunCliAsync(TimeSpan.FromSeconds(10), ["-p", port.ToString(), "cluster", "info"]);
                if (info.Output.Contains("cluster_state:ok", StringComparison.Ordinal))
                {
                    break;
                }
                if (DateTime.UtcNow > deadline)
                {
                    throw new TimeoutException($"The cluster node on port {port} did not report cluster_state:ok within {StartTimeout.TotalSeconds} s: {info.Output}");
                }
                await Task.Delay(100);
            }
        }
    }

    /// <summary>Runs one command on one node with redis-cli and returns its output (e.g. <c>DBSIZE</c>, <c>INFO commandstats</c>).</summary>
    public async Task<string> CommandAsync(int port, params string[] command)
    {
        var result = await RunCliAsync(TimeSpan.FromSeconds(10), ["-p", port.ToString(), .. command]);
        return result.ExitCode == 0
            ? result.Output
            : throw new InvalidOperationException($"redis-cli {string.Join(' ', command)} on port {port} failed: {result.Output}");
    }

    private async Task StartNodeAsync(int node)
    {
        // A port that was free a moment ago may be taken by the time redis-server binds it: try a few.
        for (var attempt = 1; ; attempt++)
        {
            var port = FreePort.Next();
            var busPort = FreePort.Next();
            var directory = Path.Combine(_directory, $"node{node}-{attempt}");
            Directory.CreateDirectory(directory);
            var info = new ProcessStartInfo(FindExecutable("redis-server"))
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                WorkingDirectory = directory,
            };
            foreach (var arg in new[]
            {
                "--port", port.ToString(), "--cluster-port", busPort.ToString(), "--bind", "127.0.0.1", "--protected-mode", "no",
                "--cluster-enabled", "yes", "--cluster-config-file", Path.Combine(directory, "nodes.conf"),
                "--cluster-node-timeout", "5000", "--dir", directory, "--save", "", "--appendonly", "no",
            })
            {
                info.ArgumentList.Add(arg);
            }

            var process = Process.Start(info) ?? throw new InvalidOperationException("redis-server did not start.");
            process.OutputDataReceived += (_, _) => { };
            process.ErrorDataReceived += (_, _) => { };
            process.BeginOutputReadLine();
            process.BeginErrorReadLine();

            var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
            while (!process.HasExited && DateTime.UtcNow < deadline && !await PingAsync(port))
            {
                await Task.Delay(50);
            }
            if (!process.HasExited && await PingAsync(port))
            {
                _processes.Add(process);
                _ports.Add(port);
                return;
            }

            Kill(process);
            if (attempt == 3)
            {
                throw new InvalidOperationException($"Cluster node {node} did not start (last port {port}, bus port {busPort}).");
            }
        }
    }

    private static Task<bool> PingAsync(int port) => RedisServer.PingAsync(port);

    private static async Task<(int ExitCode, string Output)> RunCliAsync(TimeSpan timeout, IEnumerable<string> args)
    {
        var info = new ProcessStartInfo(FindExecutable("redis-cli"))
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
        };
        foreach (var arg in args)
        {
            info.ArgumentList.Add(arg);
        }
        using var process = Process.Start(info) ?? throw new InvalidOperationException("redis-cli did not start.");
        process.StandardInput.Close();
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var cancel = new CancellationTokenSource(timeout);
        try
        {
            await process.WaitForExitAsync(cancel.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"redis-cli {string.Join(' ', info.ArgumentList)} did not finish within {timeout.TotalSeconds} s.");
        }
        return (process.ExitCode, await stdout + await stderr);
    }

    private static string FindExecutable(string name) => RedisServer.FindExecutable(name);

    private static void Kill(Process process)
    {
        try
        {
            if (!process.HasExited)
            {
                process.Kill();
                process.WaitForExit(5000);
            }
        }
        catch (InvalidOperationException)
        {
        }
        process.Dispose();
    }

    public Task DisposeAsync()
    {
        foreach (var process in _processes)
        {
            Kill(process);
        }
        _processes.Clear();
        try
        {
            Directory.Delete(_directory, recursive: true);
        }
        catch (IOException)
        {
        }
        return Task.CompletedTask;
    }
}
