using System.Globalization;
using System.Text.Json;

namespace Integration.Domain;

/// <summary>Heap's timestamps: ISO 8601 strings, or epoch seconds or milliseconds (numbers or digit strings).</summary>
public static class Timestamps
{
    // Below this an epoch number is read as seconds (1e11 s is the year 5138), above as milliseconds.
    private const double SecondsMillisecondsBoundary = 1e11;
    private const double MaxMilliseconds = 253402300799999; // 9999-12-31T23:59:59.999Z

    /// <summary>Reads a timestamp into Unix milliseconds.</summary>
    public static bool TryParse(JsonElement element, out long unixMilliseconds)
    {
        unixMilliseconds = 0;
        return element.ValueKind switch
        {
            JsonValueKind.Number => element.TryGetDouble(out var number) && TryFromEpoch(number, out unixMilliseconds),
            JsonValueKind.String => TryParse(element.GetString()!, out unixMilliseconds),
            _ => false,
        };
    }

    public static bool TryParse(string text, out long unixMilliseconds)
    {
        unixMilliseconds = 0;
        text = text.Trim();
        if (text.Length == 0)
        {
            return false;
        }
        if (text.All(char.IsAsciiDigit) || (text.Contains('.') && double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out _)))
        {
            return double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var number) && TryFromEpoch(number, out unixMilliseconds);
        }
        // ISO 8601 needs at least a full date; a time without an offset is read as UTC.
        if (text.Length < 10 || !char.IsAsciiDigit(text[0]) ||
            !DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out var parsed))
        {
            return false;
        }
        unixMilliseconds = parsed.ToUnixTimeMilliseconds();
        return unixMilliseconds > 0;
    }

    /// <summary>Reads an epoch number (seconds or milliseconds) into Unix milliseconds.</summary>
    public static bool TryFromEpoch(double number, out long unixMilliseconds)
    {
        unixMilliseconds = 0;
        if (double.IsNaN(number) || number <= 0)
        {
            return false;
        }
        var ms = number < SecondsMillisecondsBoundary ? number * 1000 : number;
        if (ms > MaxMilliseconds)
        {
            return false;
        }
        unixMilliseconds = (long)ms;
        return true;
    }
}
