using System.Collections.Concurrent;
using System.Diagnostics;
using Grpc.Core;
using Integration.Campaigns.Delivery;
using Integration.Campaigns.Goals;
using Integration.Campaigns.Model;
using Integration.Campaigns.Sending;
using Integration.Campaigns.Storage;
using Integration.Campaigns.Users;
using Integration.Campaigns.V1;
using Integration.Common.V1;
using Integration.Domain;
using Integration.Domain.Segments;
using Microsoft.Extensions.Options;
using StackExchange.Redis;

namespace Integration.Campaigns.Runner;

/// <summary>One event as the trigger consumer reads it from a partition of ingestion's stream.</summary>
internal sealed record TriggerEvent(string Stream, RedisValue EntryId, EventStreamEntry Entry)
{
    public string EventId => Entry.EventId;
    public string CustomerId => Entry.CustomerId;
    public string EventName => Entry.EventName;
    public long EventTimeMs => Entry.EventTimeMs;
    public long ReceivedMs => Entry.ReceivedMs;
    public string AttributesJson => Entry.AttributesJson;
    public string TraceParent => Entry.TraceParent;

    /// <summary>The entry's event, or null when it is not one or lacks an id, a user or a name (then it is acknowledged and let go).</summary>
    public static TriggerEvent? From(string stream, StreamEntry entry) =>
        EventStream.Decode(name => entry[name], name => entry[name]) is { EventId.Length: > 0, CustomerId.Length: > 0, EventName.Length: > 0 } e
            // An event the upgrade copied into the partitioned stream was handled (or not) when it arrived.
            && !e.Replayed
            ? new TriggerEvent(stream, entry.Id, e)
            : null;
}

