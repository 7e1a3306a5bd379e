using System.Collections.Concurrent;
using System.Globalization;
using System.Text;

namespace Integration.Templates;

/// <summary>A point in time in a time zone, as Python's timezone-aware datetime prints and behaves.</summary>
internal sealed class TemplateDateTime(DateTimeOffset value, TimeZoneInfo zone)
{
    public DateTimeOffset Value { get; } = value;

    public TimeZoneInfo Zone { get; } = zone;

    private DateTimeOffset Local => TimeZoneInfo.ConvertTime(Value, Zone);

    public TemplateDateTime Add(TimeSpan span) => new(Value + span, Zone);

    public TemplateDateTime In(TimeZoneInfo zone) => new(Value, zone);

    public object? Attribute(string name)
    {
        var local = Local;
        return name switch
        {
            "year" => (long)local.Year,
            "month" => (long)local.Month,
            "day" => (long)local.Day,
            "hour" => (long)local.Hour,
            "minute" => (long)local.Minute,
            "second" => (long)local.Second,
            "microsecond" => (long)(local.Ticks % TimeSpan.TicksPerSecond / 10),
            "weekday" or "isoweekday" or "isoformat" or "strftime" or "timestamp" or "astimezone" => new BoundMethod(this, name),
            _ => Undefined.NoAttribute(this, name),
        };
    }

    public object? Call(string name, Arguments a) => name switch
    {
        "weekday" => (long)(((int)Local.DayOfWeek + 6) % 7),
        "isoweekday" => (long)(((int)Local.DayOfWeek + 6) % 7 + 1),
        "isoformat" => Format("T"),
        "strftime" => Dates.Strftime(this, Py.Str(a.Get(0, "format"))),
        "timestamp" => (Value.ToUnixTimeMilliseconds() / 1000.0),
        "astimezone" => In(Dates.Zone(a.Get(0, "tz"))),
        _ => throw new TemplateRuntimeError($"'datetime' object has no method '{name}'"),
    };

    public string Format(string separator)
    {
        var local = Local;
        var micro = local.Ticks % TimeSpan.TicksPerSecond / 10;
        var text = local.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture) + separator + local.ToString("HH:mm:ss", CultureInfo.InvariantCulture);
        if (micro != 0) text += "." + micro.ToString("000000", CultureInfo.InvariantCulture);
        return text + Dates.Offset(local.Offset, ":");
    }

    public override string ToString() => Format(" ");
}

/// <summary>A duration (Python's timedelta).</summary>
internal sealed record TemplateTimeDelta(TimeSpan Value)
{
    public object? Attribute(string name) => name switch
    {
        "days" => (long)Math.Floor(Value.TotalDays),
        "seconds" => (long)(Value - TimeSpan.FromDays(Math.Floor(Value.TotalDays))).TotalSeconds,
        "total_seconds" => new BoundMethod(this, name),
        _ => Undefined.NoAttribute(this, name),
    };
}

/// <summary>
/// Date and time helpers: <c>now(tz)</c>, <c>timedelta(…)</c>, and the filters <c>to_datetime</c>, <c>strftime</c>,
/// <c>in_timezone</c>, <c>add_days</c>, <c>add_hours</c>, <c>add_minutes</c>. Time zones are IANA names.
/// </summary>
internal static class Dates
{
    private static readonly ConcurrentDictionary<string, TimeZoneInfo?> Zones = new(StringComparer.Ordinal);

    public static readonly Dictionary<string, FilterFunction> Filters = new(StringComparer.Ordinal)
    {
        ["to_datetime"] = (c, v, a) => ToDateTime(v, Zone(a.Expect("to_datetime", "tz").Get(0, "tz", "UTC"))),
        ["strftime"] = (c, v, a) => Strftime(ToDateTime(v, TimeZoneInfo.Utc), Py.Str(a.Expect("strftime", "format").Get(0, "format"))),
        ["in_timezone"] = (c, v, a) => ToDateTime(v, TimeZoneInfo.Utc).In(Zone(a.Expect("in_timezone", "tz").Get(0, "tz"))),
        ["add_days"] = (c, v, a) => ToDateTime(v, TimeZoneInfo.Utc).Add(TimeSpan.FromDays(Py.ToDouble(a.Get(0, "days")))),
        ["add_hours"] = (c, v, a) => ToDateTime(v, TimeZoneInfo.Utc).Add(TimeSpan.FromHours(Py.ToDouble(a.Get(0, "hours")))),
        ["add_minutes"] = (c, v, a) => ToDateTime(v, TimeZoneInfo.Utc).Add(TimeSpan.FromMinutes(Py.ToDouble(a.Get(0, "minutes")))),
    };

    public static TimeZoneInfo Zone(object? name)
    {
        var id = name is null ? "UTC" : Py.Str(name);
        var zone = Zones.GetOrAdd(id, static key =>
        {
            if (key is "UTC" or "utc" or "Etc/UTC") return TimeZoneInfo.Utc;
            return TimeZoneInfo.TryFindSystemTimeZoneById(key, out var found) && found.HasIanaId ? found : null;
        });
        if (Zones.Count > 1000) Zones.Clear();
        return zone ?? throw new TemplateRuntimeError($"unknown time zone '{id}' (use an IANA name such as 'Europe/Berlin')");
    }

