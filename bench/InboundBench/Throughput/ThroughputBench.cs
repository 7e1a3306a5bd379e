using System.Diagnostics;
using System.Globalization;
using InboundBench.Infra;
using StackExchange.Redis;

namespace InboundBench.Throughput;

internal sealed record ThroughputSettings(int Seconds, int WarmupSeconds, int Threads, int Connections, int Workspaces, int RateLimit,
    bool SkipBare, string? ResultsFile);

/// <summary>Figures of one target under load.</summary>
/// <param name="MachineBusyPercent">How busy the whole machine's CPUs were while measured (100 = every core).</param>
internal sealed record TargetResult(string Name, WrkResult Wrk, IReadOnlyList<ProcessFigures> Processes, double MachineBusyPercent);

/// <summary>Peak RSS and CPU share of one process over the measured window.</summary>
internal sealed record ProcessFigures(string Name, double PeakRssMb, double CpuPercent);

/// <summary>
/// Inbound throughput: the same wrk load against a bare Kestrel endpoint (the machine's ceiling) and against the real
/// edge → gRPC → ingestion → Redis (AOF everysec) path, each after a warm-up.
/// </summary>
internal static class ThroughputBench
{
    public const double MinRatio = 0.30;
    public const double MaxP99Ms = 20;
    public const double MaxRssMb = 300;

    public static async Task<int> RunAsync(ThroughputSettings settings)
    {
        var root = Machine.RepositoryRoot();
        Console.WriteLine($"machine    {Environment.ProcessorCount} cores, load average {Machine.LoadAverage()} before the run");
        Console.WriteLine($"load       wrk -t{settings.Threads} -c{settings.Connections}, {settings.WarmupSeconds} s warm-up + {settings.Seconds} s measured, " +
            $"{settings.Workspaces} workspaces at {settings.RateLimit}/s each, 80 % events / 20 % users, every body unique");

        TargetResult? bare = null;
        if (!settings.SkipBare)
        {
            bare = await RunBareAsync(root, settings);
            Print(bare);
        }
        var pipeline = await RunPipelineAsync(settings);
        Print(pipeline);

        Console.WriteLine($"load average after the run: {Machine.LoadAverage()}");
        var ok = Summarise(bare, pipeline);
        if (settings.ResultsFile is { } file)
        {
            await File.WriteAllLinesAsync(file, ResultLines(bare, pipeline));
        }
        return ok ? 0 : 1;
    }

    private static async Task<TargetResult> RunBareAsync(string root, ThroughputSettings settings)
    {
        var directory = Directory.CreateTempSubdirectory("inbound-bare-").FullName;
        var port = Machine.FreePort();
        using var process = ManagedProcess.Start("bare", Path.Combine(root, "bench/BareKestrel/bin/Release/net10.0/BareKestrel.dll"), [],
            new Dictionary<string, string> { ["ASPNETCORE_URLS"] = $"http://127.0.0.1:{port}", ["ASPNETCORE_ENVIRONMENT"] = "Production" }, directory);
        using (var http = new HttpClient { Timeout = TimeSpan.FromSeconds(2) })
        {
            for (var i = 0; i < 300; i++)
            {
                try
                {
                    if ((await http.GetAsync($"http://127.0.0.1:{port}/health")).IsSuccessStatusCode)
                    {
                        break;
                    }
                }
                catch (HttpRequestException)
                {
                }
                await Task.Delay(100);
            }
        }
        // The bare endpoint ignores credentials; the script still sends them so the requests are the same bytes.
        var workspaces = Enumerable.Range(1, settings.Workspaces).Select(i => new Workspace($"bw{i:D4}", "bare-key-" + i)).ToList();
        var script = WrkRunner.WriteScript(directory, workspaces);
        var target = new Uri($"http://127.0.0.1:{port}");
        var result = await MeasureAsync("bare Kestrel", target, script, settings, [("bare", process.Pid)]);
        Directory.Delete(directory, recursive: true);
        return result;
    }

