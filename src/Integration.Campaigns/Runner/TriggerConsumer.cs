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
using Microsoft.Extensions.Options;
using StackExchange.Redis;

namespace Integration.Campaigns.Runner;

/// <summary>
/// Reads ingestion's event streams (<c>stream:{ws}</c>) with a consumer group shared by every runner replica
/// and starts event-triggered campaigns. An entry is acknowledged only after its deliveries and pending steps
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
    private readonly ConcurrentDictionary<string, bool> _groups = new();
    private readonly string _consumer = options.Value.ConsumerName.Length > 0
        ? options.Value.ConsumerName
        : $"{Environment.MachineName}-{Environment.ProcessId}";

    private static RedisKey StreamKey(string ws) => $"stream:{{{ws}}}";

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

    /// <summary>Creates the consumer group at the end of the stream, so a new campaign reacts to new events only.</summary>
    public async Task EnsureGroupAsync(string workspaceId)
    {
        if (_groups.ContainsKey(workspaceId))
        {
            return;
        }
        try
        {
            await redis.GetDatabase().StreamCreateConsumerGroupAsync(StreamKey(workspaceId), options.Value.ConsumerGroup, StreamPosition.NewMessages, createStream: true);
        }
        catch (RedisServerException ex) when (ex.Message.Contains("BUSYGROUP", StringComparison.Ordinal))
        {
        }
        _groups[workspaceId] = true;
    }

    private async Task<int> PollWorkspaceAsync(string workspaceId, IReadOnlyList<Campaign> campaigns, CancellationToken cancellationToken)
    {
        await EnsureGroupAsync(workspaceId);
        var db = redis.GetDatabase();
        var group = options.Value.ConsumerGroup;
        var stream = StreamKey(workspaceId);

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
        var eventId = entry["event_id"].ToString();
        var customerId = entry["customer_id"].ToString();
        var eventName = entry["event_name"].ToString();
        var attributesJson = entry["attributes"].IsNull ? "{}" : entry["attributes"].ToString();
        var traceParent = entry["traceparent"].ToString();
        _ = long.TryParse(entry["event_time_ms"].ToString(), NumberStyles.Integer, CultureInfo.InvariantCulture, out var eventTimeMs);
        if (eventId.Length == 0 || customerId.Length == 0 || eventName.Length == 0)
        {
            return;
        }
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