    public static TemplateDateTime ToDateTime(object? v, TimeZoneInfo zone) => v switch
    {
        TemplateDateTime dt => dt,
        long or double => new TemplateDateTime(DateTimeOffset.FromUnixTimeMilliseconds((long)Py.ToDouble(v)), zone),
        string s when DateTimeOffset.TryParse(s, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AllowWhiteSpaces, out var parsed)
            => HasOffset(s) ? new TemplateDateTime(parsed, Fixed(parsed.Offset))
                : new TemplateDateTime(new DateTimeOffset(DateTime.SpecifyKind(parsed.DateTime, DateTimeKind.Unspecified), zone.GetUtcOffset(parsed.DateTime)), zone),
        Undefined u => throw new TemplateRuntimeError(u.Message),
        _ => throw new TemplateRuntimeError($"cannot read a date and time from {Py.Repr(v)}"),
    };

    // A time written with an offset keeps it, as Python's fromisoformat does.
    private static TimeZoneInfo Fixed(TimeSpan offset) => offset == TimeSpan.Zero ? TimeZoneInfo.Utc
        : TimeZoneInfo.CreateCustomTimeZone("UTC" + Offset(offset, ":"), offset, "UTC" + Offset(offset, ":"), "UTC" + Offset(offset, ":"));

    // "2026-03-01T10:00:00" without Z or offset is a time in the given zone, as Python's datetime.replace(tzinfo=…).
    private static bool HasOffset(string s)
    {
        var t = s.Trim();
        var time = t.IndexOf('T') >= 0 ? t.IndexOf('T') : t.IndexOf(' ');
        if (time < 0) return false;
        var rest = t[time..];
        return rest.EndsWith('Z') || rest.EndsWith('z') || rest.LastIndexOfAny(['+', '-']) > 0;
    }

    public static string Offset(TimeSpan offset, string separator)
    {
        var sign = offset < TimeSpan.Zero ? "-" : "+";
        var abs = offset.Duration();
        return sign + abs.Hours.ToString("00", CultureInfo.InvariantCulture) + separator + abs.Minutes.ToString("00", CultureInfo.InvariantCulture);
    }

    /// <summary>Python's strftime codes (C locale).</summary>
    public static string Strftime(TemplateDateTime dt, string format)
    {
        var local = TimeZoneInfo.ConvertTime(dt.Value, dt.Zone);
        var inv = CultureInfo.InvariantCulture;
        var sb = new StringBuilder();
        for (var i = 0; i < format.Length; i++)
        {
            if (format[i] != '%' || i + 1 >= format.Length)
            {
                sb.Append(format[i]);
                continue;
            }
            var code = format[++i];
            sb.Append(code switch
            {
                'Y' => local.Year.ToString(inv),
                'y' => (local.Year % 100).ToString("00", inv),
                'm' => local.Month.ToString("00", inv),
                'd' => local.Day.ToString("00", inv),
                'e' => local.Day.ToString(inv).PadLeft(2),
                'H' => local.Hour.ToString("00", inv),
                'I' => ((local.Hour + 11) % 12 + 1).ToString("00", inv),
                'M' => local.Minute.ToString("00", inv),
                'S' => local.Second.ToString("00", inv),
                'f' => (local.Ticks % TimeSpan.TicksPerSecond / 10).ToString("000000", inv),
                'p' => local.Hour < 12 ? "AM" : "PM",
                'a' => local.ToString("ddd", inv),
                'A' => local.ToString("dddd", inv),
                'b' or 'h' => local.ToString("MMM", inv),
                'B' => local.ToString("MMMM", inv),
                'j' => local.DayOfYear.ToString("000", inv),
                'w' => ((int)local.DayOfWeek).ToString(inv),
                'u' => (((int)local.DayOfWeek + 6) % 7 + 1).ToString(inv),
                'z' => Offset(local.Offset, ""),
                'Z' => ZoneName(dt.Zone, local),
                'F' => local.ToString("yyyy-MM-dd", inv),
                'T' => local.ToString("HH:mm:ss", inv),
                'D' => local.ToString("MM/dd/yy", inv),
                'R' => local.ToString("HH:mm", inv),
                '%' => "%",
                _ => "%" + code,
            });
        }
        return sb.ToString();
    }

    // The abbreviation Python's zoneinfo prints (CET, CEST, IST, UTC …), from the time zone data.
    private static string ZoneName(TimeZoneInfo zone, DateTimeOffset local)
    {
        if (zone == TimeZoneInfo.Utc) return "UTC";
        var name = zone.IsDaylightSavingTime(local) ? zone.DaylightName : zone.StandardName;
        return name.Length <= 6 && !name.Contains(' ') ? name : Offset(local.Offset, "");
    }
}
