using System.Diagnostics;
using System.Diagnostics.Metrics;
using Grpc.Core;
using Integration.Domain;
using Integration.Ingestion.Storage;
using Integration.Ingestion.V1;
using Microsoft.Extensions.Options;
using StackExchange.Redis;

namespace Integration.Ingestion.Services;

/// <summary>Stores and reads Heap's users and events (integration.ingestion.v1.Ingestion).</summary>
internal sealed class IngestionService(
    IActivityStore activities,
    IWorkspaceStore workspaces,
    IHeapSegmentStore heapSegments,
    SyncSecrets syncSecrets,
    SegmentSync segmentSync,
    IngestionMetrics metrics,
    LegacyMigration migration,
    IOptions<IngestionOptions> options) : Ingestion.V1.Ingestion.IngestionBase
{
    /// <summary>Most users (added plus removed) one segment-sync page may list.</summary>
    public const int MaxSegmentPageUsers = 10_000;

    /// <summary>Spans for records of coalesced batches, each in its own webhook's trace.</summary>
    public static readonly ActivitySource Source = new("Integration.Ingestion");

    public override async Task<IngestResponse> IngestUsers(IngestUsersRequest request, ServerCallContext context)
    {
        ValidateBatch(request.WorkspaceId, request.Users.Count, request.PayloadIds.Count);
        for (var i = 0; i < request.Users.Count; i++)
        {
            ValidateUser(request.Users[i], $"users[{i}]");
        }

        var outcomes = await StoreAsync(() => activities.WriteUsersAsync(request.WorkspaceId, request.Users, request.PayloadIds));
        return Summarise(outcomes, "user");
    }

    public override async Task<IngestResponse> IngestEvents(IngestEventsRequest request, ServerCallContext context)
    {
        ValidateBatch(request.WorkspaceId, request.Events.Count, request.PayloadIds.Count);
        var eventIds = new string[request.Events.Count];
        for (var i = 0; i < request.Events.Count; i++)
        {
            ValidateEvent(request.Events[i], $"events[{i}]");
            eventIds[i] = EventId(i < request.PayloadIds.Count ? request.PayloadIds[i] : "");
        }

        // The webhook's trace context travels with each event into the stream (DESIGN §6).
        var traceParent = Activity.Current?.Id ?? "";
        var outcomes = await StoreAsync(() => activities.WriteEventsAsync(request.WorkspaceId, request.ConfigName, request.Events, eventIds, traceParent));
        return Summarise(outcomes, "event");
    }

    public override async Task<IngestBatchResponse> Ingest(IngestBatchRequest request, ServerCallContext context)
    {
        if (request.Items.Count == 0 || request.Items.Count > options.Value.MaxBatchSize)
        {
            throw Invalid("items", $"must hold 1-{options.Value.MaxBatchSize} records");
        }

        // Every record gets a span in its own webhook's trace and is stored atomically; the records share a
        // few script calls (one per Redis server or cluster slot) under one "store records" span of this call.
        var count = request.Items.Count;
        var results = new IngestItemResult[count];
        var records = new List<RecordWrite>(count);
        var positions = new List<int>(count);
        var spans = new List<Activity?>(count);
        var call = Activity.Current;
        try
        {
            for (var i = 0; i < count; i++)
            {
                var item = request.Items[i];
                if (Problem(item) is { } problem)
                {
                    results[i] = new IngestItemResult { Outcome = IngestOutcome.Invalid, Error = problem };
                    continue;
                }
                ActivityContext.TryParse(item.Traceparent, null, isRemote: true, out var webhook);
                var isEvent = item.RecordCase is IngestItem.RecordOneofCase.Event;
                var span = Source.StartActivity(isEvent ? "ingest event" : "ingest user", ActivityKind.Server, webhook);
                Activity.Current = call; // the next record's span is not this one's child
                records.Add(isEvent
                    ? RecordWrite.ForEvent(item.WorkspaceId, item.ConfigName, item.Event,
                        EventId(item.PayloadId), span?.Id ?? item.Traceparent)
                    : RecordWrite.ForUser(item.WorkspaceId, item.User, item.PayloadId));
                positions.Add(i);
                spans.Add(span);
            }

            if (records.Count > 0)
            {
                var outcomes = await StoreAsync(() => activities.WriteAsync(records));
                for (var j = 0; j < outcomes.Length; j++)
                {
                    var outcome = outcomes[j] switch
                    {
                        WriteOutcome.Duplicate => IngestOutcome.Duplicate,
                        WriteOutcome.StoredProfileStale => IngestOutcome.StaleProfile,
                        _ => IngestOutcome.Stored,
                    };
                    metrics.Record(records[j].Event is null ? "user" : "event", outcome);
                    results[positions[j]] = new IngestItemResult { Outcome = outcome };
                }
            }
        }
        catch (Exception ex)
        {
            foreach (var span in spans)
            {
                span?.SetStatus(ActivityStatusCode.Error, ex.Message);
            }
            throw;
        }
        finally
        {
            foreach (var span in spans)
            {
                span?.Dispose();
            }
            Activity.Current = call;
        }

        var response = new IngestBatchResponse();
        response.Results.AddRange(results);
        return response;
    }

    /// <summary>
    /// An event's id: its webhook payload's content hash. Without one the event cannot be recognised when
    /// repeated; it gets a fresh id.
    /// </summary>
    private static string EventId(string payloadId) => payloadId.Length > 0 ? payloadId : Guid.NewGuid().ToString("N");

    /// <summary>Why a record of a batch cannot be stored, or null if it can.</summary>
    private static string? Problem(IngestItem item)
    {
        try
        {
            AdminService.ValidateWorkspaceId(item.WorkspaceId);
            switch (item.RecordCase)
            {
                case IngestItem.RecordOneofCase.User:
                    ValidateUser(item.User, "user");
                    break;
                case IngestItem.RecordOneofCase.Event:
                    ValidateEvent(item.Event, "event");
                    break;
                default:
                    throw Invalid("record", "must be a user or an event");
            }
            return null;
        }
        catch (RpcException ex) when (ex.StatusCode is StatusCode.InvalidArgument)
        {
            return ex.Status.Detail;
        }
    }

    public override async Task<User> GetUser(GetUserRequest request, ServerCallContext context)
    {
        AdminService.ValidateWorkspaceId(request.WorkspaceId);
        var customerId = request.CustomerId;
        if (request.IdentifierKind != 0)
        {
            if (!Identifiers.TryNormalize(customerId, (IdentifierKind)request.IdentifierKind, out var normalized, out var error))
            {
                throw Invalid("customer_id", error);
            }
            customerId = normalized;
        }
        if (string.IsNullOrEmpty(customerId))
        {
            throw Invalid("customer_id", "is required");
        }

        await StoreAsync(async () => { await migration.EnsureUserAsync(request.WorkspaceId, customerId); return true; });
        var user = await StoreAsync(() => activities.GetUserAsync(request.WorkspaceId, customerId));
        if (user is null)
        {
            // Only on a miss: a mistyped workspace id is told as such, not as a missing user.
            var known = await StoreAsync(() => workspaces.GetAsync(request.WorkspaceId)) is not null;
            throw new RpcException(new Status(StatusCode.NotFound, known
                ? $"No user '{customerId}' in workspace '{request.WorkspaceId}'."
                : $"Workspace '{request.WorkspaceId}' does not exist (and has no user '{customerId}')."));
        }
        var memberships = await StoreAsync(() => heapSegments.GetMembershipsAsync(request.WorkspaceId, [customerId]));
        memberships[0].AddTo(user);
        return user;
    }

    public override async Task<ListUserEventsResponse> ListUserEvents(ListUserEventsRequest request, ServerCallContext context)
    {
        AdminService.ValidateWorkspaceId(request.WorkspaceId);
        if (string.IsNullOrEmpty(request.CustomerId))
        {
            throw Invalid("customer_id", "is required");
        }
        if (request.Limit is < 0 or > 1000)
        {
            throw Invalid("limit", "must be between 1 and 1000 (0: 100)");
        }
        if (request.FromMs < 0 || request.ToMs < 0 || (request.ToMs > 0 && request.ToMs < request.FromMs))
        {
            throw Invalid("to_ms", "must not be before from_ms");
        }

        await StoreAsync(async () => { await migration.EnsureUserAsync(request.WorkspaceId, request.CustomerId); return true; });
        var events = await StoreAsync(() => activities.ListUserEventsAsync(request.WorkspaceId, request.CustomerId,
            request.FromMs, request.ToMs, request.Limit == 0 ? 100 : request.Limit));
        var response = new ListUserEventsResponse();
        response.Events.AddRange(events);
        return response;
    }

    public override async Task<WorkspaceAuth> GetWorkspaceAuth(GetWorkspaceAuthRequest request, ServerCallContext context)
    {
        AdminService.ValidateWorkspaceId(request.WorkspaceId);
        var workspace = await StoreAsync(() => workspaces.GetAsync(request.WorkspaceId))
            ?? throw new RpcException(new Status(StatusCode.NotFound, $"Workspace '{request.WorkspaceId}' does not exist."));
        var configs = await StoreAsync(() => workspaces.ListConfigsAsync(request.WorkspaceId));

        var auth = new WorkspaceAuth
        {
            WorkspaceId = workspace.WorkspaceId,
            KeySha256 = Google.Protobuf.ByteString.CopyFrom(workspace.KeySha256),
            RateLimitPerSecond = workspace.RateLimitPerSecond,
        };
        foreach (var config in configs)
        {
            var edgeConfig = new EdgeConfig { ConfigName = config.ConfigName, IdentifierKind = config.IdentifierKind };
            edgeConfig.Modules.AddRange(config.Modules);
            edgeConfig.EventNameMapping.Add(config.EventNameMapping);
            auth.Configs.Add(edgeConfig);
        }
        return auth;
    }

    public override async Task<SegmentSyncAuth> GetSegmentSyncAuth(GetSegmentSyncAuthRequest request, ServerCallContext context)
    {
        if (string.IsNullOrEmpty(request.ConfigName) || request.ConfigName.Length > 64)
        {
            throw Invalid("config_name", "must be 1-64 characters");
        }
        var found = await StoreAsync(() => syncSecrets.ResolveAsync(request.ConfigName));
        if (found is null)
        {
            throw new RpcException(new Status(StatusCode.NotFound, $"No integration config named '{request.ConfigName}' has a sync secret."));
        }

        var config = new EdgeConfig { ConfigName = found.Config.ConfigName, IdentifierKind = found.Config.IdentifierKind };
        config.Modules.AddRange(found.Config.Modules);
        config.EventNameMapping.Add(found.Config.EventNameMapping);
        return new SegmentSyncAuth
        {
            WorkspaceId = found.Workspace.WorkspaceId,
            RateLimitPerSecond = found.Workspace.RateLimitPerSecond,
            Config = config,
            ProtectedSyncSecret = found.ProtectedSecret,
        };
    }

    public override async Task<SyncSegmentResponse> SyncSegment(SyncSegmentRequest request, ServerCallContext context)
    {
        ValidateSegmentSync(request);
        return await StoreAsync(() => segmentSync.ApplyAsync(request));
    }

    private static void ValidateSegmentSync(SyncSegmentRequest request)
    {
        AdminService.ValidateWorkspaceId(request.WorkspaceId);
        if (request.SegmentId <= 0)
        {
            throw Invalid("segment_id", "must be a positive Heap segment id");
        }
        if (request.SegmentName.Length > 1024)
        {
            throw Invalid("segment_name", "must be at most 1024 characters");
        }
        switch (request.Action)
        {
            case SegmentSyncAction.Drain:
                if (string.IsNullOrEmpty(request.RequestId) || request.RequestId.Length > 128)
                {
                    throw Invalid("request_id", "must be 1-128 characters for a drain");
                }
                return;
            case SegmentSyncAction.Sync:
                break;
            default:
                throw Invalid("action", "must be SEGMENT_SYNC_ACTION_SYNC or SEGMENT_SYNC_ACTION_DRAIN");
        }
        if (string.IsNullOrEmpty(request.SyncTaskId) || request.SyncTaskId.Length > 256 || request.SyncTaskId.Any(char.IsControl))
        {
            throw Invalid("sync_task_id", "must be 1-256 characters without control characters");
        }
        if (request.PageNumber < 1 || request.PageNumber >= RedisHeapSegmentStore.PageFactor)
        {
            throw Invalid("page_number", $"must be between 1 and {RedisHeapSegmentStore.PageFactor - 1}");
        }
        if (request.TotalPages < request.PageNumber || request.TotalPages >= RedisHeapSegmentStore.PageFactor)
        {
            throw Invalid("total_pages", "must be at least page_number");
        }
        if (request.Add.Count + request.Remove.Count > MaxSegmentPageUsers)
        {
            throw Invalid("add", $"and remove list {request.Add.Count + request.Remove.Count} users; a page may list at most {MaxSegmentPageUsers}");
        }
        for (var i = 0; i < request.Add.Count; i++)
        {
            ValidateCustomerId(request.Add[i].CustomerId, $"add[{i}].customer_id");
            if (request.Add[i].Attributes.Keys.Any(k => k.Length is 0 or > 256))
            {
                throw Invalid($"add[{i}].attributes", "names must be 1-256 characters");
            }
        }
        for (var i = 0; i < request.Remove.Count; i++)
        {
            ValidateCustomerId(request.Remove[i], $"remove[{i}]");
        }
    }

    private static void ValidateCustomerId(string customerId, string path)
    {
        if (string.IsNullOrEmpty(customerId) || customerId.Length > Identifiers.MaxLength)
        {
            throw Invalid(path, $"must be 1-{Identifiers.MaxLength} characters");
        }
    }

    private void ValidateBatch(string workspaceId, int count, int payloadIds)
    {
        AdminService.ValidateWorkspaceId(workspaceId);
        if (count == 0 || count > options.Value.MaxBatchSize)
        {
            throw Invalid("records", $"must hold 1-{options.Value.MaxBatchSize} records");
        }
        if (payloadIds != 0 && payloadIds != count)
        {
            throw Invalid("payload_ids", "must be empty or hold one id per record");
        }
    }

    private static void ValidateEvent(EventRecord e, string path)
    {
        if (e.User is null)
        {
            throw Invalid($"{path}.user", "is required");
        }
        ValidateUser(e.User, $"{path}.user", requireUpdatedAt: false);
        if (string.IsNullOrWhiteSpace(e.EventName) || e.EventName.Length > 1024)
        {
            throw Invalid($"{path}.event_name", "must be 1-1024 characters");
        }
        if (e.EventTimeMs <= 0)
        {
            throw Invalid($"{path}.event_time_ms", "must be a positive Unix time in milliseconds");
        }
        if (e.Module is not (0 or 2 or 3 or 4))
        {
            throw Invalid($"{path}.module", "must be 2 (events), 3 (sessions data) or 4 (custom properties)");
        }
    }

    private static void ValidateUser(UserRecord user, string path, bool requireUpdatedAt = true)
    {
        if (string.IsNullOrEmpty(user.CustomerId) || user.CustomerId.Length > Identifiers.MaxLength)
        {
            throw Invalid($"{path}.customer_id", $"must be 1-{Identifiers.MaxLength} characters");
        }
        if (requireUpdatedAt && user.UpdatedAtMs <= 0)
        {
            throw Invalid($"{path}.updated_at_ms", "must be a positive Unix time in milliseconds");
        }
        if (user.Attributes.Keys.Any(k => k.Length is 0 or > 256))
        {
            throw Invalid($"{path}.attributes", "names must be 1-256 characters");
        }
    }

    private IngestResponse Summarise(WriteOutcome[] outcomes, string kind)
    {
        var response = new IngestResponse();
        foreach (var outcome in outcomes)
        {
            switch (outcome)
            {
                case WriteOutcome.Duplicate: response.Duplicates++; break;
                case WriteOutcome.Stored: response.Stored++; break;
                case WriteOutcome.StoredProfileStale: response.Stored++; response.StaleProfileUpdates++; break;
            }
        }
        metrics.Record(kind, response);
        return response;
    }

    /// <summary>Redis trouble becomes Unavailable, so callers (the edge) answer 503 and Heap retries.</summary>
    private static async Task<T> StoreAsync<T>(Func<Task<T>> action)
    {
        try
        {
            return await action();
        }
        catch (Exception ex) when (ex is RedisConnectionException or RedisTimeoutException or RedisServerException)
        {
            throw new RpcException(new Status(StatusCode.Unavailable, "Storage is unavailable; retry later.", ex));
        }
    }

    private static RpcException Invalid(string field, string problem) =>
        new(new Status(StatusCode.InvalidArgument, $"{field} {problem}."));
}

