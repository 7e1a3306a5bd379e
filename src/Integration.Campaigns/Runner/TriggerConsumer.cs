using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using Grpc.Core;
using Integration.Campaigns.Model;
using Integration.Campaigns.Sending;
using Integration.Campaigns.Storage;
using Integration.Campaigns.Users;
using Integration.Campaigns.V1;
using Integration.Common.V1;
using Integration.Domain.Segments;
using Integration.Domain;
using Microsoft.Extensions.Options;
using StackExchange.Redis;

namespace Integration.Campaigns.Runner;

/// <summary>
/// Reads ingestion's event streams (every partition of a workspace's stream, <see cref="EventStream"/>) with a
/// consumer group shared by every runner replica and starts event-triggered campaigns. An entry is acknowledged only after its deliveries and pending steps
/// are recorded; entries a dead replica left unacknowledged are claimed by the others.
/// </summary>
internal sealed partial class TriggerConsumer(
    IConnectionMultiplexer redis,
    ICampaignStore store,
    IPendingSendStore pending,
    ITriggerMarkers markers,
    IUserDirectory users,
    CampaignSender sender,
    CampaignMetrics metrics,
    IOptions<CampaignsOptions> options,
    TimeProvider time,
    ILogger<TriggerConsumer> logger)
{
    private const int ReadBatch = 100;
    private readonly ConcurrentDictionary<string, IReadOnlyList<string>> _streams = new();
    private readonly string _consumer = options.Value.ConsumerName.Length > 0
        ? options.Value.ConsumerName
        : $"{Environment.MachineName}-{Environment.ProcessId}";

    /// <summary>Reads and handles what is waiting in every relevant stream; returns how many entries were handled.</summary>
    public async Task<int> PollOnceAsync(CancellationToken cancellationToken)
    {
        var handled = 0;
        foreach (var workspaceId in await store.TriggerWorkspacesAsync())
        {
            var campaigns = await store.ActiveEventTriggeredAsync(workspaceId);
            if (campaigns.Count == 0)
            {
                continue;
            }
            handled += await PollWorkspaceAsync(workspaceId, campaigns, cancellationToken);
        }
        return handled;
    }

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
        foreach (var stream in streams)
        {
            await CreateGroupAsync(db, stream);
        }
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

    private async Task<int> PollWorkspaceAsync(string workspaceId, IReadOnlyList<Campaign> campaigns, CancellationToken cancellationToken)
    {
        var handled = 0;
        foreach (var stream in await EnsureGroupAsync(workspaceId))
        {
            handled += await PollStreamAsync(workspaceId, stream, campaigns, cancellationToken);
        }
        return handled;
    }

    private async Task<int> PollStreamAsync(string workspaceId, RedisKey stream, IReadOnlyList<Campaign> campaigns, CancellationToken cancellationToken)
    {
        var db = redis.GetDatabase();
        var group = options.Value.ConsumerGroup;

        var stale = await db.StreamAutoClaimAsync(stream, group, _consumer, options.Value.ClaimIdleSeconds * 1000L, "0-0", ReadBatch);
        var fresh = await db.StreamReadGroupAsync(stream, group, _consumer, StreamPosition.NewMessages, ReadBatch);
        var handled = 0;
        foreach (var entry in stale.ClaimedEntries.Concat(fresh))
        {
            if (entry.IsNull)
            {
                continue;
            }
            try
            {
                await HandleAsync(workspaceId, campaigns, entry, cancellationToken);
            }
            catch (Exception ex) when (IsTransient(ex) && !cancellationToken.IsCancellationRequested)
            {
                // Left unacknowledged: claimed again after ClaimIdleSeconds, by this replica or another.
                LogEntryDeferred(ex, workspaceId, entry.Id.ToString());
                continue;
            }
            catch (Exception ex) when (!cancellationToken.IsCancellationRequested)
            {
                // Retrying a broken entry forever would stall nothing but fill the logs; it is logged and let go.
                LogEntryFailed(ex, workspaceId, entry.Id.ToString());
            }
            await db.StreamAcknowledgeAsync(stream, group, entry.Id);
            handled++;
        }
        return handled;
    }

    private static bool IsTransient(Exception ex) =>
        ex is RedisConnectionException or RedisTimeoutException or TimeoutException
        || (ex is RpcException rpc && RpcFailures.IsTransient(rpc));

    private async Task HandleAsync(string workspaceId, IReadOnlyList<Campaign> campaigns, StreamEntry entry, CancellationToken cancellationToken)
    {
        if (EventStream.Decode(name => entry[name], name => entry[name]) is not { } e
            || e.EventId.Length == 0 || e.CustomerId.Length == 0 || e.EventName.Length == 0
            // An event the upgrade copied into the partitioned stream was handled (or not) when it arrived.
            || e.Replayed)
        {
            return;
        }
        var (eventId, customerId, eventName, eventTimeMs, attributesJson, traceParent) =
            (e.EventId, e.CustomerId, e.EventName, e.EventTimeMs, e.AttributesJson, e.TraceParent);
        Dictionary<string, AttributeValue>? attributes = null;

        // The webhook's trace continues here: what this entry triggers (look-ups, deliveries, pending steps)
        // is one child of the span that stored the event.
        ActivityContext.TryParse(traceParent, null, isRemote: true, out var webhook);
        using var activity = CampaignMetrics.Source.StartActivity("campaign trigger", ActivityKind.Consumer, webhook);
        activity?.SetTag("campaigns.event_name", eventName);
        activity?.SetTag("campaigns.workspace", workspaceId);
        traceParent = activity?.Id ?? traceParent;

        foreach (var campaign in campaigns)
        {
            var trigger = campaign.Spec.EventTriggered;
            if (trigger.ExitEventName == eventName)
            {
                var cancelled = await pending.CancelAsync(workspaceId, campaign.CampaignId, customerId);
                if (cancelled > 0)
                {
                    LogExited(campaign.CampaignId, customerId, cancelled, eventName);
                }
            }
            if (trigger.EventName != eventName)
            {
                continue;
            }
            attributes ??= AttributeJson.Parse(attributesJson);
            var now = time.GetUtcNow();
            if (!trigger.EventFilters.All(f => AttributeRules.Matches(f, attributes.GetValueOrDefault(f.Attribute), now.ToUnixTimeMilliseconds())))
            {
                continue;
            }
            var lookup = await users.FindAsync(workspaceId, customerId, campaign.Spec.Audience, now, cancellationToken);
            if (lookup is not { InAudience: true })
            {
                continue;
            }
            if (trigger.FirstTimeOnly && !await IsFirstTimeAsync(campaign, lookup, eventName, eventTimeMs, eventId))
            {
                continue;
            }

            metrics.Triggered();
            var sendTrigger = new SendTrigger(eventId, attributes, SendTrigger.None, traceParent.Length > 0 ? traceParent : null);
            await StartSequenceAsync(campaign, lookup, sendTrigger, eventTimeMs, attributesJson, now, cancellationToken);
        }
    }

    private async Task<bool> IsFirstTimeAsync(Campaign campaign, UserLookup lookup, string eventName, long eventTimeMs, string eventId)
    {
        // On event time: the first occurrence ever, even if an earlier one arrives later; the marker makes it once per user.
        var stats = lookup.User.Events.FirstOrDefault(e => e.EventName == eventName);
        if (stats is null || stats.FirstTimeMs != eventTimeMs)
        {
            return false;
        }
        return await markers.TryMarkFirstAsync(campaign.WorkspaceId, campaign.CampaignId, lookup.User.CustomerId, eventId);
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

    [LoggerMessage(LogLevel.Error, "Stream entry {EntryId} of workspace {WorkspaceId} could not be handled and is skipped")]
    private partial void LogEntryFailed(Exception ex, string workspaceId, string entryId);

    [LoggerMessage(LogLevel.Information, "Campaign {CampaignId}: {Count} pending steps of user {CustomerId} cancelled by exit event {EventName}")]
    private partial void LogExited(string campaignId, string customerId, int count, string eventName);
}
