using Integration.Campaigns.V1;

namespace Integration.Campaigns.Model;

/// <summary>What a pass over a zone run does with one user of the audience.</summary>
internal enum ZoneTurnKind
{
    /// <summary>Handled by an earlier pass of this occurrence.</summary>
    Done,
    /// <summary>Their local time has come: send now.</summary>
    Send,
    /// <summary>Their local time had passed when the occurrence started; sent at the campaign's zone time (now).</summary>
    SendPassed,
    /// <summary>Their local time had passed when the occurrence started; not sent (skipped:time_zone_passed).</summary>
    SkipPassed,
    /// <summary>Their time has not come yet.</summary>
    Later,
}

/// <summary>One user's turn in a pass, and the instant it is (or was) due.</summary>
internal readonly record struct ZoneTurn(ZoneTurnKind Kind, DateTimeOffset Due);

/// <summary>
/// One Time and Periodic campaigns sent in users' time zones (MoEngage's "Send in user time zone"). An occurrence
/// is a local wall-clock time (the campaign's time read in the campaign's zone); each user's copy is due when that
/// wall-clock time comes in the user's zone. Pure functions of the campaign, the occurrence and the clock, so every
/// pass (on any replica, after any restart) decides the same for the same user.
/// </summary>
internal static class UserTimeZones
{
    public const string PassedReason = "time_zone_passed";

    // The first UTC offset in use: UTC+14 (Pacific/Kiritimati) sees a local time first (UTC-12 last, 26 hours later).
    private static readonly TimeSpan FirstOffset = TimeSpan.FromHours(14);

    /// <summary>The campaign's user-time-zone setting, or null when it sends everyone at one instant.</summary>
    public static UserTimeZoneDelivery? Of(CampaignSpec spec) => spec.DeliveryCase switch
    {
        CampaignSpec.DeliveryOneofCase.OneTime => spec.OneTime.UserTimeZone,
        CampaignSpec.DeliveryOneofCase.Periodic => spec.Periodic.UserTimeZone,
        _ => null,
    };

    /// <summary>The campaign's zone (UTC when unset): where its time is written, and the zone of users without one.</summary>
    public static TimeZoneInfo CampaignZone(CampaignSpec spec)
    {
        var id = spec.DeliveryCase switch
        {
            CampaignSpec.DeliveryOneofCase.OneTime => spec.OneTime.TimeZone,
            CampaignSpec.DeliveryOneofCase.Periodic => spec.Periodic.TimeZone,
            _ => "",
        };
        return id.Length > 0 ? Recurrence.FindZone(id) ?? TimeZoneInfo.Utc : TimeZoneInfo.Utc;
    }

    /// <summary>The occurrence's local wall-clock time: its instant read in the campaign's zone.</summary>
    public static DateTime LocalTime(CampaignSpec spec, long occurrenceMs) =>
        DateTime.SpecifyKind(TimeZoneInfo.ConvertTime(DateTimeOffset.FromUnixTimeMilliseconds(occurrenceMs), CampaignZone(spec)).DateTime,
            DateTimeKind.Unspecified);

    /// <summary>When the occurrence's first zone (UTC+14) reaches its local time: the run opens then.</summary>
    public static DateTimeOffset Opens(CampaignSpec spec, long occurrenceMs) => new DateTimeOffset(LocalTime(spec, occurrenceMs), FirstOffset);

    /// <summary>A user's turn in a pass at <paramref name="now"/> over <paramref name="run"/>.</summary>
    /// <param name="localDue">When the occurrence's local time comes in the user's zone (<see cref="Recurrence.ToInstant"/>).</param>
    /// <param name="campaignTime">The occurrence in the campaign's zone (where passed users go, under SEND_AT_CAMPAIGN_TIME).</param>
    public static ZoneTurn Turn(ZoneRun run, UserTimeZoneDelivery setting, DateTimeOffset localDue, DateTimeOffset campaignTime, DateTimeOffset now)
    {
        var started = DateTimeOffset.FromUnixTimeMilliseconds(run.StartedAtMs);
        var due = localDue;
        var kind = ZoneTurnKind.Send;
        if (due < started)
        {
            // Due at the start (or at the campaign's zone time if that is later), so the first pass that covers it decides once.
            if (setting.PassedTimeZoneAction == PassedTimeZoneAction.Skip)
            {
                (kind, due) = (ZoneTurnKind.SkipPassed, started);
            }
            else
            {
                (kind, due) = (ZoneTurnKind.SendPassed, campaignTime > started ? campaignTime : started);
            }
        }
        if (due.ToUnixTimeMilliseconds() <= run.DoneUntilMs)
        {
            return new ZoneTurn(ZoneTurnKind.Done, due);
        }
        return due <= now ? new ZoneTurn(kind, due) : new ZoneTurn(ZoneTurnKind.Later, due);
    }
}