/// <summary>Meter "Integration.Ingestion": records stored, repeats and stale profile updates.</summary>
internal sealed class IngestionMetrics
{
    public const string MeterName = "Integration.Ingestion";

    private readonly Counter<long> _events;
    private readonly Counter<long> _users;

    public IngestionMetrics(IMeterFactory meterFactory)
    {
        var meter = meterFactory.Create(MeterName);
        _events = meter.CreateCounter<long>("integration.ingestion.events", "{event}", "Events received by ingestion, by outcome.");
        _users = meter.CreateCounter<long>("integration.ingestion.users", "{user}", "User profile updates received by ingestion, by outcome.");
    }

    public void Record(string kind, IngestOutcome outcome)
    {
        var counter = kind == "event" ? _events : _users;
        counter.Add(1, new KeyValuePair<string, object?>("outcome", outcome switch
        {
            IngestOutcome.Duplicate => "duplicate",
            IngestOutcome.StaleProfile => "stale_profile",
            _ => "stored",
        }));
    }

    public void Record(string kind, IngestResponse response)
    {
        var counter = kind == "event" ? _events : _users;
        var freshProfiles = response.Stored - response.StaleProfileUpdates;
        if (freshProfiles > 0)
        {
            counter.Add(freshProfiles, new KeyValuePair<string, object?>("outcome", "stored"));
        }
        if (response.StaleProfileUpdates > 0)
        {
            counter.Add(response.StaleProfileUpdates, new KeyValuePair<string, object?>("outcome", "stale_profile"));
        }
        if (response.Duplicates > 0)
        {
            counter.Add(response.Duplicates, new KeyValuePair<string, object?>("outcome", "duplicate"));
        }
    }
}
