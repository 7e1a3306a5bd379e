using System.Globalization;
using Integration.Campaigns.V1;

namespace Integration.Campaigns.Model;

/// <summary>Occurrences of a periodic schedule, computed in its IANA time zone (DST-aware).</summary>
internal static class Recurrence
{
    private const int MaxDaysAhead = 40_000;

    public static TimeZoneInfo? FindZone(string id)
    {
        try
        {
            return TimeZoneInfo.FindSystemTimeZoneById(id);
        }
        catch (Exception ex) when (ex is TimeZoneNotFoundException or InvalidTimeZoneException)
        {
            return null;
        }
    }

    /// <summary>
    /// The first occurrence strictly after <paramref name="after"/>, or null when the schedule has ended
    /// (past its end date, or <paramref name="runsSoFar"/> reached the maximum).
    /// </summary>
    public static DateTimeOffset? Next(PeriodicDelivery p, DateTimeOffset after, DateTimeOffset activatedAt, int runsSoFar)
    {
        if (p.MaxOccurrences > 0 && runsSoFar >= p.MaxOccurrences)
        {
            return null;
        }
        var zone = p.TimeZone.Length > 0 ? FindZone(p.TimeZone) ?? TimeZoneInfo.Utc : TimeZoneInfo.Utc;
        var every = Math.Max(1, p.Every);
        var start = p.StartMs > 0 ? DateTimeOffset.FromUnixTimeMilliseconds(p.StartMs) : activatedAt;
        var startDate = DateOnly.FromDateTime(TimeZoneInfo.ConvertTime(start, zone).DateTime);
        var time = TimeOnly.ParseExact(p.TimeOfDay, "HH:mm", CultureInfo.InvariantCulture);
        var weekDays = p.DaysOfWeek.Count > 0 ? p.DaysOfWeek.Select(d => (DayOfWeek)d).ToHashSet() : [startDate.DayOfWeek];
        var monthDays = p.DaysOfMonth.Count > 0 ? p.DaysOfMonth.ToHashSet() : [startDate.Day];
        var startWeek = startDate.AddDays(-(int)startDate.DayOfWeek);

        var from = DateOnly.FromDateTime(TimeZoneInfo.ConvertTime(after, zone).DateTime).AddDays(-1);
        var day = from > startDate ? from : startDate;
        for (var i = 0; i < MaxDaysAhead; i++, day = day.AddDays(1))
        {
            var matches = p.Frequency switch
            {
                Frequency.Daily => (day.DayNumber - startDate.DayNumber) % every == 0,
                Frequency.Weekly => (day.DayNumber - startWeek.DayNumber) / 7 % every == 0 && weekDays.Contains(day.DayOfWeek),
                Frequency.Monthly => ((day.Year - startDate.Year) * 12 + day.Month - startDate.Month) % every == 0 && monthDays.Contains(day.Day),
                _ => false,
            };
            if (!matches)
            {
                continue;
            }
            var occurrence = ToInstant(day.ToDateTime(time), zone);
            if (occurrence < start || occurrence <= after)
            {
                continue;
            }
            if (p.EndAtMs > 0 && occurrence.ToUnixTimeMilliseconds() > p.EndAtMs)
            {
                return null;
            }
            return occurrence;
        }
        return null;
    }

    /// <summary>The instant a local wall-clock time happens in <paramref name="zone"/>.</summary>
    public static DateTimeOffset ToInstant(DateTime local, TimeZoneInfo zone)
    {
        local = DateTime.SpecifyKind(local, DateTimeKind.Unspecified);
        // A time that a DST change skips happens at the same wall-clock time plus the jump.
        while (zone.IsInvalidTime(local))
        {
            local = local.AddMinutes(30);
        }
        return new DateTimeOffset(TimeZoneInfo.ConvertTimeToUtc(local, zone), TimeSpan.Zero);
    }
}
