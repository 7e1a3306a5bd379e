using System.ComponentModel.DataAnnotations;
using System.Diagnostics;
using System.Diagnostics.Metrics;
using Integration.Domain;
using Integration.Ingestion.Services;
using Microsoft.Extensions.Options;
using StackExchange.Redis;

namespace Integration.Ingestion.Storage;

/// <summary>The retention sweeper's pace (docs/keyspace.md, "Retention").</summary>
internal sealed class RetentionSweeperOptions
{
    public const string SectionName = "Storage:Sweeper";

    /// <summary>Off: raw events of users who stopped writing are kept until their next write.</summary>
    public bool Enabled { get; set; } = true;

    /// <summary>Pause between two passes over every workspace (a pass starts at most this often across all replicas).</summary>
    [Range(1, 86_400)]
    public int IntervalSeconds { get; set; } = 600;

    /// <summary>Users looked at by one script call: bounds how long one call holds Redis.</summary>
    [Range(1, 1_000)]
    public int UsersPerCall { get; set; } = 100;

    /// <summary>Pause after each call, so a pass costs Redis a bounded rate (100 users / 20 ms: at most 5,000 users a second).</summary>
    [Range(0, 10_000)]
    public int PauseBetweenCallsMs { get; set; } = 20;
}

/// <summary>What one pass removed.</summary>
internal readonly record struct SweepResult(long UsersSwept, long EntriesRemoved, long StreamEntriesTrimmed, long MarkersRemoved = 0);

