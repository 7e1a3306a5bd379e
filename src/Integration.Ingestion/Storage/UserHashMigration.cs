using System.Diagnostics;
using System.Diagnostics.Metrics;
using Integration.Domain;
using Integration.Ingestion.Services;
using StackExchange.Redis;

namespace Integration.Ingestion.Storage;

/// <summary>
/// Merges users stored before the user hash (their profile <c>p</c>, aggregates <c>a</c> and duplicate markers <c>k</c>
/// in three hashes; docs/keyspace.md) into it, at start-up in the background. Nothing depends on it being done: the
/// write merges a user the first time it touches them and the readers read a user not merged yet correctly
/// (<see cref="RedisActivityStore.ReadUserAsync"/>); the pass bounds how long the old hashes stay for users who do not
/// write again. Each workspace's users are walked partition by partition with ZSCAN, a batch a script call (the write
/// script's merge records, one slot a call), at a bounded pace; a workspace done is noted in its record
/// (<see cref="IWorkspaceStore.MarkUsersMergedAsync"/>) so later starts skip it. A merge repeated (two replicas, a crash
/// half-way) moves nothing twice: it deletes what it moved in the same script.
/// </summary>
internal sealed partial class UserHashMigration(IConnectionMultiplexer redis, IActivityStore store, IWorkspaceStore workspaces,
    IMeterFactory meters, ILogger<UserHashMigration> logger) : BackgroundService
{
    /// <summary>Users per script call: bounds how long one call holds Redis.</summary>
    private const int UsersPerCall = 100;

    /// <summary>Pause after each call: at most 10,000 users a second, so the pass stays a small share of Redis at start-up.</summary>
    private static readonly TimeSpan PauseBetweenCalls = TimeSpan.FromMilliseconds(10);

    private static readonly ActivitySource Source = new("Integration.Ingestion.Migration");

    private readonly Counter<long> _merged = meters.Create(IngestionMetrics.MeterName).CreateCounter<long>(
        "integration.ingestion.user_hashes.merged", "{user}",
        "Users stored before the user hash whose profile, aggregates and duplicate markers the start-up pass merged into it.");

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        try
        {
            await PassAsync(PauseBetweenCalls, stoppingToken);
        }
        catch (Exception ex) when (!stoppingToken.IsCancellationRequested)
        {
            // Left for the next start: the merge is safe to repeat, and writes and reads do not need it.
            LogPassFailed(ex);
        }
    }

    /// <summary>Merges every workspace not yet noted as done; returns how many users had something to merge.</summary>
    public async Task<long> PassAsync(TimeSpan pause, CancellationToken cancellationToken)
    {
        using var activity = Source.StartActivity("merge user hashes");
        var started = Stopwatch.GetTimestamp();
        var db = redis.GetDatabase();
        long merged = 0, examined = 0;
        var done = 0;
        await foreach (var member in db.SetScanAsync(RedisWorkspaceStore.WorkspacesKey, pageSize: 100).WithCancellation(cancellationToken))
        {
            var ws = member.ToString();
            if (await workspaces.AreUsersMergedAsync(ws))
            {
                continue;
            }
            var (m, e) = await MergeWorkspaceAsync(db, ws, pause, cancellationToken);
            merged += m;
            examined += e;
            await workspaces.MarkUsersMergedAsync(ws);
            done++;
        }
        activity?.SetTag("ingestion.migration.workspaces", done);
        activity?.SetTag("ingestion.migration.users_examined", examined);
        activity?.SetTag("ingestion.migration.users_merged", merged);
        LogPass(done, examined, merged, Stopwatch.GetElapsedTime(started).TotalMilliseconds);
        return merged;
    }

    private async Task<(long Merged, long Examined)> MergeWorkspaceAsync(IDatabase db, string ws, TimeSpan pause, CancellationToken cancellationToken)
    {
        long merged = 0, examined = 0;
        for (var p = 0; p < EventStream.Partitions; p++)
        {
            await foreach (var batch in PartitionUsers.BatchesAsync(db, ws, p, UsersPerCall, cancellationToken))
            {
                merged += await CallAsync(ws, p, batch, pause, cancellationToken);
                examined += batch.Count;
            }
        }
        return (merged, examined);
    }

    private async Task<int> CallAsync(string ws, int partition, IReadOnlyList<string> users, TimeSpan pause, CancellationToken cancellationToken)
    {
        var merged = await store.MergeUsersAsync(ws, partition, users);
        _merged.Add(merged);
        if (pause > TimeSpan.Zero)
        {
            await Task.Delay(pause, cancellationToken);
        }
        return merged;
    }

    [LoggerMessage(LogLevel.Information,
        "User hashes: {Workspaces} workspaces looked at, {Examined} users examined, {Merged} merged into the user hash in {ElapsedMs:F0} ms")]
    private partial void LogPass(int workspaces, long examined, long merged, double elapsedMs);

    [LoggerMessage(LogLevel.Error, "Merging user hashes stopped; it resumes at the next start")]
    private partial void LogPassFailed(Exception ex);
}
