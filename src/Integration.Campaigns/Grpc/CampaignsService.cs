using System.Diagnostics;
using System.Globalization;
using System.Security.Cryptography;
using Grpc.Core;
using Integration.Campaigns.Controls;
using Integration.Campaigns.Delivery;
using Integration.Campaigns.Model;
using Integration.Campaigns.Safety;
using Integration.Campaigns.Sending;
using Integration.Campaigns.Storage;
using Integration.Campaigns.Users;
using Integration.Campaigns.V1;
using Integration.Common.V1;
using Integration.Domain.Segments;
using Integration.Segments.V1;
using static Integration.Campaigns.Model.CampaignRules;

namespace Integration.Campaigns.Grpc;

/// <summary>The campaign API: definitions, lifecycle, preview and test, business events and segments.</summary>
internal sealed class CampaignsService(
    ICampaignStore store,
    CampaignLifecycle lifecycle,
    CompiledCampaignCache compiled,
    IUserDirectory users,
    CampaignSender sender,
    IWorkspaceSettingsStore settings,
    IUrlGuard urlGuard,
    DeliverySender httpSender,
    TimeProvider time) : V1.Campaigns.CampaignsBase
{
    private const int MaxResponseBody = 64 * 1024;

    public override async Task<Campaign> CreateCampaign(CreateCampaignRequest request, ServerCallContext context)
    {
        RequireId(request.WorkspaceId, "workspace_id");
        var steps = Validate(request.Spec);
        await CheckHostsAsync(request.Spec, context.CancellationToken);

        var now = time.GetUtcNow().ToUnixTimeMilliseconds();
        var campaign = new Campaign
        {
            WorkspaceId = request.WorkspaceId,
            CampaignId = NewId(),
            State = CampaignState.Draft,
            Spec = request.Spec,
            Version = 1,
            CreatedAtMs = now,
            UpdatedAtMs = now,
        };
        if (request.Activate)
        {
            lifecycle.Activate(campaign);
        }
        compiled.Put(campaign, steps);
        if (!await store.TrySaveAsync(campaign, 0))
        {
            throw new RpcException(new Status(StatusCode.AlreadyExists, "A campaign with this id exists; retry."));
        }
        await lifecycle.SyncScheduleAsync(campaign);
        return Redact(campaign);
    }

    public override async Task<Campaign> UpdateCampaign(UpdateCampaignRequest request, ServerCallContext context)
    {
        RequireId(request.WorkspaceId, "workspace_id");
        RequireId(request.CampaignId, "campaign_id");
        var current = await LoadAsync(request.WorkspaceId, request.CampaignId);
        if (request.ExpectedVersion > 0 && request.ExpectedVersion != current.Version)
        {
            throw new RpcException(new Status(StatusCode.Aborted,
                $"expected_version: the campaign is at version {current.Version}, not {request.ExpectedVersion}; reload and retry."));
        }
        if (current.State == CampaignState.Archived)
        {
            throw new RpcException(new Status(StatusCode.FailedPrecondition, "An archived campaign cannot be edited."));
        }
        if (request.Spec is not null)
        {
            KeepRedactedSecrets(request.Spec, current.Spec);
        }
        var steps = Validate(request.Spec);
        await CheckHostsAsync(request.Spec!, context.CancellationToken);

        var updated = await lifecycle.MutateAsync(request.WorkspaceId, request.CampaignId, c =>
        {
            if (request.ExpectedVersion > 0 && request.ExpectedVersion != c.Version)
            {
                throw new RpcException(new Status(StatusCode.Aborted, "expected_version: the campaign changed meanwhile; reload and retry."));
            }
            var deliveryChanged = !Equals(c.Spec.OneTime, request.Spec!.OneTime) || !Equals(c.Spec.Periodic, request.Spec.Periodic);
            c.Spec = request.Spec;
            if (deliveryChanged)
            {
                // A new schedule ends the occurrence being sent zone by zone; the next one follows the new schedule.
                if (c.State == CampaignState.Active)
                {
                    lifecycle.Reschedule(c);
                }
                c.ZoneRuns.Clear();
                if (c.State == CampaignState.Active && c.NextRunMs == 0)
                {
                    c.State = CampaignState.Completed;
                }
            }
        });
        compiled.Put(updated, steps);
        await lifecycle.SyncScheduleAsync(updated);
        return Redact(updated);
    }

    public override async Task<Campaign> GetCampaign(GetCampaignRequest request, ServerCallContext context)
    {
        RequireId(request.WorkspaceId, "workspace_id");
        RequireId(request.CampaignId, "campaign_id");
        return Redact(await LoadAsync(request.WorkspaceId, request.CampaignId));
    }

    public override async Task<ListCampaignsResponse> ListCampaigns(ListCampaignsRequest request, ServerCallContext context)
    {
        RequireId(request.WorkspaceId, "workspace_id");
        if (request.PageSize is < 0 or > 500)
        {
            throw Invalid("page_size: between 1 and 500 (0: 100).");
        }
        long offset = 0;
        if (request.PageToken.Length > 0 && !long.TryParse(request.PageToken, NumberStyles.None, CultureInfo.InvariantCulture, out offset))
        {
            throw Invalid("page_token: not a token returned by this API.");
        }
        var size = request.PageSize == 0 ? 100 : request.PageSize;
        var (campaigns, next) = await store.ListAsync(request.WorkspaceId, offset, size);
        var response = new ListCampaignsResponse { NextPageToken = next < 0 ? "" : next.ToString(CultureInfo.InvariantCulture) };
        response.Campaigns.AddRange(campaigns.Where(c => request.IncludeArchived || c.State != CampaignState.Archived).Select(Redact));
        return response;
    }

    public override async Task<Campaign> PauseCampaign(CampaignStateRequest request, ServerCallContext context) =>
        Redact(await lifecycle.ChangeStateAsync(Ids(request), CampaignState.Paused));

    public override async Task<Campaign> ResumeCampaign(CampaignStateRequest request, ServerCallContext context) =>
        Redact(await lifecycle.ChangeStateAsync(Ids(request), CampaignState.Active));

    public override async Task<Campaign> ArchiveCampaign(CampaignStateRequest request, ServerCallContext context) =>
        Redact(await lifecycle.ChangeStateAsync(Ids(request), CampaignState.Archived));

    public override async Task<PreviewCampaignResponse> PreviewCampaign(PreviewCampaignRequest request, ServerCallContext context)
    {
        var (campaign, steps) = await ResolveAsync(request.WorkspaceId, request.CampaignId, request.Spec);
        var (lookup, model) = await ModelAsync(campaign, request.CustomerId, request.Sample, context.CancellationToken);
        var response = new PreviewCampaignResponse { InAudience = lookup.InAudience };
        foreach (var step in steps.Steps)
        {
            var (rendered, skip) = await StepRenderer.RenderAsync(step, model);
            if (rendered is null)
            {
                response.Requests.Clear();
                response.SkippedReason = skip!;
                break;
            }
            response.Requests.Add(ToMessage(rendered));
        }
        return response;
    }

    public override async Task<TestCampaignResponse> TestCampaign(TestCampaignRequest request, ServerCallContext context)
    {
        var (campaign, steps) = await ResolveAsync(request.WorkspaceId, request.CampaignId, request.Spec);
        if (request.StepIndex < 0 || request.StepIndex >= steps.Steps.Count)
        {
            throw Invalid($"step_index: between 0 and {steps.Steps.Count - 1}.");
        }
        var (_, model) = await ModelAsync(campaign, request.CustomerId, request.Sample, context.CancellationToken);
        var (rendered, skip) = await StepRenderer.RenderAsync(steps.Steps[request.StepIndex], model);
        if (rendered is null)
        {
            throw new RpcException(new Status(StatusCode.FailedPrecondition, $"The request cannot be rendered for this user: {skip}."));
        }
        if (await urlGuard.CheckAsync(new Uri(rendered.Url), context.CancellationToken) is { } refused)
        {
            throw Invalid($"spec.steps[{request.StepIndex}].url: refused: {refused}.");
        }

        // The delivery engine's own request (the same headers, body and SSRF-guarded connection), sent exactly as rendered.
        var delivery = CampaignSender.ToDelivery(campaign, rendered, request.CustomerId, new SendTrigger("test", SendTrigger.None, SendTrigger.None, null), null);
        var exchange = await httpSender.ExchangeAsync(delivery, DeliveryTarget.AsIs(delivery), delivery.Options.Timeout, MaxResponseBody,
            readSuccessBody: true, context.CancellationToken);
        var response = new TestResponse
        {
            StatusCode = exchange.Status ?? 0,
            Body = exchange.Body ?? "",
            Error = exchange.Error ?? "",
            LatencyMs = (long)exchange.Duration.TotalMilliseconds,
        };
        response.Headers.AddRange(exchange.Headers.Select(h => new Header { Name = h.Key, Value = Redaction.Value(h.Key, h.Value) }));
        return new TestCampaignResponse { Request = ToMessage(rendered), Response = response };
    }

    public override async Task<TriggerBusinessEventResponse> TriggerBusinessEvent(TriggerBusinessEventRequest request, ServerCallContext context)
    {
        RequireId(request.WorkspaceId, "workspace_id");
        if (string.IsNullOrWhiteSpace(request.Name))
        {
            throw Invalid("name: required.");
        }
        if (request.EventId.Length > 128)
        {
            throw Invalid("event_id: at most 128 characters.");
        }
        var campaigns = (await store.ActiveBusinessEventAsync(request.WorkspaceId))
            .Where(c => c.Spec.BusinessEvent.BusinessEventName == request.Name)
            .OrderBy(c => c.CreatedAtMs)
            .ToList();
        if (campaigns.Count == 0)
        {
            throw new RpcException(new Status(StatusCode.FailedPrecondition,
                $"No active campaign is triggered by business event '{request.Name}' in workspace '{request.WorkspaceId}'."));
        }

        var eventId = request.EventId.Length > 0 ? request.EventId : NewId();
        var trigger = new SendTrigger("biz:" + eventId, SendTrigger.None, request.Attributes, Activity.Current?.Id);
        var response = new TriggerBusinessEventResponse { EventId = eventId };
        foreach (var campaign in campaigns)
        {
            response.Campaigns.Add(await sender.SendToAudienceAsync(campaign, trigger, context.CancellationToken));
        }
        return response;
    }

    public override async Task<V1.CountSegmentResponse> CountSegment(V1.CountSegmentRequest request, ServerCallContext context)
    {
        RequireId(request.WorkspaceId, "workspace_id");
        var segment = await SegmentAsync(request.WorkspaceId, request.Segment, request.CampaignId);
        var count = await users.CountAsync(request.WorkspaceId, segment, time.GetUtcNow(), context.CancellationToken);
        return new V1.CountSegmentResponse { Matching = count.Matching, Total = count.Total };
    }

    public override async Task<V1.ListSegmentUsersResponse> ListSegmentUsers(V1.ListSegmentUsersRequest request, ServerCallContext context)
    {
        RequireId(request.WorkspaceId, "workspace_id");
        if (request.PageSize is < 0 or > 1000)
        {
            throw Invalid("page_size: between 1 and 1000 (0: 100).");
        }
        var segment = await SegmentAsync(request.WorkspaceId, request.Segment, request.CampaignId);
        var page = await users.PageAsync(request.WorkspaceId, segment, time.GetUtcNow(), request.PageSize == 0 ? 100 : request.PageSize,
            request.PageToken, context.CancellationToken);
        var response = new V1.ListSegmentUsersResponse { NextPageToken = page.NextPageToken };
        foreach (var user in page.Users)
        {
            var u = new SegmentUser { CustomerId = user.CustomerId };
            u.Attributes.Add(user.Attributes);
            response.Users.Add(u);
        }
        return response;
    }

    public override async Task<WorkspaceSettings> GetWorkspaceSettings(GetWorkspaceSettingsRequest request, ServerCallContext context)
    {
        RequireId(request.WorkspaceId, "workspace_id");
        return await settings.GetAsync(request.WorkspaceId);
    }

    public override async Task<WorkspaceSettings> UpdateWorkspaceSettings(UpdateWorkspaceSettingsRequest request, ServerCallContext context)
    {
        ValidateSettings(request.Settings);
        await settings.SaveAsync(request.Settings);
        return request.Settings;
    }

    private async Task<SegmentDefinition> SegmentAsync(string workspaceId, SegmentDefinition? segment, string campaignId)
    {
        if (segment is null)
        {
            if (campaignId.Length == 0)
            {
                throw Invalid("segment: set segment or campaign_id.");
            }
            RequireId(campaignId, "campaign_id");
            segment = (await LoadAsync(workspaceId, campaignId)).Spec.Audience ?? new SegmentDefinition();
        }
        if (SegmentRules.Validate(segment, "segment") is { } problem)
        {
            throw Invalid(problem);
        }
        return segment;
    }

    private async Task<(Campaign Campaign, CompiledCampaign Steps)> ResolveAsync(string workspaceId, string campaignId, CampaignSpec? spec)
    {
        RequireId(workspaceId, "workspace_id");
        if (spec is not null)
        {
            var steps = Validate(spec);
            await CheckHostsAsync(spec, CancellationToken.None);
            return (new Campaign { WorkspaceId = workspaceId, CampaignId = "preview", Spec = spec, State = CampaignState.Draft }, steps);
        }
        RequireId(campaignId, "campaign_id");
        var campaign = await LoadAsync(workspaceId, campaignId);
        return (campaign, compiled.Get(campaign));
    }

    private async Task<(UserLookup Lookup, Templates.TemplateModel Model)> ModelAsync(Campaign campaign, string customerId, SampleData? sample,
        CancellationToken cancellationToken)
    {
        if (string.IsNullOrWhiteSpace(customerId))
        {
            throw Invalid("customer_id: required (the test user).");
        }
        var now = time.GetUtcNow();
        var lookup = await users.FindAsync(campaign.WorkspaceId, customerId, campaign.Spec.Audience, now, cancellationToken)
            ?? throw new RpcException(new Status(StatusCode.NotFound, $"customer_id: no user '{customerId}' in workspace '{campaign.WorkspaceId}'."));
        var trigger = new SendTrigger("test", sample?.EventAttributes ?? SendTrigger.None, sample?.BusinessEventAttributes ?? SendTrigger.None, null);
        return (lookup, StepRenderer.Model(campaign, lookup.User, trigger, now));
    }

    private async Task CheckHostsAsync(CampaignSpec spec, CancellationToken cancellationToken)
    {
        for (var i = 0; i < spec.Steps.Count; i++)
        {
            var step = spec.Steps[i];
            var schemeEnd = step.Url.IndexOf("://", StringComparison.Ordinal);
            var uri = new UriBuilder(step.Url[..schemeEnd], LiteralHost(step.Url, $"spec.steps[{i}].url")).Uri;
            if (await urlGuard.CheckAsync(uri, cancellationToken) is { } refused)
            {
                throw Invalid($"spec.steps[{i}].url: refused: {refused}.");
            }
        }
    }

    private async Task<Campaign> LoadAsync(string workspaceId, string campaignId) =>
        await store.GetAsync(workspaceId, campaignId)
        ?? throw new RpcException(new Status(StatusCode.NotFound, $"campaign_id: no campaign '{campaignId}' in workspace '{workspaceId}'."));

    private static (string, string) Ids(CampaignStateRequest request)
    {
        RequireId(request.WorkspaceId, "workspace_id");
        RequireId(request.CampaignId, "campaign_id");
        return (request.WorkspaceId, request.CampaignId);
    }

    private static string NewId() => Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(10));

    private static RenderedRequest ToMessage(RenderedStep step)
    {
        var message = new RenderedRequest
        {
            StepIndex = step.StepIndex,
            Method = step.Method,
            Url = step.Url,
            Body = step.Body ?? "",
            ContentType = step.ContentType ?? "",
            DelayMs = step.DelayMs,
        };
        message.Headers.AddRange(step.Headers.Select(h => new Header { Name = h.Key, Value = Redaction.Value(h.Key, h.Value) }));
        return message;
    }

    /// <summary>The campaign as API answers show it: secret header values masked.</summary>
    public static Campaign Redact(Campaign campaign)
    {
        var copy = campaign.Clone();
        foreach (var header in copy.Spec.Steps.SelectMany(s => s.Headers))
        {
            header.Value = Redaction.Value(header.Name, header.Value);
        }
        return copy;
    }

    /// <summary>An update that sends back the masked value keeps the stored secret.</summary>
    private static void KeepRedactedSecrets(CampaignSpec incoming, CampaignSpec stored)
    {
        for (var i = 0; i < incoming.Steps.Count; i++)
        {
            foreach (var header in incoming.Steps[i].Headers.Where(h => h.Value == Redaction.Mask))
            {
                var original = (i < stored.Steps.Count ? stored.Steps[i].Headers : [])
                    .Concat(stored.Steps.SelectMany(s => s.Headers))
                    .FirstOrDefault(h => h.Name.Equals(header.Name, StringComparison.OrdinalIgnoreCase));
                if (original is not null)
                {
                    header.Value = original.Value;
                }
            }
        }
    }
}
