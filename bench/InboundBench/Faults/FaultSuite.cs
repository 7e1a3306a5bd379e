using System.Diagnostics;
using System.Globalization;
using InboundBench.Infra;

namespace InboundBench.Faults;

/// <summary>One scenario's outcome: its ledger, whether its own rules held, and what it observed.</summary>
/// <param name="Summary">The counts as printed, when the ledger's own wording does not fit (deliveries).</param>
internal sealed record ScenarioResult(string Name, LedgerCounts? Ledger, bool Passed, IReadOnlyList<string> Notes, string? Summary = null);

/// <summary>
/// The fault suite on loopback, each scenario bounded in time: kill -9 ingestion under load, kill -9 and restart
/// Redis under load, a sweep of bad input at the edge, and on the campaign side kill -9 campaigns with deliveries
/// pending, a spell of 429s and 500s at Heap (<see cref="DeliveryFaults"/>) and a sweep of internal destinations and
/// foreign tokens (<see cref="OutboundSweep"/>). Exits non-zero on any loss or broken rule.
/// </summary>
internal static class FaultSuite
{
    private const int Concurrency = 8;

    public static async Task<int> RunAsync(string? only, string? resultsFile)
    {
        Console.WriteLine($"machine    {Environment.ProcessorCount} cores, load average {Machine.LoadAverage()} before the run");
        var scenarios = new (string Name, Func<Task<ScenarioResult>> Run)[]
        {
            ("kill-ingestion", KillIngestionAsync),
            ("kill-redis", KillRedisAsync),
            ("bad-input", BadInputSweep.RunAsync),
            ("kill-campaigns", DeliveryFaults.KillCampaignsAsync),
            ("heap-faults", DeliveryFaults.HeapFaultsAsync),
            ("outbound", OutboundSweep.RunAsync),
        };
        if (only is not null && scenarios.All(s => s.Name != only))
        {
            Console.Error.WriteLine($"unknown scenario '{only}'; one of: {string.Join(", ", scenarios.Select(s => s.Name))}");
            return 2;
        }
        var results = new List<ScenarioResult>();
        foreach (var (name, run) in scenarios.Where(s => only is null || s.Name == only))
        {
            var clock = Stopwatch.StartNew();
            ScenarioResult result;
            try
            {
                result = await run();
            }
            catch (Exception ex)
            {
                result = new ScenarioResult(name, null, false, [$"scenario failed to run: {ex.GetType().Name}: {ex.Message}"]);
            }
            results.Add(result);
            Console.WriteLine($"{result.Name,-15} {(result.Passed ? "PASS" : "FAIL")}  {clock.Elapsed.TotalSeconds:0} s  {result.Summary ?? result.Ledger?.ToString()}");
            foreach (var note in result.Notes)
            {
                Console.WriteLine($"                  {note}");
            }
        }
        if (resultsFile is not null)
        {
            await File.WriteAllLinesAsync(resultsFile, results.Select(r =>
                string.Create(CultureInfo.InvariantCulture,
                    $"fault|{r.Name}|{(r.Passed ? "pass" : "FAIL")}|{r.Ledger?.Acked}|{r.Ledger?.Stored}|{r.Ledger?.Lost}|{r.Ledger?.Duplicated}")));
        }
        Console.WriteLine($"load average after the run: {Machine.LoadAverage()}");
        return results.All(r => r.Passed) ? 0 : 1;
    }

