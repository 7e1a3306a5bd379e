using System.Diagnostics;
using System.Diagnostics.Metrics;
using Integration.Ingestion.Storage;
using Integration.Ingestion.V1;

namespace Integration.Ingestion.Services;

/// <summary>
/// Applies Heap's segment syncs (docs/inbound.md, "Segment sync"): a page creates the profiles of users it adds, then
/// sets every listed user's membership at the page's version, then is marked applied. A page whose marking did not happen
/// (a failure half-way) is applied again when Heap retries it; applying is idempotent, so that is safe.
/// </summary>
internal sealed class SegmentSync(IHeapSegmentStore segments, IActivityStore activities, SegmentSyncMetrics metrics)
{
    public async Task<SyncSegmentResponse> ApplyAsync(SyncSegmentRequest request)
    {
        using var activity = IngestionService.Source.StartActivity("segment sync");
        activity?.SetTag("heap.segment.id", request.SegmentId);
        activity?.SetTag("heap.segment.action", request.Action is SegmentSyncAction.Drain ? "drain" : "sync");
        var response = request.Action is SegmentSyncAction.Drain ? await DrainAsync(request) : await ApplyPageAsync(request);
        activity?.SetTag("heap.segment.outcome", response.Outcome is SegmentSyncOutcome.Duplicate ? "duplicate" : "applied");
        metrics.RecordRequest(request.Action, response);
        return response;
    }

    private async Task<SyncSegmentResponse> DrainAsync(SyncSegmentRequest request)
    {
        var start = await segments.DrainAsync(request.WorkspaceId, request.SegmentId, request.SegmentName, request.RequestId);
        return new SyncSegmentResponse { Outcome = start.Fresh ? SegmentSyncOutcome.Applied : SegmentSyncOutcome.Duplicate };
    }

    private async Task<SyncSegmentResponse> ApplyPageAsync(SyncSegmentRequest request)
    {
        var ws = request.WorkspaceId;
        Activity.Current?.SetTag("heap.sync.task", request.SyncTaskId);
        Activity.Current?.SetTag("heap.sync.page", request.PageNumber);
        var start = await segments.BeginPageAsync(ws, request.SegmentId, request.SegmentName, request.SyncTaskId,
            request.PageNumber, request.TotalPages);
        if (!start.Fresh)
        {
            return new SyncSegmentResponse { Outcome = SegmentSyncOutcome.Duplicate, PagesApplied = start.PagesApplied };
        }

        var response = new SyncSegmentResponse { Outcome = SegmentSyncOutcome.Applied };
        if (start.Version <= start.Drained)
        {
            // A page of a sync that began before the segment's last drain: the drain decided everyone's membership.
            response.Superseded = request.Add.Count + request.Remove.Count;
        }
        else
        {
            // Profiles first, so a member always has a profile. updated_at 0: the properties fill a profile the sync
            // creates and never overwrite what a user webhook wrote, nor move its updated_at.
            await activities.WriteAsync(request.Add.Select(u =>
            {
                var user = new UserRecord { CustomerId = u.CustomerId, UpdatedAtMs = 0 };
                user.Attributes.Add(u.Attributes);
                return RecordWrite.ForUser(ws, user, "");
            }).ToList(), "store segment profiles");

            var changes = request.Add.Select(u => (u.CustomerId, true))
                .Concat(request.Remove.Select(cid => (cid, false)))
                .ToList();
            foreach (var change in await segments.ApplyAsync(ws, request.SegmentId, start.Version, start.Drained, changes))
            {
                switch (change)
                {
                    case MembershipChange.Joined: response.Added++; break;
                    case MembershipChange.Left: response.Removed++; break;
                    default: response.Superseded++; break;
                }
            }
        }
        response.PagesApplied = await segments.FinishPageAsync(ws, request.SegmentId, request.SyncTaskId, request.PageNumber);
        return response;
    }
}

/// <summary>Meter "Integration.Ingestion": segment-sync requests and the membership changes they made.</summary>
internal sealed class SegmentSyncMetrics
{
    private readonly Counter<long> _requests;
    private readonly Counter<long> _users;

    public SegmentSyncMetrics(IMeterFactory meterFactory)
    {
        var meter = meterFactory.Create(IngestionMetrics.MeterName);
        _requests = meter.CreateCounter<long>("integration.ingestion.segment_sync.requests", "{request}",
            "Heap segment-sync pages and drains received by ingestion, by action and outcome.");
        _users = meter.CreateCounter<long>("integration.ingestion.segment_sync.users", "{user}",
            "Users whose Heap segment membership a sync page decided, by outcome (joined, left, superseded).");
    }

    public void RecordRequest(SegmentSyncAction action, SyncSegmentResponse response)
    {
        _requests.Add(1, new TagList
        {
            { "action", action is SegmentSyncAction.Drain ? "drain" : "sync" },
            { "outcome", response.Outcome is SegmentSyncOutcome.Duplicate ? "duplicate" : "applied" },
        });
        Add("joined", response.Added);
        Add("left", response.Removed);
        Add("superseded", response.Superseded);
    }

    private void Add(string outcome, int count)
    {
        if (count > 0)
        {
            _users.Add(count, new KeyValuePair<string, object?>("outcome", outcome));
        }
    }
}