/// <summary>
/// Reads ingestion's event streams (the partitions of a workspace's stream this replica holds a lease on,
/// <see cref="TriggerPartitionLeases"/>, so each partition has one reader) with a consumer group per partition and
/// starts event-triggered
/// campaigns, a batch of entries at a time, in the order docs/campaigns.md describes: read → match each event against
/// the workspace's active campaigns (in memory) → backfill rule → one audience call for the whole batch → per user,
/// in stream order (users in parallel): exit events cancel, triggers render and enqueue (or record the delayed step)
/// → one acknowledgement for the batch. An entry is acknowledged only after its deliveries and pending steps are
/// recorded; a replica that takes a partition over first handles what its previous reader left unacknowledged.
/// </summary>
internal sealed partial class TriggerConsumer(
    IConnectionMultiplexer redis,
    ICampaignStore store,
    TriggerIndex index,
    TriggerPartitionLeases leases,
    IPendingSendStore pending,
    ITriggerMarkers markers,
    IUserDirectory users,
    CampaignSender sender,
    IDeliverySkips skips,
    ConversionTracker conversions,
    CampaignMetrics metrics,
    IOptions<CampaignsOptions> options,
    TimeProvider time,
    ILogger<TriggerConsumer> logger)
{
    private const int ReadBatch = 100;
    private const int UsersInParallel = 32;

    /// <summary>How long "this workspace has active campaigns" is believed before it is asked again.</summary>
    private static readonly TimeSpan GateAge = TimeSpan.FromSeconds(1);

    private readonly ConcurrentDictionary<string, IReadOnlyList<string>> _streams = new();
    private readonly ConcurrentDictionary<string, long> _nextClaimMs = new();
    /// <summary>Partitions just taken over: where the next XAUTOCLAIM of the previous reader's pending entries starts.</summary>
    private readonly ConcurrentDictionary<string, RedisValue> _takeovers = new();
    private readonly string _consumer = options.Value.ConsumerName.Length > 0
        ? options.Value.ConsumerName
        : $"{Environment.MachineName}-{Environment.ProcessId}";

    /// <summary>Reads and handles what is waiting in every relevant stream; returns how many entries were handled.</summary>
    public async Task<int> PollOnceAsync(CancellationToken cancellationToken)
    {
        var workspaces = await store.TriggerWorkspacesAsync();
        var handled = await Task.WhenAll(workspaces.Select(ws => PollWorkspaceAsync(ws, cancellationToken)));
        return handled.Sum();
    }

    /// <summary>Gives this replica's partitions back (it is stopping; no batch is in flight), so the others take them at once.</summary>
    public Task ReleasePartitionsAsync() => leases.ReleaseAsync(_consumer);

    /// <summary>
    /// Creates the consumer group at the end of every partition, so a new campaign reacts to new events only; returns
    /// the streams to read: the partitions, and the workspace's stream from before partitioning while it exists (its
    /// group was made when it was the only stream, so what was stored then is still handled once).
    /// </summary>
    public async Task<IReadOnlyList<string>> EnsureGroupAsync(string workspaceId)
    {
        if (_streams.TryGetValue(workspaceId, out var known))
        {
            return known;
        }
        var db = redis.GetDatabase();
        var streams = new List<string>(EventStream.Keys(workspaceId));
        await Task.WhenAll(streams.Select(stream => CreateGroupAsync(db, stream)));
        var legacy = EventStream.LegacyKey(workspaceId);
        if (await db.KeyExistsAsync(legacy))
        {
            await CreateGroupAsync(db, legacy);
            streams.Add(legacy);
        }
        _streams[workspaceId] = streams;
        return streams;
    }

    private async Task CreateGroupAsync(IDatabase db, string stream)
    {
        try
        {
            await db.StreamCreateConsumerGroupAsync(stream, options.Value.ConsumerGroup, StreamPosition.NewMessages, createStream: true);
        }
        catch (RedisServerException ex) when (ex.Message.Contains("BUSYGROUP", StringComparison.Ordinal))
        {
        }
    }

    private async Task<int> PollWorkspaceAsync(string workspaceId, CancellationToken cancellationToken)
    {
        if ((await index.GetAsync(workspaceId, GateAge)).IsEmpty)
        {
            return 0;
        }
        // Every partition this replica holds is read at once and what came back is handled as one batch (one audience
        // call); a user's events are all in one partition, which has one reader, so their order holds.
        var streams = await OwnedStreamsAsync(workspaceId);
        if (streams.Count == 0)
        {
            return 0;
        }
        var entries = await ReadAsync(streams);
        if (entries.Count == 0)
        {
            return 0;
        }
        // Asked after the read: a campaign activated before an event was stored is in this answer.
        var triggers = await index.CurrentAsync(workspaceId);
        var done = await HandleBatchAsync(workspaceId, triggers, entries, cancellationToken);
        var db = redis.GetDatabase();
        await Task.WhenAll(done.GroupBy(d => d.Stream, StringComparer.Ordinal)
            .Select(g => db.StreamAcknowledgeAsync(g.Key, options.Value.ConsumerGroup, g.Select(d => d.Id).ToArray())));
        return entries.Count;
    }

    /// <summary>
    /// The streams of the partitions this replica holds (the stream from before partitioning goes with partition 0);
    /// a partition just taken over starts with what its previous reader left pending.
    /// </summary>
    private async Task<IReadOnlyList<string>> OwnedStreamsAsync(string workspaceId)
    {
        var streams = await EnsureGroupAsync(workspaceId);
        var partitions = await leases.CurrentAsync(workspaceId, _consumer);
        var owned = new List<string>(partitions.Owned.Count + 1);
        for (var i = 0; i < streams.Count; i++)
        {
            var partition = i < EventStream.Partitions ? i : 0;
            if (!partitions.Owned.Contains(partition))
            {
                _takeovers.TryRemove(streams[i], out _);
                continue;
            }
            if (partitions.Acquired.Contains(partition))
            {
                _takeovers[streams[i]] = "0-0";
            }
            owned.Add(streams[i]);
        }
        return owned;
    }

    /// <summary>
    /// What is waiting in <paramref name="streams"/>: first what a takeover or a stale claim brings (now and then, per
    /// stream), then the new entries — in one <c>XREADGROUP</c> over every stream when Redis is a single server (the
    /// partitions are in different hash slots, so Redis Cluster takes one call per partition).
    /// </summary>
    private async Task<List<(string Stream, StreamEntry Entry)>> ReadAsync(IReadOnlyList<string> streams)
    {
        var claims = await Task.WhenAll(streams.Select(ClaimAsync));
        var entries = new List<(string Stream, StreamEntry Entry)>();
        for (var i = 0; i < streams.Count; i++)
        {
            entries.AddRange(claims[i].Select(entry => (streams[i], entry)));
        }
        if (streams.Count > 1 && redis.HashSlot(streams[0]) < 0)
        {
            try
            {
                var db = redis.GetDatabase();
                var positions = streams.Select(stream => new StreamPosition(stream, StreamPosition.NewMessages)).ToArray();
                foreach (var read in await db.StreamReadGroupAsync(positions, options.Value.ConsumerGroup, _consumer, ReadBatch))
                {
                    entries.AddRange(read.Entries.Where(e => !e.IsNull).Select(entry => ((string)read.Key!, entry)));
                }
                // Compressed entries are decoded with their workspace's dictionary: read once per process, before the first decode.
                await EventStream.LoadDictionariesAsync(db, entries.Select(e => e.Entry));
                return entries;
            }
            catch (RedisServerException ex) when (ex.Message.StartsWith("NOGROUP", StringComparison.Ordinal))
            {
                // One of them has no group (the deleted stream from before partitioning): each alone says which.
            }
        }
        var reads = await Task.WhenAll(streams.Select(ReadNewAsync));
        for (var i = 0; i < streams.Count; i++)
        {
            entries.AddRange(reads[i].Select(entry => (streams[i], entry)));
        }
        return entries;
    }

    private Task<List<StreamEntry>> ReadNewAsync(string stream) => UnlessDeletedAsync(stream, async () =>
    {
        var db = redis.GetDatabase();
        var entries = (await db.StreamReadGroupAsync(stream, options.Value.ConsumerGroup, _consumer, StreamPosition.NewMessages, ReadBatch))
            .Where(e => !e.IsNull).ToList();
        await EventStream.LoadDictionariesAsync(db, entries);
        return entries;
    });

    private async Task<List<StreamEntry>> UnlessDeletedAsync(string stream, Func<Task<List<StreamEntry>>> read)
    {
        try
        {
            return await read();
        }
        catch (RedisServerException ex) when (ex.Message.StartsWith("NOGROUP", StringComparison.Ordinal) && EventStream.IsLegacyKey(stream))
        {
            // The stream from before partitioning, deleted by ingestion once every group had read and acknowledged all
            // of it (docs/keyspace.md): forget it, the workspace's streams are listed again on the next poll.
            foreach (var (workspaceId, streams) in _streams)
            {
                if (streams.Contains(stream))
                {
                    _streams.TryRemove(workspaceId, out _);
                }
            }
            return [];
        }
    }

    /// <summary>The entries a takeover or a stale claim gives this consumer in <paramref name="stream"/> (none on most polls).</summary>
    private Task<List<StreamEntry>> ClaimAsync(string stream) => UnlessDeletedAsync(stream, () => ClaimOrNoneAsync(stream));

    private async Task<List<StreamEntry>> ClaimOrNoneAsync(string stream)
    {
        var db = redis.GetDatabase();
        var group = options.Value.ConsumerGroup;
        var entries = new List<StreamEntry>();
        if (_takeovers.TryGetValue(stream, out var cursor))
        {
            // This replica is now the partition's only reader: whatever is pending there (left by a replica that
            // stopped, died or gave the partition up) is older than what is new, so it goes first, idle or not.
            var left = await db.StreamAutoClaimAsync(stream, group, _consumer, 0, cursor, ReadBatch);
            entries.AddRange(left.ClaimedEntries.Where(e => !e.IsNull));
            if (left.NextStartId == "0-0")
            {
                _takeovers.TryRemove(stream, out _);
            }
            else
            {
                _takeovers[stream] = left.NextStartId;
            }
        }
        else if (ClaimDue(stream))
        {
            // Entries a dead consumer read and never acknowledged; looked for now and then, not on every poll.
            var stale = await db.StreamAutoClaimAsync(stream, group, _consumer, options.Value.ClaimIdleSeconds * 1000L, "0-0", ReadBatch);
            entries.AddRange(stale.ClaimedEntries.Where(e => !e.IsNull));
        }
        if (entries.Count > 0)
        {
            await EventStream.LoadDictionariesAsync(db, entries);
        }
        return entries;
    }

    private bool ClaimDue(string stream)
    {
        var now = Environment.TickCount64;
        if (now < _nextClaimMs.GetValueOrDefault(stream))
        {
            return false;
        }
        _nextClaimMs[stream] = now + Math.Max(1000, options.Value.ClaimIdleSeconds * 1000L / 4);
        return true;
    }

    /// <summary>Handles a batch of entries; returns the ids to acknowledge (all but those deferred by a transient failure).</summary>
    private async Task<List<(string Stream, RedisValue Id)>> HandleBatchAsync(string workspaceId, WorkspaceTriggers triggers,
        List<(string Stream, StreamEntry Entry)> entries,
        CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        var done = new List<(string Stream, RedisValue Id)>(entries.Count);
        var work = new List<(TriggerEvent Event, Campaign[] Exits, List<(Campaign Campaign, Dictionary<string, AttributeValue> Attributes)> Candidates)>();
        var stale = new Dictionary<(string CampaignId, string Reason), long>();
        // Kept only when a campaign of the workspace has conversion goals (the consumer's hot path allocates nothing for them otherwise).
        var decoded = triggers.ByGoalEvent.Count > 0 ? new List<EventStreamEntry>(entries.Count) : null;
        foreach (var (stream, entry) in entries)
        {
            var e = TriggerEvent.From(stream, entry);
            if (e is not null)
            {
                decoded?.Add(e.Entry);
            }
            var exits = e is null ? null : triggers.ByExitEvent.GetValueOrDefault(e.EventName);
            var candidates = e is null ? null : Candidates(e, triggers, now, stale);
            if (e is null || (exits is null && candidates is null))
            {
                done.Add((stream, entry.Id));
                continue;
            }
            work.Add((e, exits ?? [], candidates ?? []));
        }
        await RecordStaleAsync(workspaceId, stale, cancellationToken);
        // The same read feeds conversion goals (before the batch is acknowledged, so a crash repeats, never loses, them).
        if (decoded is not null)
        {
            await conversions.ObserveAsync(workspaceId, triggers.ByGoalEvent, decoded, now.ToUnixTimeMilliseconds());
        }
        if (work.Count == 0)
        {
            return done;
        }

        // One audience call for the batch: each user once per campaign, whatever number of events they sent.
        var wanted = work.SelectMany(w => w.Candidates.Select(c => (w.Event.CustomerId, c.Campaign))).Distinct().ToList();
        var found = new Dictionary<(string CustomerId, string CampaignId), UserLookup?>();
        if (wanted.Count > 0)
        {
            IReadOnlyList<UserLookup?> lookups;
            try
            {
                lookups = await users.FindManyAsync(workspaceId, wanted.Select(w => (w.CustomerId, (SegmentDefinition?)w.Campaign.Spec.Audience)).ToList(),
                    now, cancellationToken);
            }
            catch (Exception ex) when (IsTransient(ex) && !cancellationToken.IsCancellationRequested)
            {
                // Left unacknowledged: claimed again after ClaimIdleSeconds, by this replica or another.
                LogBatchDeferred(ex, workspaceId, work.Count);
                return done;
            }
            for (var i = 0; i < wanted.Count; i++)
            {
                found[(wanted[i].CustomerId, wanted[i].Campaign.CampaignId)] = lookups[i];
            }
        }

        // A user's events in stream order (a trigger then its exit event must cancel it); different users in parallel.
        var handled = new ConcurrentBag<(string Stream, RedisValue Id)>();
        await Parallel.ForEachAsync(work.GroupBy(w => w.Event.CustomerId, StringComparer.Ordinal),
            new ParallelOptions { MaxDegreeOfParallelism = UsersInParallel, CancellationToken = cancellationToken },
            async (userEvents, ct) =>
            {
                foreach (var (e, exits, candidates) in userEvents)
                {
                    try
                    {
                        await HandleAsync(workspaceId, e, exits, candidates, found, now, ct);
                    }
                    catch (Exception ex) when (IsTransient(ex) && !ct.IsCancellationRequested)
                    {
                        // This event and the user's later ones stay unacknowledged, so their order is kept when claimed again.
                        LogEntryDeferred(ex, workspaceId, e.EntryId.ToString());
                        return;
                    }
                    catch (Exception ex) when (!ct.IsCancellationRequested)
                    {
                        // Retrying a broken entry forever would stall nothing but fill the logs; it is logged and let go.
                        LogEntryFailed(ex, workspaceId, e.EntryId.ToString());
                    }
                    handled.Add((e.Stream, e.EntryId));
                }
            });
        done.AddRange(handled);
        return done;
    }

    /// <summary>
    /// The campaigns the event may trigger: its name, its attribute filters and the backfill rule; null if none.
    /// Events the backfill rule refuses are counted in <paramref name="stale"/>.
    /// </summary>
    private static List<(Campaign, Dictionary<string, AttributeValue>)>? Candidates(TriggerEvent e, WorkspaceTriggers triggers,
        DateTimeOffset now, Dictionary<(string, string), long> stale)
    {
        if (!triggers.ByEvent.TryGetValue(e.EventName, out var campaigns))
        {
            return null;
        }
        List<(Campaign, Dictionary<string, AttributeValue>)>? result = null;
        Dictionary<string, AttributeValue>? attributes = null;
        foreach (var campaign in campaigns)
        {
            attributes ??= AttributeJson.Parse(e.AttributesJson);
            if (!campaign.Spec.EventTriggered.EventFilters.All(f => AttributeRules.Matches(f, attributes.GetValueOrDefault(f.Attribute), now.ToUnixTimeMilliseconds())))
            {
                continue;
            }
            if (TriggerFreshness.Refusal(campaign, e.EventTimeMs, e.ReceivedMs, now.ToUnixTimeMilliseconds()) is { } reason)
            {
                stale[(campaign.CampaignId, reason)] = stale.GetValueOrDefault((campaign.CampaignId, reason)) + 1;
                continue;
            }
            (result ??= []).Add((campaign, attributes));
        }
        return result;
    }

    /// <summary>Backfilled events are counted per campaign (<c>skipped:stale_event</c>) and in the metric, once per batch.</summary>
    private async Task RecordStaleAsync(string workspaceId, Dictionary<(string CampaignId, string Reason), long> stale, CancellationToken cancellationToken)
    {
        foreach (var ((campaignId, reason), count) in stale)
        {
            metrics.StaleEvents(count, reason);
        }
        foreach (var byCampaign in stale.GroupBy(s => s.Key.CampaignId))
        {
            var count = byCampaign.Sum(s => s.Value);
            await skips.RecordSkippedAsync(workspaceId, byCampaign.Key, TriggerFreshness.StaleEvent, cancellationToken, count);
            LogStale(byCampaign.Key, count);
        }
    }

    private static bool IsTransient(Exception ex) =>
        ex is RedisConnectionException or RedisTimeoutException or TimeoutException
        || (ex is RpcException rpc && RpcFailures.IsTransient(rpc));

    private async Task HandleAsync(string workspaceId, TriggerEvent e, Campaign[] exits,
        List<(Campaign Campaign, Dictionary<string, AttributeValue> Attributes)> candidates,
        Dictionary<(string CustomerId, string CampaignId), UserLookup?> found, DateTimeOffset now, CancellationToken cancellationToken)
    {
        // The webhook's trace continues here: what this entry triggers (deliveries, pending steps) is one child of
        // the span that stored the event.
        ActivityContext.TryParse(e.TraceParent, null, isRemote: true, out var webhook);
        using var activity = CampaignMetrics.Source.StartActivity("campaign trigger", ActivityKind.Consumer, webhook);
        activity?.SetTag("campaigns.event_name", e.EventName);
        activity?.SetTag("campaigns.workspace", workspaceId);
        var traceParent = activity?.Id ?? e.TraceParent;

        foreach (var campaign in exits)
        {
            var cancelled = await pending.CancelAsync(workspaceId, campaign.CampaignId, e.CustomerId);
            if (cancelled > 0)
            {
                LogExited(campaign.CampaignId, e.CustomerId, cancelled, e.EventName);
            }
        }
        foreach (var (campaign, attributes) in candidates)
        {
            var lookup = found.GetValueOrDefault((e.CustomerId, campaign.CampaignId));
            if (lookup is not { InAudience: true })
            {
                continue;
            }
            if (campaign.Spec.EventTriggered.FirstTimeOnly && !await IsFirstTimeAsync(campaign, lookup, e))
            {
                continue;
            }
            metrics.Triggered();
            var sendTrigger = new SendTrigger(e.EventId, attributes, SendTrigger.None, traceParent.Length > 0 ? traceParent : null);
            await StartSequenceAsync(campaign, lookup, sendTrigger, e.EventTimeMs, e.AttributesJson, now, cancellationToken);
        }
    }

    private async Task<bool> IsFirstTimeAsync(Campaign campaign, UserLookup lookup, TriggerEvent e)
    {
        // On event time: the first occurrence ever, even if an earlier one arrives later; the marker makes it once per user.
        var stats = lookup.User.Events.FirstOrDefault(s => s.EventName == e.EventName);
        if (stats is null || stats.FirstTimeMs != e.EventTimeMs)
        {
            return false;
        }
        return await markers.TryMarkFirstAsync(campaign.WorkspaceId, campaign.CampaignId, lookup.User.CustomerId, e.EventId);
    }

    private async Task StartSequenceAsync(Campaign campaign, UserLookup lookup, SendTrigger trigger, long eventTimeMs, string attributesJson,
        DateTimeOffset now, CancellationToken cancellationToken)
    {
        var customerId = lookup.User.CustomerId;
        if (campaign.Spec.Steps[0].DelayMs > 0)
        {
            await pending.AddAsync(PendingStepRunner.Next(campaign, 0, customerId, trigger, eventTimeMs, attributesJson, now));
            return;
        }
        var skipped = await sender.SendStepAsync(campaign, 0, lookup.User, trigger, null, cancellationToken);
        if (skipped is null && campaign.Spec.Steps.Count > 1)
        {
            await pending.AddAsync(PendingStepRunner.Next(campaign, 1, customerId, trigger, eventTimeMs, attributesJson, now));
        }
    }

    [LoggerMessage(LogLevel.Warning, "Stream entry {EntryId} of workspace {WorkspaceId} deferred after a transient failure")]
    private partial void LogEntryDeferred(Exception ex, string workspaceId, string entryId);

    [LoggerMessage(LogLevel.Warning, "{Count} stream entries of workspace {WorkspaceId} deferred: the audience check failed transiently")]
    private partial void LogBatchDeferred(Exception ex, string workspaceId, int count);

    [LoggerMessage(LogLevel.Error, "Stream entry {EntryId} of workspace {WorkspaceId} could not be handled and is skipped")]
    private partial void LogEntryFailed(Exception ex, string workspaceId, string entryId);

    [LoggerMessage(LogLevel.Information, "Campaign {CampaignId}: {Count} pending steps of user {CustomerId} cancelled by exit event {EventName}")]
    private partial void LogExited(string campaignId, string customerId, int count, string eventName);

    [LoggerMessage(LogLevel.Information, "Campaign {CampaignId}: {Count} events skipped, dated before the activation or older than max_event_age (backfill)")]
    private partial void LogStale(string campaignId, long count);
}