    /// <summary>kill -9 ingestion for 4 s under load: 503s (never a 200) meanwhile; afterwards every 200 stored exactly once.</summary>
    private static async Task<ScenarioResult> KillIngestionAsync()
    {
        await using var stack = await InboundStack.StartAsync();
        var workspaces = await stack.ProvisionAsync("fi", 4, 100_000);
        var driver = new LoadDriver(stack.EdgeAddress, workspaces, "kill-ingestion-" + Guid.NewGuid().ToString("N")[..8]);
        using var stop = new CancellationTokenSource();
        var load = driver.RunAsync(Concurrency, stop.Token);

        await Task.Delay(TimeSpan.FromSeconds(3));
        stack.Ingestion.Kill();
        var down = LoadDriver.Now;
        await Task.Delay(TimeSpan.FromSeconds(4));
        var up = LoadDriver.Now;
        await stack.StartIngestionAsync();
        await Task.Delay(TimeSpan.FromSeconds(4));
        stop.Cancel();
        var attempts = await load;

        return await JudgeAsync("kill-ingestion", stack, attempts, down, up, mustAllBeStored: true);
    }

    /// <summary>kill -9 Redis for 3 s under load and restart it on its AOF: every 200 from before the kill is still stored.</summary>
    private static async Task<ScenarioResult> KillRedisAsync()
    {
        await using var stack = await InboundStack.StartAsync();
        var workspaces = await stack.ProvisionAsync("fr", 4, 100_000);
        var driver = new LoadDriver(stack.EdgeAddress, workspaces, "kill-redis-" + Guid.NewGuid().ToString("N")[..8]);
        using var stop = new CancellationTokenSource();
        var load = driver.RunAsync(Concurrency, stop.Token);

        await Task.Delay(TimeSpan.FromSeconds(3));
        stack.Redis.Kill();
        var down = LoadDriver.Now;
        await Task.Delay(TimeSpan.FromSeconds(3));
        var up = LoadDriver.Now;
        await stack.StartRedisAsync();
        await Task.Delay(TimeSpan.FromSeconds(5));
        stop.Cancel();
        var attempts = await load;

        var result = await JudgeAsync("kill-redis", stack, attempts, down, up, mustAllBeStored: true);
        var beforeKill = await Ledger.CountAsync(stack.RedisConnectionString, attempts.Where(a => a.DoneAt < down).ToList());
        var notes = result.Notes.Append($"acked before the kill: {beforeKill.Acked}, of them still stored after the restart: {beforeKill.Stored}, lost {beforeKill.Lost}");
        return result with { Passed = result.Passed && beforeKill.Lost == 0 && beforeKill.Acked > 0, Notes = notes.ToList() };
    }

    private static async Task<ScenarioResult> JudgeAsync(string name, InboundStack stack, List<Attempt> attempts, long down, long up, bool mustAllBeStored)
    {
        var notes = new List<string>();
        var passed = true;

        // Sent after the process was gone and answered before it was started again: nothing could have stored it.
        var whileDown = attempts.Where(a => a.SentAt > down && a.DoneAt < up).ToList();
        var statuses = string.Join(", ", whileDown.GroupBy(a => a.Status).OrderBy(g => g.Key).Select(g => $"{(g.Key == 0 ? "no answer" : g.Key.ToString(CultureInfo.InvariantCulture))} x{g.Count()}"));
        notes.Add($"while down: {whileDown.Count} answers ({statuses})");
        if (whileDown.Any(a => a.Status == 200))
        {
            notes.Add("a 200 while the store was down");
            passed = false;
        }
        if (whileDown.Count == 0 || whileDown.Any(a => a.Status is not 503))
        {
            notes.Add("expected only 503 while down");
            passed = false;
        }
        var recovered = attempts.Count(a => a.SentAt > up && a.Status == 200);
        notes.Add($"after the restart: {recovered} accepted");
        if (recovered == 0)
        {
            notes.Add("the edge did not recover");
            passed = false;
        }

        var ledger = await Ledger.CountAsync(stack.RedisConnectionString, attempts);
        if (ledger.Lost > 0 || ledger.Duplicated > 0 || (mustAllBeStored && ledger.Stored != ledger.Acked))
        {
            passed = false;
        }
        if (stack.Edge.HasExited)
        {
            notes.Add("the edge process died");
            passed = false;
        }
        return new ScenarioResult(name, ledger, passed, notes);
    }
}
