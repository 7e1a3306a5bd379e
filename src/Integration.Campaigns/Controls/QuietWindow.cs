using System.Globalization;
using Integration.Campaigns.V1;

namespace Integration.Campaigns.Controls;

/// <summary>A daily do-not-disturb window read on a local clock; it may span midnight (22:00-08:00).</summary>
internal static class QuietWindow
{
    /// <summary>When the window that <paramref name="at"/> falls in ends, or null when <paramref name="at"/> is outside it.</summary>
    public static DateTimeOffset? EndOf(QuietHours quiet, TimeZoneInfo zone, DateTimeOffset at)
    {
        var start = TimeOnly.ParseExact(quiet.Start, "HH:mm", CultureInfo.InvariantCulture);
        var end = TimeOnly.ParseExact(quiet.End, "HH:mm", CultureInfo.InvariantCulture);
        var local = TimeZoneInfo.ConvertTime(at, zone);
        var time = TimeOnly.FromDateTime(local.DateTime);
        var spansMidnight = start > end;
        var inside = spansMidnight ? time >= start || time < end : time >= start && time < end;
        if (!inside)
        {
            return null;
        }
        var endDate = DateOnly.FromDateTime(local.DateTime);
        if (spansMidnight && time >= start)
        {
            endDate = endDate.AddDays(1);
        }
        var endLocal = endDate.ToDateTime(end);
        // A window that ends in a spring-forward gap ends when the clock jumps.
        while (zone.IsInvalidTime(endLocal))
        {
            endLocal = endLocal.AddMinutes(30);
        }
        return new DateTimeOffset(endLocal, zone.GetUtcOffset(endLocal));
    }
}
