using System.Text.Json;
using Grpc.Core;
using Integration.Campaigns.V1;

namespace Integration.Campaigns.Delivery;

/// <summary>Self-service dead letters, replay, counters and the delivery log (guarded by the admin token).</summary>
/// <remarks>
/// <paramref name="campaigns"/> is absent where the delivery engine is hosted without campaigns (its own tests); where
/// it is there, counters and the log of a campaign that does not exist are NotFound rather than zeros.
/// </remarks>
internal sealed class DeliveriesService(IDeadLetterStore store, Storage.ICampaignStore? campaigns = null) : Deliveries.DeliveriesBase
{
    private const int MaxBulkReplay = 100_000;

    public override async Task<ListDeadLettersResponse> ListDeadLetters(ListDeadLettersRequest request, ServerCallContext context)
    {
        var query = ToQuery(request.Filter);
        var pageSize = request.PageSize switch
        {
            0 => 50,
            < 0 or > 500 => throw Invalid("page_size must be between 1 and 500."),
            var size => size,
        };
        var (items, next) = await store.ListAsync(query, pageSize, request.PageToken);
        var response = new ListDeadLettersResponse { NextPageToken = next ?? "" };
        response.DeadLetters.AddRange(items.Select(r => MapToDeadLetter(r, withHistory: false)));
        return response;
    }

    public override async Task<DeadLetter> GetDeadLetter(GetDeadLetterRequest request, ServerCallContext context)
    {
        RequireIds(request.WorkspaceId, request.DeliveryId);
        var record = await store.GetAsync(request.WorkspaceId, request.DeliveryId);
        return record is { State: DeliveryRecord.Dead }
            ? MapToDeadLetter(record, withHistory: true)
            : throw new RpcException(new Status(StatusCode.NotFound,
                $"No dead letter '{request.DeliveryId}' in workspace '{request.WorkspaceId}' (it may have been replayed or discarded)."));
    }

    public override async Task<ReplayDeadLettersResponse> ReplayDeadLetter(ReplayDeadLetterRequest request, ServerCallContext context)
    {
        RequireIds(request.WorkspaceId, request.DeliveryId);
        if (!await store.ReplayAsync(request.WorkspaceId, request.DeliveryId))
        {
            throw new RpcException(new Status(StatusCode.NotFound,
                $"No dead letter '{request.DeliveryId}' in workspace '{request.WorkspaceId}' to replay (it may have been replayed or discarded)."));
        }
        return new ReplayDeadLettersResponse { Replayed = 1, DeliveryIds = { request.DeliveryId } };
    }

    public override async Task<ReplayDeadLettersResponse> ReplayDeadLetters(ReplayDeadLettersRequest request, ServerCallContext context)
    {
        var query = ToQuery(request.Filter);
        // Collect first, then replay: replaying removes entries from the range being paged through.
        var matches = new List<string>();
        string? token = null;
        do
        {
            var (items, next) = await store.ListAsync(query, 500, token);
            matches.AddRange(items.Select(r => r.Request.DeliveryId));
            token = next;
        }
        while (token is not null && matches.Count < MaxBulkReplay && !context.CancellationToken.IsCancellationRequested);

        var response = new ReplayDeadLettersResponse();
        foreach (var id in matches.Distinct())
        {
            if (await store.ReplayAsync(query.WorkspaceId, id))
            {
                response.DeliveryIds.Add(id);
            }
        }
        response.Replayed = response.DeliveryIds.Count;
        return response;
    }

    public override async Task<DiscardDeadLetterResponse> DiscardDeadLetter(DiscardDeadLetterRequest request, ServerCallContext context)
    {
        RequireIds(request.WorkspaceId, request.DeliveryId);
        return new DiscardDeadLetterResponse { Discarded = await store.DiscardAsync(request.WorkspaceId, request.DeliveryId) };
    }

    public override async Task<V1.DeliveryStats> GetDeliveryStats(GetDeliveryStatsRequest request, ServerCallContext context)
    {
        await RequireExistingCampaignAsync(request.WorkspaceId, request.CampaignId);
        var counters = await store.GetCountersAsync(request.WorkspaceId, request.CampaignId);
        var stats = new V1.DeliveryStats
        {
            CampaignId = request.CampaignId,
            Enqueued = counters[DeliveryCounterNames.Enqueued],
            Sent = counters[DeliveryCounterNames.Sent],
            Succeeded = counters[DeliveryCounterNames.Succeeded],
            Failed = counters[DeliveryCounterNames.Failed],
            Retried = counters[DeliveryCounterNames.Retried],
            Throttled = counters[DeliveryCounterNames.Throttled],
            DeadLettered = counters[DeliveryCounterNames.DeadLettered],
            Replayed = counters[DeliveryCounterNames.Replayed],
            Converted = counters[DeliveryCounterNames.Converted],
        };
        stats.ConversionRate = stats.Succeeded > 0 ? (double)stats.Converted / stats.Succeeded : 0;
        stats.Pending = Math.Max(0, stats.Enqueued + stats.Replayed - stats.Succeeded - stats.DeadLettered);
        foreach (var (name, value) in counters.Values.Where(c => c.Key.StartsWith(DeliveryCounterNames.SkippedPrefix, StringComparison.Ordinal)))
        {
            stats.Skipped[name[DeliveryCounterNames.SkippedPrefix.Length..]] = value;
        }
        return stats;
    }