/// <summary>
/// Removes raw events older than the workspace's retention, and duplicate markers older than the duplicate window, for
/// users who stopped writing (the write script trims a user's index and markers only on the user's next write, and a
/// stream only on its next append). It walks each partition's users
/// index with ZSCAN, a batch of users per script call (every key of a call in the partition's slot, named in KEYS), at a
/// bounded pace, and trims each partition stream by age. It never scans the keyspace. Aggregates and profiles stay.
/// One replica sweeps at a time (a lease on <c>retention:sweep</c>); a pass repeated by another is harmless.
/// </summary>
internal sealed partial class RetentionSweeper(
    IConnectionMultiplexer redis, IRetentionPolicy retention, TimeProvider time, IOptions<RetentionSweeperOptions> options,
    IOptions<StorageOptions> storage, IMeterFactory meters, ILogger<RetentionSweeper> logger) : BackgroundService
{
    // Global (no hash tag), single-key SET NX PX only: which replica's pass is running.
    private const string LeaseKey = "retention:sweep";

    private static readonly string SweepScript = Scripts.Load("sweep.lua");
    private static readonly ActivitySource Source = new("Integration.Ingestion.Retention");

    private readonly (Counter<long> Users, Counter<long> Entries, Counter<long> Trimmed, Counter<long> Markers) _counters =
        CreateCounters(meters.Create(IngestionMetrics.MeterName));
    private readonly string _replica = Guid.NewGuid().ToString("N");

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (!options.Value.Enabled)
        {
            return;
        }
        var interval = TimeSpan.FromSeconds(options.Value.IntervalSeconds);
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                if (await redis.GetDatabase().StringSetAsync(LeaseKey, _replica, interval, When.NotExists))
                {
                    await PassAsync(stoppingToken);
                }
            }
            catch (Exception ex) when (!stoppingToken.IsCancellationRequested)
            {
                // The next pass starts over; what this one removed stays removed.
                LogPassFailed(ex);
            }
            await Task.Delay(interval, time, stoppingToken);
        }
    }

    /// <summary>One pass over every partition of every workspace.</summary>
    public async Task<SweepResult> PassAsync(CancellationToken cancellationToken)
    {
        using var activity = Source.StartActivity("retention sweep");
        var started = Stopwatch.GetTimestamp();
        var db = redis.GetDatabase();
        var total = new SweepResult();
        var workspaces = 0;
        await foreach (var member in db.SetScanAsync(RedisWorkspaceStore.WorkspacesKey, pageSize: 100).WithCancellation(cancellationToken))
        {
            var ws = member.ToString();
            var floor = await retention.FloorMsAsync(ws, time.GetUtcNow().ToUnixTimeMilliseconds());
            for (var p = 0; p < EventStream.Partitions; p++)
            {
                total = Add(total, await SweepPartitionAsync(db, ws, p, floor, cancellationToken));
            }
            workspaces++;
        }
        activity?.SetTag("ingestion.retention.workspaces", workspaces);
        activity?.SetTag("ingestion.retention.users_swept", total.UsersSwept);
        activity?.SetTag("ingestion.retention.entries_removed", total.EntriesRemoved);
        activity?.SetTag("ingestion.retention.stream_entries_trimmed", total.StreamEntriesTrimmed);
        activity?.SetTag("ingestion.retention.markers_removed", total.MarkersRemoved);
        LogPass(workspaces, total.UsersSwept, total.EntriesRemoved, total.StreamEntriesTrimmed, total.MarkersRemoved,
            Stopwatch.GetElapsedTime(started).TotalMilliseconds);
        return total;
    }

    private async Task<SweepResult> SweepPartitionAsync(IDatabase db, string ws, int partition, long floor, CancellationToken cancellationToken)
    {
        var result = await CallAsync(db, ws, partition, floor, [], trimStream: true, cancellationToken);
        await foreach (var batch in PartitionUsers.BatchesAsync(db, ws, partition, options.Value.UsersPerCall, cancellationToken))
        {
            result = Add(result, await CallAsync(db, ws, partition, floor, batch, trimStream: false, cancellationToken));
        }
        return result;
    }

    private async Task<SweepResult> CallAsync(IDatabase db, string ws, int partition, long floor, IReadOnlyList<string> users, bool trimStream,
        CancellationToken cancellationToken)
    {
        var keys = new RedisKey[1 + 3 * users.Count];
        keys[0] = EventStream.Key(ws, partition);
        for (var i = 0; i < users.Count; i++)
        {
            keys[1 + 3 * i] = UserKeyspace.Events(ws, users[i]);
            keys[2 + 3 * i] = UserKeyspace.User(ws, users[i]);
            keys[3 + 3 * i] = UserKeyspace.OldAggregates(ws, users[i]);
        }
        var nowSeconds = time.GetUtcNow().ToUnixTimeSeconds();
        var window = (long)TimeSpan.FromDays(storage.Value.DuplicateWindowDays).TotalSeconds;
        var reply = (RedisResult[])(await db.ScriptEvaluateAsync(SweepScript, keys, [floor, trimStream ? "1" : "0", nowSeconds, window]))!;
        var result = new SweepResult((long)reply[0], (long)reply[1], (long)reply[2], (long)reply[3]);
        Record(result);
        if (options.Value.PauseBetweenCallsMs > 0)
        {
            await Task.Delay(options.Value.PauseBetweenCallsMs, cancellationToken);
        }
        return result;
    }

    private static SweepResult Add(SweepResult a, SweepResult b) =>
        new(a.UsersSwept + b.UsersSwept, a.EntriesRemoved + b.EntriesRemoved, a.StreamEntriesTrimmed + b.StreamEntriesTrimmed,
            a.MarkersRemoved + b.MarkersRemoved);

    private static (Counter<long>, Counter<long>, Counter<long>, Counter<long>) CreateCounters(Meter meter) => (
        meter.CreateCounter<long>("integration.ingestion.retention.users_swept", "{user}",
            "Users whose aged-out raw events the retention sweeper removed."),
        meter.CreateCounter<long>("integration.ingestion.retention.entries_removed", "{event}",
            "Aged-out entries the retention sweeper removed from users' event indexes."),
        meter.CreateCounter<long>("integration.ingestion.retention.stream_entries_trimmed", "{event}",
            "Aged-out entries the retention sweeper trimmed from partition streams."),
        meter.CreateCounter<long>("integration.ingestion.retention.markers_removed", "{marker}",
            "Duplicate markers older than the duplicate window the retention sweeper removed from user hashes."));

    private void Record(SweepResult result)
    {
        _counters.Users.Add(result.UsersSwept);
        _counters.Entries.Add(result.EntriesRemoved);
        _counters.Trimmed.Add(result.StreamEntriesTrimmed);
        _counters.Markers.Add(result.MarkersRemoved);
    }

    [LoggerMessage(Level = LogLevel.Information,
        Message = "Retention sweep: {Workspaces} workspaces, {Users} users swept, {Entries} index entries removed, {Trimmed} stream entries trimmed, {Markers} duplicate markers removed in {ElapsedMs:F0} ms")]
    private partial void LogPass(int workspaces, long users, long entries, long trimmed, long markers, double elapsedMs);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Retention sweep failed; the next pass starts over")]
    private partial void LogPassFailed(Exception ex);
}
