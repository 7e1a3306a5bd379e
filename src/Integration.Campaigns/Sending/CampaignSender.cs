using System.Collections.Concurrent;
using Integration.Campaigns.Controls;
using Integration.Campaigns.Delivery;
using Integration.Campaigns.Model;
using Integration.Campaigns.Safety;
using Integration.Campaigns.Users;
using Integration.Campaigns.V1;
using Integration.Domain.Segments;
using Integration.Ingestion.V1;

namespace Integration.Campaigns.Sending;

/// <summary>Renders a campaign's steps for users and hands them to the delivery engine.</summary>
internal sealed partial class CampaignSender(
    CompiledCampaignCache compiled,
    IUrlGuard urlGuard,
    IDeliveryQueue queue,
    IDeliverySkips skips,
    IUserDirectory users,
    SendControls controls,
    TimeProvider time,
    CampaignMetrics metrics,
    ILogger<CampaignSender> logger)
{
    private static readonly TimeSpan HostCheckLifetime = TimeSpan.FromMinutes(1);
    private readonly ConcurrentDictionary<string, (DateTimeOffset Until, string? Problem)> _hostChecks = new(StringComparer.OrdinalIgnoreCase);

    /// <summary>
    /// Renders one step for one user and enqueues it. Returns null when enqueued, or why the user was skipped.
    /// </summary>
    public async Task<string?> SendStepAsync(Campaign campaign, int stepIndex, User user, SendTrigger trigger, DateTimeOffset? notBefore,
        CancellationToken cancellationToken)
    {
        var steps = compiled.Get(campaign).Steps;
        var (rendered, skip) = await StepRenderer.RenderAsync(steps[stepIndex], StepRenderer.Model(campaign, user, trigger, time.GetUtcNow()));
        if (rendered is null)
        {
            await SkippedAsync(campaign, user.CustomerId, skip!, cancellationToken);
            return skip;
        }
        if (await CheckHostAsync(rendered.Url, cancellationToken) is { } refused)
        {
            await SkippedAsync(campaign, user.CustomerId, refused, cancellationToken);
            return refused;
        }
        var decision = await controls.ApplyAsync(campaign, user,
            [(DeliveryIds.For(campaign.CampaignId, rendered.StepIndex, user.CustomerId, trigger.TriggerId), notBefore)], time.GetUtcNow());
        if (decision.SkipReason is { } controlled)
        {
            await SkippedAsync(campaign, user.CustomerId, controlled, cancellationToken);
            return controlled;
        }
        await queue.EnqueueAsync(ToDelivery(campaign, rendered, user.CustomerId, trigger, decision.NotBefore[0]), cancellationToken);
        metrics.Enqueued(campaign);
        return null;
    }

    /// <summary>
    /// Sends every step to every user of the audience (One Time, Periodic, Business Event). Steps after the
    /// first wait their delays through <see cref="DeliveryRequest.NotBefore"/>. A user is skipped whole if any
    /// step cannot be rendered for them. With <c>batch_heap_bulk</c> (One Time, Periodic) the users' track events
    /// go in Heap's bulk form, up to 1000 a request; <see cref="CampaignSendSummary.Enqueued"/> still counts
    /// them per user and step.
    /// </summary>
    /// <param name="zones">A pass of an occurrence sent in users' time zones: only the users whose turn it is are sent to
    /// (every user still counts for <c>dedup_attribute</c>, in audience order, so the first holder of a value wins across passes).</param>
    public async Task<CampaignSendSummary> SendToAudienceAsync(Campaign campaign, SendTrigger trigger, CancellationToken cancellationToken,
        ZonePass? zones = null)
    {
        var summary = new CampaignSendSummary { CampaignId = campaign.CampaignId };
        var steps = compiled.Get(campaign).Steps;
        var dedupAttribute = campaign.Spec.DeliveryCase is CampaignSpec.DeliveryOneofCase.OneTime or CampaignSpec.DeliveryOneofCase.Periodic
            ? campaign.Spec.Options?.DedupAttribute ?? ""
            : "";
        var seen = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        var now = time.GetUtcNow();
        var bulk = campaign.Spec.Options is { BatchHeapBulk: true }
            && campaign.Spec.DeliveryCase is CampaignSpec.DeliveryOneofCase.OneTime or CampaignSpec.DeliveryOneofCase.Periodic
            ? new HeapBulkBatches(campaign, trigger)
            : null;

        await foreach (var user in users.AudienceAsync(campaign.WorkspaceId, campaign.Spec.Audience, now, cancellationToken))
        {
            var turn = zones?.Of(user).Kind;
            var turnCame = turn is null or ZoneTurnKind.Send or ZoneTurnKind.SendPassed or ZoneTurnKind.SkipPassed;
            if (dedupAttribute.Length > 0 && user.Attributes.TryGetValue(dedupAttribute, out var key)
                && AttributeRules.Text(key) is { Length: > 0 } keyText && !seen.Add(keyText))
            {
                if (turnCame)
                {
                    Skip(summary, $"duplicate {dedupAttribute}");
                    await SkippedAsync(campaign, user.CustomerId, $"duplicate {dedupAttribute}", cancellationToken);
                }
                continue;
            }
            if (!turnCame)
            {
                continue;
            }
            if (turn == ZoneTurnKind.SkipPassed)
            {
                Skip(summary, UserTimeZones.PassedReason);
                await SkippedAsync(campaign, user.CustomerId, UserTimeZones.PassedReason, cancellationToken);
                continue;
            }

            var model = StepRenderer.Model(campaign, user, trigger, now);
            var rendered = new List<RenderedStep>(steps.Count);
            string? skip = null;
            foreach (var step in steps)
            {
                var (r, reason) = await StepRenderer.RenderAsync(step, model);
                if (r is null)
                {
                    skip = reason;
                    break;
                }
                skip = await CheckHostAsync(r.Url, cancellationToken);
                if (skip is not null)
                {
                    break;
                }
                rendered.Add(r);
            }
            if (skip is not null)
            {
                await SkippedAsync(campaign, user.CustomerId, skip, cancellationToken);
                Skip(summary, skip);
                continue;
            }

            var delay = TimeSpan.Zero;
            var sends = new List<(string Id, DateTimeOffset? NotBefore)>(rendered.Count);
            foreach (var r in rendered)
            {
                delay += TimeSpan.FromMilliseconds(r.DelayMs);
                sends.Add((DeliveryIds.For(campaign.CampaignId, r.StepIndex, user.CustomerId, trigger.TriggerId), delay > TimeSpan.Zero ? now + delay : null));
            }
            var decision = await controls.ApplyAsync(campaign, user, sends, now);
            if (decision.SkipReason is { } controlled)
            {
                await SkippedAsync(campaign, user.CustomerId, controlled, cancellationToken);
                Skip(summary, controlled);
                continue;
            }
            for (var i = 0; i < rendered.Count; i++)
            {
                var r = rendered[i];
                var notBefore = decision.NotBefore[i];
                // A held user's sends go alone: a bulk batch has one send time.
                if (bulk is not null && !decision.Held && bulk.TryAdd(r, user.CustomerId, notBefore, out var full))
                {
                    if (full is not null)
                    {
                        await EnqueueAsync(campaign, full, cancellationToken);
                    }
                    continue;
                }
                await EnqueueAsync(campaign, ToDelivery(campaign, r, user.CustomerId, trigger, notBefore), cancellationToken);
            }
            summary.Enqueued += rendered.Count;
        }
        foreach (var rest in bulk?.Flush() ?? [])
        {
            await EnqueueAsync(campaign, rest, cancellationToken);
        }
        return summary;
    }

    private async Task EnqueueAsync(Campaign campaign, DeliveryRequest delivery, CancellationToken cancellationToken)
    {
        await queue.EnqueueAsync(delivery, cancellationToken);
        metrics.Enqueued(campaign);
    }

    public static DeliveryRequest ToDelivery(Campaign campaign, RenderedStep step, string customerId, SendTrigger trigger, DateTimeOffset? notBefore)
    {
        var options = campaign.Spec.Options;
        return new DeliveryRequest(
            DeliveryIds.For(campaign.CampaignId, step.StepIndex, customerId, trigger.TriggerId),
            campaign.WorkspaceId,
            campaign.CampaignId,
            step.StepIndex,
            customerId,
            trigger.TriggerId,
            step.Method,
            step.Url,
            step.Headers.ToDictionary(h => h.Key, h => h.Value, StringComparer.OrdinalIgnoreCase),
            step.Body,
            step.ContentType,
            notBefore,
            new DeliveryOptions
            {
                Timeout = TimeSpan.FromMilliseconds(options?.TimeoutMs is > 0 ? options.TimeoutMs : 5000),
                MaxAttempts = options?.MaxAttempts is > 0 ? options.MaxAttempts : 8,
                IdempotencyHeader = string.IsNullOrEmpty(options?.IdempotencyHeader) ? null : options.IdempotencyHeader,
                ConversionWindowMs = (long)Goals.ConversionTracker.Window(campaign).TotalMilliseconds,
            },
            string.IsNullOrEmpty(trigger.TraceParent) ? null : trigger.TraceParent);
    }

    private async Task<string?> CheckHostAsync(string url, CancellationToken cancellationToken)
    {
        var uri = new Uri(url);
        var now = time.GetUtcNow();
        if (_hostChecks.TryGetValue(uri.IdnHost, out var cached) && cached.Until > now)
        {
            return cached.Problem;
        }
        var problem = await urlGuard.CheckAsync(uri, cancellationToken);
        problem = problem is null ? null : $"url: {problem}";
        _hostChecks[uri.IdnHost] = (now + HostCheckLifetime, problem);
        return problem;
    }

    private static void Skip(CampaignSendSummary summary, string reason)
    {
        summary.Skipped++;
        summary.SkipReasons[reason] = summary.SkipReasons.GetValueOrDefault(reason) + 1;
    }

    /// <summary>A skipped user is counted (metrics, and the campaign's delivery counters by reason) and logged.</summary>
    private async Task SkippedAsync(Campaign campaign, string customerId, string reason, CancellationToken cancellationToken)
    {
        metrics.Skipped(campaign);
        LogSkipped(campaign.CampaignId, customerId, reason);
        await skips.RecordSkippedAsync(campaign.WorkspaceId, campaign.CampaignId, reason, cancellationToken);
    }

    [LoggerMessage(LogLevel.Information, "Campaign {CampaignId} skipped user {CustomerId}: {Reason}")]
    private partial void LogSkipped(string campaignId, string customerId, string reason);
}
