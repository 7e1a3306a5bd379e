using System.Diagnostics;

namespace InboundBench.Infra;

/// <summary>
/// A child process started by the bench (a service dll or redis-server), its output in a log file. Killing it is
/// SIGKILL, as a crash would be; every process is killed when the bench ends.
/// </summary>
internal sealed class ManagedProcess : IDisposable
{
    private readonly Process _process;

    private ManagedProcess(Process process, string name, string logPath)
    {
        _process = process;
        Name = name;
        LogPath = logPath;
    }

    public string Name { get; }

    public string LogPath { get; }

    public int Pid => _process.Id;

    public bool HasExited => _process.HasExited;

    public static ManagedProcess Start(string name, string fileName, IEnumerable<string> arguments, IDictionary<string, string> environment,
        string logDirectory)
    {
        var logPath = Path.Combine(logDirectory, name + ".log");
        // exec keeps the pid: the shell only redirects the output into the log file.
        // A service reads appsettings.json from its content root, the working directory: its own folder.
        var workingDirectory = fileName.EndsWith(".dll", StringComparison.Ordinal) ? Path.GetDirectoryName(fileName)! : logDirectory;
        var info = new ProcessStartInfo("/bin/sh") { UseShellExecute = false, WorkingDirectory = workingDirectory };
        info.ArgumentList.Add("-c");
        info.ArgumentList.Add("exec \"$0\" \"$@\" >>\"$LOGFILE\" 2>&1");
        info.ArgumentList.Add(fileName.EndsWith(".dll", StringComparison.Ordinal) ? "dotnet" : fileName);
        if (fileName.EndsWith(".dll", StringComparison.Ordinal))
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
        var process = Process.Start(info) ?? throw new InvalidOperationException($"{name} did not start.");
        return new ManagedProcess(process, name, logPath);
    }

    /// <summary>kill -9, and wait until the process is gone.</summary>
    public void Kill()
    {
        if (!_process.HasExited)
        {
            _process.Kill();
            _process.WaitForExit(10_000);
        }
    }

    /// <summary>Starts redis-server with AOF (everysec) on a loopback port and waits until it answers PING.</summary>
    public static async Task<ManagedProcess> StartRedisAsync(int port, string directory)
    {
        var redis = Start("redis", "redis-server",
        [
            "--port", port.ToString(), "--bind", "127.0.0.1", "--dir", directory, "--save", "",
            "--appendonly", "yes", "--appendfsync", "everysec", "--protected-mode", "no",
        ], new Dictionary<string, string>(), directory);
        await redis.WaitUntilAsync("redis", async () =>
        {
            using var client = new System.Net.Sockets.TcpClient();
            await client.ConnectAsync("127.0.0.1", port);
            var stream = client.GetStream();
            await stream.WriteAsync("PING\r\n"u8.ToArray());
            var buffer = new byte[64];
            var read = await stream.ReadAsync(buffer);
            // While the AOF loads Redis answers -LOADING.
            return read > 0 && buffer[0] == (byte)'+';
        });
        return redis;
    }

    /// <summary>Waits (at most 60 s) until the service answers 200 on <c>/health</c> of its HTTP port.</summary>
    public async Task WaitHealthyAsync(string name, int httpPort)
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(2) };
        await WaitUntilAsync(name, async () => (await http.GetAsync($"http://127.0.0.1:{httpPort}/health")).IsSuccessStatusCode);
    }

    /// <summary>Waits (at most 60 s) until <paramref name="probe"/> holds; fails at once, with the log tail, if the process exits.</summary>
    public async Task WaitUntilAsync(string name, Func<Task<bool>> probe)
    {
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (DateTime.UtcNow < deadline)
        {
            if (HasExited)
            {
                throw new InvalidOperationException($"{name} exited during start-up:{Environment.NewLine}{LogTail()}");
            }
            try
            {
                if (await probe())
                {
                    return;
                }
            }
            catch (Exception ex) when (ex is HttpRequestException or System.Net.Sockets.SocketException or TaskCanceledException or IOException)
            {
            }
            await Task.Delay(100);
        }
        throw new TimeoutException($"{name} was not healthy within 60 s:{Environment.NewLine}{LogTail()}");
    }

    public string LogTail(int lines = 20)
    {
        try
        {
            return string.Join(Environment.NewLine, File.ReadLines(LogPath).TakeLast(lines));
        }
        catch (IOException)
        {
            return "";
        }
    }

    public void Dispose()
    {
        Kill();
        _process.Dispose();
    }
}
