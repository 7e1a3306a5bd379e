using System.Collections.Concurrent;
using System.Text.Json;
using Integration.Domain;
using Integration.Ingestion.V1;
using StackExchange.Redis;

namespace Integration.Ingestion.Storage;

/// <summary>
/// Moves data stored in the layout before partitioning (every key of a workspace under <c>{ws}</c>, each event as an
/// <c>ev:</c> JSON document; docs/keyspace.md) into the partitioned layout: at start-up for every workspace in the
/// background, and for one user on the first read of that user while their workspace is not done. A user is moved by
/// replaying their profile and every stored event through the ordinary write (the event keeps its id, so the dedup
/// markers make a repeated move — after a crash half-way — store nothing twice, and the aggregates are rebuilt from
/// the same events they were counted from), and only then are the old keys deleted, the user last: nothing
/// acknowledged is lost at any point. Replayed events carry <c>replayed</c> in the stream, so they trigger no campaign.
/// The old stream (<see cref="EventStream.LegacyKey"/>, no longer written) is deleted once nobody can still need it:
/// every consumer group on it has read it to the end and acknowledged everything, or its newest entry is older than
/// the workspace's retention (see <see cref="DeleteDrainedLegacyStreamsAsync"/>).
/// </summary>
internal sealed partial class LegacyMigration(IConnectionMultiplexer redis, IActivityStore store, IRetentionPolicy retention, TimeProvider time,
    ILogger<LegacyMigration> logger) : BackgroundService
{
    /// <summary>How often a remaining old stream is looked at again (its consumers drain it meanwhile).</summary>
    private static readonly TimeSpan LegacyStreamCheckInterval = TimeSpan.FromMinutes(10);

    private const string UpdatedAtField = "_updated_at_ms";
    private const string AttributePrefix = "a:";
    private const int UsersPerRound = 100;

    private static RedisKey UsersKey(string ws) => $"users:{{{ws}}}";
    private static RedisKey UserKey(string ws, string cid) => $"user:{{{ws}}}:{cid}";
    private static RedisKey StatsKey(string ws, string cid) => $"ustats:{{{ws}}}:{cid}";
    private static RedisKey UserEventsKey(string ws, string cid) => $"uev:{{{ws}}}:{cid}";
    private static RedisKey UserEventsByNameKey(string ws, string cid, string name) => $"uevn:{{{ws}}}:{cid}:{name}";
    private static RedisKey EventKey(string ws, string id) => $"ev:{{{ws}}}:{id}";

    // Workspaces known to still hold old keys; reads of their users check for old keys first. Until the start-up
    // pass has looked, every workspace might.
    private readonly ConcurrentDictionary<string, bool> _pending = new(StringComparer.Ordinal);
    private volatile bool _surveyed;

    /// <summary>Moves one user first if they are still in the old layout (called before a read of the user).</summary>
    public async ValueTask EnsureUserAsync(string workspaceId, string customerId)
    {
        if (_surveyed && !_pending.ContainsKey(workspaceId))
        {
            return;
        }
        var db = redis.GetDatabase();
        if (await db.KeyExistsAsync([UserKey(workspaceId, customerId), StatsKey(workspaceId, customerId)]) > 0)
        {
            await MigrateUserAsync(db, workspaceId, customerId);
        }
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        try
        {
            var db = redis.GetDatabase();
            var workspaces = await db.SetMembersAsync(RedisWorkspaceStore.WorkspacesKey);
            foreach (var ws in workspaces.Select(w => w.ToString()))
            {
                if (await db.KeyExistsAsync(UsersKey(ws)))
                {
                    _pending[ws] = true;
                }
            }
            _surveyed = true;
            foreach (var ws in _pending.Keys.ToList())
            {
                var moved = await MigrateWorkspaceAsync(db, ws, stoppingToken);
                _pending.TryRemove(ws, out _);
                LogWorkspaceMigrated(ws, moved);
            }
            // Then the old streams, until none is left: a few commands per workspace every interval.
            while (await DeleteDrainedLegacyStreamsAsync() > 0)
            {
                await Task.Delay(LegacyStreamCheckInterval, time, stoppingToken);
            }
        }
        catch (Exception ex) when (!stoppingToken.IsCancellationRequested)
        {
            // Left for the next start (and for first reads meanwhile): the move is safe to repeat.
            LogMigrationFailed(ex);
        }
    }

    /// <summary>
    /// Deletes the old stream of every workspace that nobody can still need (moving users never reads it): each
    /// consumer group on it (the trigger consumer's) has nothing pending and has been delivered its last entry, or
    /// there is no group (nothing will ever read it: a group made later starts at its end), or its newest entry
    /// arrived before the workspace's retention floor. Nothing is written to it any more, so a drained stream stays
    /// drained. Returns how many old streams remain.
    /// </summary>
    public async Task<int> DeleteDrainedLegacyStreamsAsync()
    {
        var db = redis.GetDatabase();
        var remaining = 0;
        foreach (var ws in (await db.SetMembersAsync(RedisWorkspaceStore.WorkspacesKey)).Select(w => w.ToString()))
        {
            var key = EventStream.LegacyKey(ws);
            if (!await db.KeyExistsAsync(key))
            {
                continue;
            }
            var info = await db.StreamInfoAsync(key);
            var groups = await db.StreamGroupInfoAsync(key);
            var drained = groups.All(g => g.PendingMessageCount == 0 && g.LastDeliveredId == info.LastGeneratedId);
            var floor = await retention.FloorMsAsync(ws, time.GetUtcNow().ToUnixTimeMilliseconds());
            var aged = info.Length == 0 || EntryMs(info.LastGeneratedId) < floor;
            if (drained || aged)
            {
                await db.KeyDeleteAsync(key);
                LogLegacyStreamDeleted(ws, info.Length, drained ? "read to the end" : "past the retention window");
            }
            else
            {
                remaining++;
            }
        }
        return remaining;
    }

    private static long EntryMs(RedisValue id) =>
        long.TryParse(id.ToString().Split('-')[0], System.Globalization.NumberStyles.Integer, System.Globalization.CultureInfo.InvariantCulture, out var ms) ? ms : 0;

    /// <summary>Moves every user of a workspace; returns how many.</summary>
    public async Task<long> MigrateWorkspaceAsync(IDatabase db, string workspaceId, CancellationToken cancellationToken)
    {
        long moved = 0;
        while (true)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var users = await db.SortedSetRangeByRankAsync(UsersKey(workspaceId), 0, UsersPerRound - 1);
            if (users.Length == 0)
            {
                return moved;
            }
            foreach (var cid in users)
            {
                await MigrateUserAsync(db, workspaceId, cid.ToString());
                moved++;
            }
        }
    }

    private async Task MigrateUserAsync(IDatabase db, string ws, string cid)
    {
        var profileTask = db.HashGetAllAsync(UserKey(ws, cid));
        var statsTask = db.HashGetAllAsync(StatsKey(ws, cid));
        var idsTask = db.SortedSetRangeByRankAsync(UserEventsKey(ws, cid));
        var profile = await profileTask;
        var stats = await statsTask;
        var ids = await idsTask;

        var records = new List<RecordWrite>();
        var user = new UserRecord { CustomerId = cid };
        foreach (var entry in profile)
        {
            var name = entry.Name.ToString();
            if (name == UpdatedAtField)
            {
                user.UpdatedAtMs = (long)entry.Value;
            }
            else if (name.StartsWith(AttributePrefix, StringComparison.Ordinal))
            {
                user.Attributes[name[AttributePrefix.Length..]] = AttributeJson.FromJson(entry.Value.ToString());
            }
        }
        if (user.UpdatedAtMs > 0)
        {
            records.Add(RecordWrite.ForUser(ws, user, ""));
        }

        var eventKeys = ids.Select(id => EventKey(ws, id.ToString())).ToArray();
        var documents = eventKeys.Length == 0 ? [] : await db.StringGetAsync(eventKeys);
        foreach (var document in documents.Where(d => !d.IsNull))
        {
            using var json = JsonDocument.Parse(document.ToString());
            var root = json.RootElement;
            var e = new EventRecord
            {
                User = new UserRecord { CustomerId = cid },
                EventName = root.GetProperty("event_name").GetString() ?? "",
                EventTimeMs = root.GetProperty("event_time_ms").GetInt64(),
            };
            AttributeJson.ReadObject(root.GetProperty("attributes"), e.Attributes);
            var received = root.TryGetProperty("received_ms", out var r) ? r.GetInt64() : 0;
            records.Add(new RecordWrite(ws, root.GetProperty("config_name").GetString() ?? "", null, e,
                root.GetProperty("event_id").GetString() ?? "", "", Math.Max(received, 1)));
        }
        if (records.Count > 0)
        {
            await store.WriteAsync(records, "migrate user");
        }

        // Only what was just copied is deleted; the user leaves the old users index last, so a crash before it means
        // the next pass moves the user again (a repeat that stores nothing twice).
        var names = stats.Select(s => s.Name.ToString()).Where(f => f.StartsWith("c:", StringComparison.Ordinal)).Select(f => f[2..]);
        var old = new List<RedisKey> { UserKey(ws, cid), StatsKey(ws, cid), UserEventsKey(ws, cid) };
        old.AddRange(names.Select(n => UserEventsByNameKey(ws, cid, n)));
        old.AddRange(eventKeys);
        await db.KeyDeleteAsync(old.ToArray());
        await db.SortedSetRemoveAsync(UsersKey(ws), cid);
    }

    [LoggerMessage(LogLevel.Information, "Workspace {WorkspaceId}: {Users} users moved to the partitioned layout")]
    private partial void LogWorkspaceMigrated(string workspaceId, long users);

    [LoggerMessage(LogLevel.Information, "Workspace {WorkspaceId}: the stream from before partitioning ({Entries} entries) deleted, {Reason}")]
    private partial void LogLegacyStreamDeleted(string workspaceId, long entries, string reason);

    [LoggerMessage(LogLevel.Error, "Moving data to the partitioned layout stopped; it resumes at the next start")]
    private partial void LogMigrationFailed(Exception ex);
}