    private static async Task<TargetResult> RunPipelineAsync(ThroughputSettings settings)
    {
        await using var stack = await InboundStack.StartAsync();
        var workspaces = await stack.ProvisionAsync("bw", settings.Workspaces, settings.RateLimit);
        var script = WrkRunner.WriteScript(stack.Directory, workspaces);
        var configuration = ConfigurationOptions.Parse(stack.RedisConnectionString);
        configuration.AllowAdmin = true;
        await using var redis = await ConnectionMultiplexer.ConnectAsync(configuration);
        var server = redis.GetServer(redis.GetEndPoints()[0]);
        // Where Redis's time goes in the measured window: INFO commandstats before and after it.
        Dictionary<string, (long Calls, long Usec)> statsBefore = [];
        var result = await MeasureAsync("pipeline", stack.EdgeAddress, script, settings,
            [("edge", stack.Edge.Pid), ("ingestion", stack.Ingestion.Pid), ("redis", stack.Redis.Pid)],
            async () => statsBefore = await CommandStatsAsync(server));
        var statsAfter = await CommandStatsAsync(server);
        var requests = result.Wrk.RequestsPerSecond * settings.Seconds;
        Console.WriteLine("redis cmds measured window, per webhook: " + string.Join(", ", statsAfter
            .Select(c => (c.Key, Calls: c.Value.Calls - statsBefore.GetValueOrDefault(c.Key).Calls, Usec: c.Value.Usec - statsBefore.GetValueOrDefault(c.Key).Usec))
            .Where(c => c.Calls > 0).OrderByDescending(c => c.Usec)
            .Select(c => string.Create(CultureInfo.InvariantCulture, $"{c.Key} {c.Calls / requests:0.000} calls {c.Usec / requests:0.0} µs ({c.Usec / (double)c.Calls:0.0} µs a call)"))));

        // Acked webhooks are stored: the events in the streams match what was sent, give or take the users share.
        var db = redis.GetDatabase();
        long streamed = 0;
        foreach (var workspace in workspaces)
        {
            foreach (var stream in Integration.Domain.EventStream.Keys(workspace.Id))
            {
                streamed += await db.StreamLengthAsync(stream);
            }
        }
        var commandStats = (await server.InfoRawAsync("commandstats")) ?? "";
        var scripts = commandStats.Split('\n')
            .Where(l => l.StartsWith("cmdstat_eval", StringComparison.Ordinal))
            .Select(l => string.Join(',', l.Trim().Split(',').Take(3)).Replace("cmdstat_", "", StringComparison.Ordinal));
        var cpu = ((await server.InfoRawAsync("cpu")) ?? "").Split('\n').Select(l => l.Trim().Split(':')).Where(p => p.Length == 2)
            .ToDictionary(p => p[0], p => double.Parse(p[1], CultureInfo.InvariantCulture));
        var persistence = ((await server.InfoRawAsync("persistence")) ?? "").Split('\n')
            .FirstOrDefault(l => l.StartsWith("aof_rewrites:", StringComparison.Ordinal))?.Trim() ?? "";
        Console.WriteLine($"stored     {streamed} events in the workspaces' streams (warm-up included); redis scripts: {string.Join(", ", scripts)}");
        Console.WriteLine($"redis cpu  {cpu["used_cpu_user"] + cpu["used_cpu_sys"]:0.0} s main, {cpu["used_cpu_user_children"] + cpu["used_cpu_sys_children"]:0.0} s " +
            $"AOF rewrites (forks, {persistence}) since start");
        return result;
    }

    private static async Task<TargetResult> MeasureAsync(string name, Uri target, string script, ThroughputSettings settings,
        IReadOnlyList<(string Name, int Pid)> processes, Func<Task>? beforeMeasured = null)
    {
        if (settings.WarmupSeconds > 0)
        {
            await WrkRunner.RunAsync(target, script, settings.Threads, settings.Connections, settings.WarmupSeconds);
        }
        if (beforeMeasured is not null)
        {
            await beforeMeasured();
        }
        var cpuBefore = processes.Select(p => Machine.CpuSeconds(p.Pid)).ToArray();
        var machineBefore = Machine.MachineCpu();
        var clock = Stopwatch.StartNew();
        var wrk = await WrkRunner.RunAsync(target, script, settings.Threads, settings.Connections, settings.Seconds);
        var elapsed = clock.Elapsed.TotalSeconds;
        var figures = processes.Select((p, i) => new ProcessFigures(p.Name, Machine.Memory(p.Pid).PeakMb,
            100 * (Machine.CpuSeconds(p.Pid) - cpuBefore[i]) / elapsed)).ToList();
        var machineAfter = Machine.MachineCpu();
        var busy = 100.0 * (machineAfter.Busy - machineBefore.Busy) / Math.Max(1, machineAfter.Total - machineBefore.Total);
        return new TargetResult(name, wrk, figures, busy);
    }

