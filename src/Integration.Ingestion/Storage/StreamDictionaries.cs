using System.Collections.Concurrent;
using System.Diagnostics;
using System.Diagnostics.Metrics;
using Integration.Domain;
using Integration.Ingestion.Services;
using Microsoft.Extensions.Options;
using StackExchange.Redis;

namespace Integration.Ingestion.Storage;

/// <summary>
/// Owns the event stream's compression dictionaries (docs/keyspace.md, "Stream entry compression"): one a workspace,
/// trained from the first <see cref="StorageOptions.StreamDictionarySamples"/> entries this replica writes for it,
/// stored (<see cref="EventStream.DictionaryKey"/>) before the workspace's pointer (<see cref="EventStream.WorkspaceDictionaryKey"/>,
/// set once with NX: when replicas race, the first pointer wins, the others adopt it and delete what they trained)
/// and never changed afterwards, so entries always find theirs. Until a workspace has one, its entries are written
/// uncompressed (and are samples); afterwards every write compresses with it. Training runs off the write path.
/// </summary>
internal sealed partial class StreamDictionaries(IConnectionMultiplexer redis, IOptions<StorageOptions> options, ILogger<StreamDictionaries> logger,
    IMeterFactory? meters = null)
{
    /// <summary>A workspace whose samples teach zstd nothing is given up after this many (its entries stay uncompressed).</summary>
    private const int MaxSamples = 8_000;

    private static readonly ActivitySource Source = new("Integration.Ingestion.Storage");

    /// <summary>
    /// One training at a time per process: when many workspaces reach their sample count together (a replica's start,
    /// a bench's 200 workspaces) they queue instead of taking every core and their samples' memory at once.
    /// </summary>
    private readonly SemaphoreSlim _training = new(1, 1);

    private readonly ConcurrentDictionary<string, Workspace> _workspaces = new(StringComparer.Ordinal);
    private readonly Counter<long>? _trained = meters?.Create(IngestionMetrics.MeterName).CreateCounter<long>(
        "integration.ingestion.stream_dictionaries.trained", "{dictionary}", "Event stream compression dictionaries trained, by outcome (stored, adopted, failed).");

    /// <summary>The dictionary to compress a workspace's entries with, or null while it has none (then offer the entries as samples).</summary>
    public async ValueTask<EventStreamDictionary?> ForWorkspaceAsync(string workspaceId)
    {
        if (options.Value.StreamDictionarySamples == 0)
        {
            return null;
        }
        var workspace = _workspaces.GetOrAdd(workspaceId, static _ => new Workspace());
        if (workspace.Dictionary is { } known)
        {
            return known;
        }
        // Once per workspace and process: has another replica (or an earlier run) chosen one already?
        await workspace.Lookup.GetOrAdd(() => LookUpAsync(workspaceId, workspace));
        return workspace.Dictionary;
    }

    /// <summary>An uncompressed entry of a workspace without a dictionary: kept until there are enough to train on.</summary>
    public void Sample(string workspaceId, byte[] encoded)
    {
        if (!_workspaces.TryGetValue(workspaceId, out var workspace))
        {
            return;
        }
        List<byte[]> samples;
        lock (workspace)
        {
            if (workspace.Dictionary is not null || workspace.Training || workspace.Samples is not { } collected)
            {
                return;
            }
            collected.Add(encoded);
            if (collected.Count < workspace.Wanted)
            {
                return;
            }
            workspace.Training = true;
            samples = [.. collected];
        }
        workspace.Trained = Task.Run(() => TrainAsync(workspaceId, workspace, samples));
    }

    /// <summary>The workspace's last training, done or not (tests wait for it instead of for time to pass).</summary>
    internal Task TrainedAsync(string workspaceId) =>
        _workspaces.TryGetValue(workspaceId, out var workspace) ? workspace.Trained : Task.CompletedTask;

    private async Task LookUpAsync(string workspaceId, Workspace workspace)
    {
        var db = redis.GetDatabase();
        if ((string?)await db.StringGetAsync(EventStream.WorkspaceDictionaryKey(workspaceId)) is { } id
            && await ReadAsync(db, id) is { } dictionary)
        {
            Adopt(workspace, dictionary);
            return;
        }
        lock (workspace)
        {
            workspace.Samples ??= [];
            workspace.Wanted = options.Value.StreamDictionarySamples;
        }
    }

    private async Task TrainAsync(string workspaceId, Workspace workspace, List<byte[]> samples)
    {
        await _training.WaitAsync();
        using var activity = Source.StartActivity("train stream dictionary");
        activity?.SetTag("workspace.id", workspaceId);
        activity?.SetTag("ingestion.samples", samples.Count);
        var outcome = "failed";
        try
        {
            var trained = EventStreamDictionary.Train(samples);
            if (trained is null)
            {
                // Too few distinct bytes to learn from: try again with more, up to a bound.
                lock (workspace)
                {
                    workspace.Training = false;
                    workspace.Wanted *= 2;
                    if (workspace.Wanted > MaxSamples)
                    {
                        workspace.Samples = null;
                        LogGaveUp(workspaceId, samples.Count);
                    }
                }
                return;
            }
            var db = redis.GetDatabase();
            var id = trained.Id.ToString("x16");
            // The dictionary first, then the pointer: whoever sees the pointer finds the dictionary.
            await db.StringSetAsync(EventStream.DictionaryKey(trained.Id), trained.Bytes.ToArray());
            if (await db.StringSetAsync(EventStream.WorkspaceDictionaryKey(workspaceId), id, when: When.NotExists))
            {
                Adopt(workspace, trained);
                outcome = "stored";
            }
            else if ((string?)await db.StringGetAsync(EventStream.WorkspaceDictionaryKey(workspaceId)) is { } chosen
                && await ReadAsync(db, chosen) is { } theirs)
            {
                // Another replica chose first: nothing was compressed with ours, so it goes.
                if (theirs.Id != trained.Id)
                {
                    await db.KeyDeleteAsync(EventStream.DictionaryKey(trained.Id));
                }
                Adopt(workspace, theirs);
                outcome = "adopted";
            }
            LogTrained(workspaceId, samples.Count, trained.Bytes.Length, outcome);
        }
        catch (Exception ex) when (ex is RedisException or TimeoutException)
        {
            // Redis was away: keep writing uncompressed and train again on the next sample.
            lock (workspace)
            {
                workspace.Training = false;
            }
            activity?.SetStatus(ActivityStatusCode.Error, ex.Message);
            LogStoreFailed(workspaceId, ex.Message);
        }
        finally
        {
            _training.Release();
            activity?.SetTag("ingestion.outcome", outcome);
            _trained?.Add(1, new KeyValuePair<string, object?>("outcome", outcome));
        }
    }

    private static async Task<EventStreamDictionary?> ReadAsync(IDatabase db, string id) =>
        ulong.TryParse(id, System.Globalization.NumberStyles.HexNumber, null, out var parsed)
        && (byte[]?)await db.StringGetAsync(EventStream.DictionaryKey(parsed)) is { } bytes
        && EventStreamDictionary.FromBytes(bytes) is { } dictionary && dictionary.Id == parsed
            ? dictionary
            : null;

    private static void Adopt(Workspace workspace, EventStreamDictionary dictionary)
    {
        // Registered for this process's decoder (ListUserEvents) before any entry is compressed with it.
        EventStream.AddDictionary(dictionary);
        lock (workspace)
        {
            workspace.Dictionary = dictionary;
            workspace.Samples = null;
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Event stream dictionary of workspace {WorkspaceId}: trained on {Samples} entries, {Bytes} B, {Outcome}")]
    private partial void LogTrained(string workspaceId, int samples, int bytes, string outcome);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Event stream dictionary of workspace {WorkspaceId} not stored: {Error}; its entries stay uncompressed until the next try")]
    private partial void LogStoreFailed(string workspaceId, string error);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Event stream dictionary of workspace {WorkspaceId}: nothing to learn from {Samples} entries; its entries stay uncompressed")]
    private partial void LogGaveUp(string workspaceId, int samples);

    private sealed class Workspace
    {
        public volatile EventStreamDictionary? Dictionary;
        public readonly OnceTask Lookup = new();
        public List<byte[]>? Samples;
        public int Wanted;
        public bool Training;
        public volatile Task Trained = Task.CompletedTask;
    }

    /// <summary>A task started once; a failed one is started again by the next caller.</summary>
    private sealed class OnceTask
    {
        private Task? _task;

        public Task GetOrAdd(Func<Task> start)
        {
            var task = Volatile.Read(ref _task);
            if (task is null || task.IsFaulted || task.IsCanceled)
            {
                var started = start();
                task = Interlocked.CompareExchange(ref _task, started, task) == task ? started : Volatile.Read(ref _task)!;
            }
            return task;
        }
    }
}
