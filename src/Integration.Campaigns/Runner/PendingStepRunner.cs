using System.Diagnostics;
using Integration.Campaigns.Delivery;
using Integration.Campaigns.Model;
using Integration.Campaigns.Sending;
using Integration.Campaigns.Storage;
using Integration.Campaigns.Users;
using Integration.Campaigns.V1;
using Microsoft.Extensions.Options;

namespace Integration.Campaigns.Runner;

/// <summary>
/// Sends the delayed steps of event-triggered campaigns when they are due, unless the user did the exit
/// event since the trigger. Due steps are claimed atomically in Redis, so replicas never both send one.
/// </summary>
internal sealed partial class PendingStepRunner(
    ICampaignStore store,
    IPendingSendStore pending,
    CompiledCampaignCache compiled,
    IUserDirectory users,
    CampaignSender sender,
    IOptions<CampaignsOptions> options,
    TimeProvider time,
    ILogger<PendingStepRunner> logger)
{
    private const int ClaimBatch = 100;

    /// <summary>Processes every due step once; returns how many were processed.</summary>
    public async Task<int> RunDueAsync(CancellationToken cancellationToken)
    {
        var processed = 0;
        foreach (var workspaceId in await pending.WorkspacesAsync())
        {
            var now = time.GetUtcNow();
            var claimed = await pending.ClaimDueAsync(workspaceId, now, now.AddSeconds(options.Value.LeaseSeconds), ClaimBatch);
            foreach (var step in claimed)
            {
                try
                {
                    await ProcessAsync(step, cancellationToken);
                    processed++;
                }
                catch (Exception ex) when (!cancellationToken.IsCancellationRequested)
                {
                    LogStepFailed(ex, step.CampaignId, step.StepIndex, step.CustomerId);
                }
            }
        }
        return processed;
    }

    /// <summary>The next pending step of a sequence, due after its delay.</summary>
    public static PendingSend Next(Campaign campaign, int stepIndex, string customerId, SendTrigger trigger, long triggerTimeMs,
        string eventAttributesJson, DateTimeOffset now) => new(
        DeliveryIds.For(campaign.CampaignId, stepIndex, customerId, trigger.TriggerId),
        campaign.WorkspaceId,
        campaign.CampaignId,
        stepIndex,
        customerId,
        trigger.TriggerId,
        triggerTimeMs,
        eventAttributesJson,
        trigger.TraceParent ?? "",
        (now + TimeSpan.FromMilliseconds(campaign.Spec.Steps[stepIndex].DelayMs)).ToUnixTimeMilliseconds());

    private async Task ProcessAsync(PendingSend step, CancellationToken cancellationToken)
    {
        // A delayed step still belongs to the trace of the webhook that triggered it.
        ActivityContext.TryParse(step.TraceParent, null, isRemote: true, out var triggerContext);
        using var activity = CampaignMetrics.Source.StartActivity("campaign step due", ActivityKind.Internal, triggerContext);
        activity?.SetTag("campaigns.step", step.StepIndex);
        var traceParent = activity?.Id ?? step.TraceParent;

        var campaign = await store.GetAsync(step.WorkspaceId, step.CampaignId);
        if (campaign is null || campaign.State != CampaignState.Active || step.StepIndex >= compiled.Get(campaign).Steps.Count)
        {
            LogDropped(step.CampaignId, step.StepIndex, step.CustomerId, "the campaign is no longer active");
            await pending.CompleteAsync(step, null);
            return;
        }
        var now = time.GetUtcNow();
        var lookup = await users.FindAsync(step.WorkspaceId, step.CustomerId, null, now, cancellationToken);
        if (lookup is null)
        {
            LogDropped(step.CampaignId, step.StepIndex, step.CustomerId, "the user no longer exists");
            await pending.CompleteAsync(step, null);
            return;
        }
        var exit = campaign.Spec.EventTriggered.ExitEventName;
        // On event time: an exit event that arrives late (Heap's retroactive data) still counts if it happened after the trigger.
        if (exit.Length > 0 && lookup.User.Events.FirstOrDefault(e => e.EventName == exit) is { Count: > 0 } stats
            && stats.LastTimeMs >= step.TriggerTimeMs)
        {
            LogDropped(step.CampaignId, step.StepIndex, step.CustomerId, $"the user did the exit event '{exit}'");
            await pending.CompleteAsync(step, null);
            return;
        }

        var trigger = new SendTrigger(step.TriggerId, AttributeJson.Parse(step.EventAttributesJson), SendTrigger.None,
            traceParent.Length > 0 ? traceParent : null);
        var skipped = await sender.SendStepAsync(campaign, step.StepIndex, lookup.User, trigger, null, cancellationToken);
        var next = skipped is null && step.StepIndex + 1 < campaign.Spec.Steps.Count
            ? Next(campaign, step.StepIndex + 1, step.CustomerId, trigger, step.TriggerTimeMs, step.EventAttributesJson, now)
            : null;
        await pending.CompleteAsync(step, next);
    }

    [LoggerMessage(LogLevel.Warning, "Pending step {StepIndex} of campaign {CampaignId} for user {CustomerId} failed; it is retried when its lease ends")]
    private partial void LogStepFailed(Exception ex, string campaignId, int stepIndex, string customerId);

    [LoggerMessage(LogLevel.Information, "Pending step {StepIndex} of campaign {CampaignId} for user {CustomerId} dropped: {Reason}")]
    private partial void LogDropped(string campaignId, int stepIndex, string customerId, string reason);
}