    /// <summary>INFO commandstats: calls and microseconds per command (scripts count as eval/evalsha, the commands they run as themselves).</summary>
    private static async Task<Dictionary<string, (long Calls, long Usec)>> CommandStatsAsync(IServer server)
    {
        var stats = new Dictionary<string, (long, long)>(StringComparer.Ordinal);
        foreach (var line in ((await server.InfoRawAsync("commandstats")) ?? "").Split('\n'))
        {
            // cmdstat_xadd:calls=10,usec=52,usec_per_call=5.20,rejected_calls=0,failed_calls=0
            var colon = line.IndexOf(':', StringComparison.Ordinal);
            if (!line.StartsWith("cmdstat_", StringComparison.Ordinal) || colon < 0)
            {
                continue;
            }
            var fields = line[(colon + 1)..].Trim().Split(',').Select(f => f.Split('=')).Where(f => f.Length == 2).ToDictionary(f => f[0], f => f[1]);
            stats[line["cmdstat_".Length..colon]] = (long.Parse(fields["calls"], CultureInfo.InvariantCulture), long.Parse(fields["usec"], CultureInfo.InvariantCulture));
        }
        return stats;
    }

    private static void Print(TargetResult result)
    {
        var w = result.Wrk;
        Console.WriteLine($"{result.Name,-12} {w.RequestsPerSecond,9:0} req/s  p50 {w.P50,6:0.00} ms  p90 {w.P90,6:0.00} ms  p99 {w.P99,6:0.00} ms  " +
            $"p99.9 {w.P999,6:0.00} ms  non-2xx {w.NonSuccess}  socket errors {w.SocketErrors}  timeouts {w.Timeouts}  " +
            string.Join("  ", result.Processes.Select(p => $"{p.Name} {p.PeakRssMb:0} MB peak, {p.CpuPercent:0}% cpu")) +
            $"  machine {result.MachineBusyPercent:0}% busy");
        // CPU per request: where each request's cost goes (100% cpu = one core; redis includes its AOF rewrites).
        Console.WriteLine($"{"",-12} cpu per request: " + string.Join(", ", result.Processes.Select(p =>
            $"{p.Name} {p.CpuPercent * 10_000 / Math.Max(1, w.RequestsPerSecond):0.0} µs")) +
            $"; whole machine {result.MachineBusyPercent * Environment.ProcessorCount * 10_000 / Math.Max(1, w.RequestsPerSecond):0.0} µs");
    }

    private static bool Summarise(TargetResult? bare, TargetResult pipeline)
    {
        var w = pipeline.Wrk;
        var errors = w.NonSuccess + w.SocketErrors + w.Timeouts;
        var maxRss = pipeline.Processes.Where(p => p.Name != "redis").Max(p => p.PeakRssMb);
        var ok = errors == 0 && w.P99 < MaxP99Ms && maxRss <= MaxRssMb;
        Console.WriteLine();
        if (bare is not null)
        {
            var ratio = w.RequestsPerSecond / bare.Wrk.RequestsPerSecond;
            ok &= ratio >= MinRatio;
            Console.WriteLine($"ratio      pipeline / bare = {ratio:P1} (target >= {MinRatio:P0})");
        }
        Console.WriteLine($"target     p99 {w.P99:0.00} ms (< {MaxP99Ms} ms), errors {errors} (0), largest service RSS {maxRss:0} MB (<= {MaxRssMb} MB): " +
            (ok ? "met" : "NOT met"));
        return ok;
    }

    private static IEnumerable<string> ResultLines(TargetResult? bare, TargetResult pipeline)
    {
        foreach (var result in new[] { bare, pipeline })
        {
            if (result is null)
            {
                continue;
            }
            var w = result.Wrk;
            var rss = string.Join(", ", result.Processes.Select(p => string.Create(CultureInfo.InvariantCulture, $"{p.Name} {p.PeakRssMb:0} MB")));
            yield return string.Create(CultureInfo.InvariantCulture,
                $"inbound|{result.Name}|{w.RequestsPerSecond:0}|{w.P50:0.00}|{w.P90:0.00}|{w.P99:0.00}|{w.NonSuccess + w.SocketErrors + w.Timeouts}|{rss}");
        }
        if (bare is not null)
        {
            yield return string.Create(CultureInfo.InvariantCulture, $"ratio|{pipeline.Wrk.RequestsPerSecond / bare.Wrk.RequestsPerSecond:0.000}");
        }
    }
}
