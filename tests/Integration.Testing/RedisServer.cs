using System.Diagnostics;
using System.Net.Sockets;
using Xunit;

namespace Integration.Testing;

/// <summary>
/// A real <c>redis-server</c> on a free loopback port, started for a test class or collection and
/// killed afterwards. Its data lives in a temporary folder that is deleted on dispose.
/// </summary>
public sealed class RedisServer : IAsyncLifetime
{
    private Process? _process;
    private readonly string _directory = Path.Combine(Path.GetTempPath(), "integration-redis-" + Guid.NewGuid().ToString("N"));

    public int Port { get; private set; }

    /// <summary>StackExchange.Redis connection string for this server.</summary>
    public string ConnectionString => $"127.0.0.1:{Port}";

    /// <summary>Whether to start Redis with AOF (for durability tests).</summary>
    public bool AppendOnly { get; init; }

    public async Task InitializeAsync()
    {
        Directory.CreateDirectory(_directory);
        // A port that was free a moment ago may be taken by the time redis-server binds it (another test run on
        // the same machine): redis-server then exits at once, and another port will do.
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                await StartAsync(FreePort.Next());
                return;
            }
            catch (RedisExitedException) when (attempt < 3)
            {
                _process?.Dispose();
            }
        }
    }

    /// <summary>Kills Redis the hard way (kill -9), as a crash would.</summary>
    public void Kill()
    {
        if (_process is { HasExited: false })
        {
            _process.Kill();
            _process.WaitForExit();
        }
    }

    /// <summary>Starts Redis again on the same port and folder (after <see cref="Kill"/>).</summary>
    public Task RestartAsync() => StartAsync(Port);

    private async Task StartAsync(int port)
    {
        Port = port;
        var executable = FindExecutable("redis-server");
        var info = new ProcessStartInfo(executable)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = _directory,
        };
        foreach (var arg in new[]
        {
            "--port", port.ToString(), "--bind", "127.0.0.1", "--dir", _directory, "--save", "",
            "--appendonly", AppendOnly ? "yes" : "no", "--appendfsync", "everysec", "--protected-mode", "no",
        })
        {
            info.ArgumentList.Add(arg);
        }

        _process = Process.Start(info) ?? throw new InvalidOperationException("redis-server did not start.");
        _process.OutputDataReceived += (_, _) => { };
        _process.ErrorDataReceived += (_, _) => { };
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();

        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (DateTime.UtcNow < deadline)
        {
            if (await PingAsync())
            {
                return;
            }
            if (_process.HasExited)
            {
                throw new RedisExitedException($"redis-server exited with code {_process.ExitCode} on port {port}.");
            }
            await Task.Delay(50);
        }
        throw new TimeoutException($"redis-server did not answer PING on port {port} within 10 s.");
    }

    private Task<bool> PingAsync() => PingAsync(Port);

    /// <summary>Whether a Redis on this loopback port answers PING (used by the cluster fixture too).</summary>
    internal static async Task<bool> PingAsync(int port)
    {
        try
        {
            using var client = new TcpClient();
            await client.ConnectAsync("127.0.0.1", port);
            var stream = client.GetStream();
            await stream.WriteAsync("PING\r\n"u8.ToArray());
            var buffer = new byte[16];
            var read = await stream.ReadAsync(buffer);
            return read > 0 && buffer[0] == (byte)'+';
        }
        catch (SocketException)
        {
            return false;
        }
    }

    /// <summary>A Redis program on PATH (redis-server, redis-cli), or an error that says how to get it.</summary>
    internal static string FindExecutable(string name)
    {
        var path = Environment.GetEnvironmentVariable("PATH") ?? "";
        return path.Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
            .Select(dir => Path.Combine(dir, name))
            .FirstOrDefault(File.Exists)
            ?? throw new InvalidOperationException(
                $"{name} is not on PATH. The test script installs it (scripts/test.sh; Debian's redis-server package brings redis-tools); by hand: apt-get install -y redis-server.");
    }

    public Task DisposeAsync()
    {
        Kill();
        _process?.Dispose();
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

/// <summary>redis-server exited while starting (most often: its port was taken).</summary>
internal sealed class RedisExitedException(string message) : InvalidOperationException(message);