    public override async Task<ListDeliveriesResponse> ListDeliveries(ListDeliveriesRequest request, ServerCallContext context)
    {
        await RequireExistingCampaignAsync(request.WorkspaceId, request.CampaignId);
        var limit = request.Limit switch
        {
            0 => 100,
            < 0 or > 1000 => throw Invalid("limit must be between 1 and 1000."),
            var l => l,
        };
        var response = new ListDeliveriesResponse();
        response.Entries.AddRange((await store.GetLogAsync(request.WorkspaceId, request.CampaignId, limit)).Select(e => new DeliveryLogEntry
        {
            DeliveryId = e.DeliveryId,
            CustomerId = e.CustomerId,
            Outcome = e.Outcome,
            StatusCode = e.Status,
            Attempt = e.Attempt,
            AtUnixMs = e.AtMs,
            Detail = e.Detail ?? "",
        }));
        return response;
    }

    private static DeadLetterQuery ToQuery(DeadLetterFilter? filter)
    {
        if (filter is null || string.IsNullOrWhiteSpace(filter.WorkspaceId))
        {
            throw Invalid("filter.workspace_id is required.");
        }
        if (filter.ToUnixMs > 0 && filter.FromUnixMs > filter.ToUnixMs)
        {
            throw Invalid("filter.from_unix_ms must not be after filter.to_unix_ms.");
        }
        if (filter.StatusCode is < -1 or > 599)
        {
            throw Invalid("filter.status_code must be an HTTP status (100-599), 0 for any or -1 for no response.");
        }
        return new DeadLetterQuery(filter.WorkspaceId, filter.CampaignId, filter.StatusCode, filter.FromUnixMs, filter.ToUnixMs);
    }

    private static void RequireIds(string workspaceId, string deliveryId)
    {
        if (string.IsNullOrWhiteSpace(workspaceId) || string.IsNullOrWhiteSpace(deliveryId))
        {
            throw Invalid("workspace_id and delivery_id are required.");
        }
    }

    private static void RequireCampaign(string workspaceId, string campaignId)
    {
        if (string.IsNullOrWhiteSpace(workspaceId) || string.IsNullOrWhiteSpace(campaignId))
        {
            throw Invalid("workspace_id and campaign_id are required.");
        }
    }

    private async Task RequireExistingCampaignAsync(string workspaceId, string campaignId)
    {
        RequireCampaign(workspaceId, campaignId);
        if (campaigns is not null && await campaigns.GetAsync(workspaceId, campaignId) is null)
        {
            throw new RpcException(new Status(StatusCode.NotFound, $"No campaign '{campaignId}' in workspace '{workspaceId}'."));
        }
    }

    private static RpcException Invalid(string message) => new(new Status(StatusCode.InvalidArgument, message));

    private static DeadLetter MapToDeadLetter(DeliveryRecord record, bool withHistory)
    {
        var request = record.Request;
        var letter = new DeadLetter
        {
            DeliveryId = request.DeliveryId,
            WorkspaceId = request.WorkspaceId,
            CampaignId = request.CampaignId,
            StepIndex = request.StepIndex,
            CustomerId = request.CustomerId,
            TriggerId = request.TriggerId,
            Reason = record.Reason ?? "",
            LastStatusCode = record.LastStatus,
            LastError = record.LastError ?? "",
            LastResponseExcerpt = record.LastExcerpt ?? "",
            Attempts = record.Attempts,
            CreatedUnixMs = record.CreatedMs,
            DeadLetteredUnixMs = record.DeadMs,
            Replays = record.Replays,
            Request = MapToRequest(record),
        };
        if (withHistory)
        {
            letter.AttemptsHistory.AddRange(record.History.Select(a => new DeliveryAttempt
            {
                Number = a.Number,
                StartedUnixMs = a.StartedMs,
                DurationMs = a.DurationMs,
                StatusCode = a.Status,
                Error = a.Error ?? "",
                Outcome = a.Outcome,
                NextAttemptUnixMs = a.NextMs ?? 0,
            }));
        }
        return letter;
    }

    private static RedactedRequest MapToRequest(DeliveryRecord record)
    {
        // The stored last request is already redacted; older records without one are redacted here.
        var redacted = record.LastRequestJson is { } json
            ? JsonSerializer.Deserialize<RedactedRequestRecord>(json, RedisDeliveryStore.Json)
            : null;
        redacted ??= JsonSerializer.Deserialize<RedactedRequestRecord>(
            DeliverySender.RedactedRequestJson(record.Request, null), RedisDeliveryStore.Json)!;
        var message = new RedactedRequest
        {
            Method = redacted.Method,
            Url = redacted.Url,
            Body = redacted.Body ?? "",
            ContentType = redacted.ContentType ?? "",
        };
        message.Headers.Add(redacted.Headers.ToDictionary(h => h.Key, h => h.Value));
        return message;
    }
}
