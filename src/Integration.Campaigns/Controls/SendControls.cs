using Integration.Campaigns.V1;
using Integration.Ingestion.V1;

namespace Integration.Campaigns.Controls;

/// <summary>What the campaign controls decided for one user's sends of one campaign.</summary>
/// <param name="SkipReason">Why nothing is sent (<c>quiet_hours</c>, <c>frequency_cap</c>), or null.</param>
/// <param name="NotBefore">Each send's earliest time: as asked, or the end of the quiet window it fell in.</param>
/// <param name="Held">Whether quiet hours moved any send.</param>
internal sealed record ControlDecision(string? SkipReason, IReadOnlyList<DateTimeOffset?> NotBefore, bool Held);

/// <summary>
/// The campaign controls applied to every connector send before it is handed to the delivery engine, in this
/// order: do-not-disturb (hold until the quiet window ends, or drop), then the frequency cap (the workspace's,
/// or the campaign's override; exempt campaigns are neither capped nor counted). Test sends never come here.
/// </summary>
internal sealed class SendControls(IWorkspaceSettingsStore settings, IFrequencyCapper capper, CampaignMetrics metrics)
{
    public const string FrequencyCapReason = "frequency_cap";
    public const string QuietHoursReason = "quiet_hours";

    /// <summary>Decides for one user's sends (ids and wanted times, null: now) of one campaign.</summary>
    public async Task<ControlDecision> ApplyAsync(Campaign campaign, User user, IReadOnlyList<(string Id, DateTimeOffset? NotBefore)> sends,
        DateTimeOffset now)
    {
        var options = campaign.Spec.Options;
        var times = sends.Select(s => s.NotBefore).ToArray();
        if (options is { FrequencyCapExempt: true } && options.QuietHours is null)
        {
            return new ControlDecision(null, times, false);
        }
        var workspace = await settings.GetAsync(campaign.WorkspaceId);

        var held = false;
        if (options?.QuietHours is { } quiet)
        {
            var zone = (quiet.Zone == QuietHoursZone.User ? RedisWorkspaceSettingsStore.UserZone(workspace, user) : null)
                ?? RedisWorkspaceSettingsStore.WorkspaceZone(workspace);
            for (var i = 0; i < times.Length; i++)
            {
                if (QuietWindow.EndOf(quiet, zone, times[i] ?? now) is not { } end)
                {
                    continue;
                }
                if (quiet.Action == QuietHoursAction.Drop)
                {
                    metrics.QuietHours(held: false);
                    return new ControlDecision(QuietHoursReason, times, false);
                }
                times[i] = end;
                held = true;
            }
            if (held)
            {
                metrics.QuietHours(held: true);
            }
        }

        var cap = options is { FrequencyCapExempt: true } ? null : options?.FrequencyCap ?? workspace.FrequencyCap;
        if (RedisFrequencyCapper.Limits(cap)
            && !await capper.TryReserveAsync(campaign.WorkspaceId, user.CustomerId, cap!, sends.Select(s => s.Id).ToArray(), now))
        {
            metrics.FrequencyCapped();
            return new ControlDecision(FrequencyCapReason, times, held);
        }
        return new ControlDecision(null, times, held);
    }
}
