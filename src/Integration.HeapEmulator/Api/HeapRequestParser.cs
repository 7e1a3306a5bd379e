using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;
using Integration.HeapEmulator.Inspection;

namespace Integration.HeapEmulator.Api;

/// <summary>
/// Heap's validation of <c>/api/track</c> and <c>/api/add_user_properties</c> bodies. Every problem is
/// collected with the path of the offending field (<c>events[3]: properties.plan</c>), so one 400 names them all.
/// </summary>
internal static partial class HeapRequestParser
{
    public const int MaxBatchSize = 1_000;
    public const int MaxEventNameLength = 1_024;
    public const int MaxIdentityLength = 255;
    /// <summary>Heap: property names and string values must have fewer than 1024 characters.</summary>
    public const int MaxPropertyLength = 1_023;

    private const int MaxReportedErrors = 10;

    public static ParseResult<TrackBatch> ParseTrack(JsonElement root, DateTimeOffset now, Func<string, bool> isKnownApp)
    {
        var errors = new List<string>();
        if (root.ValueKind is not JsonValueKind.Object)
        {
            return ParseResult<TrackBatch>.Fail("The body must be a JSON object.");
        }
        var appId = ReadAppId(root, isKnownApp, errors);
        var events = new List<TrackedEvent>();
        var bulk = root.TryGetProperty("events", out var items);
        if (bulk)
        {
            if (root.TryGetProperty("event", out _))
            {
                errors.Add("Send either one event (event) or a bulk request (events), not both.");
            }
            foreach (var (item, prefix) in ReadItems(items, "events", errors))
            {
                if (ReadEvent(item, prefix, now, errors) is { } parsed)
                {
                    events.Add(parsed);
                }
            }
        }
        else if (ReadEvent(root, "", now, errors) is { } parsed)
        {
            events.Add(parsed);
        }
        return errors.Count > 0 || appId is null
            ? ParseResult<TrackBatch>.Fail(Describe(errors))
            : ParseResult<TrackBatch>.Ok(new TrackBatch(appId, bulk, events));
    }

    public static ParseResult<UserBatch> ParseUsers(JsonElement root, Func<string, bool> isKnownApp)
    {
        var errors = new List<string>();
        if (root.ValueKind is not JsonValueKind.Object)
        {
            return ParseResult<UserBatch>.Fail("The body must be a JSON object.");
        }
        var appId = ReadAppId(root, isKnownApp, errors);
        var users = new List<UserUpdate>();
        var bulk = root.TryGetProperty("users", out var items);
        if (bulk)
        {
            foreach (var (item, prefix) in ReadItems(items, "users", errors))
            {
                if (ReadUser(item, prefix, errors) is { } parsed)
                {
                    users.Add(parsed);
                }
            }
        }
        else if (ReadUser(root, "", errors) is { } parsed)
        {
            users.Add(parsed);
        }
        return errors.Count > 0 || appId is null
            ? ParseResult<UserBatch>.Fail(Describe(errors))
            : ParseResult<UserBatch>.Ok(new UserBatch(appId, bulk, users));
    }

    private static string? ReadAppId(JsonElement root, Func<string, bool> isKnownApp, List<string> errors)
    {
        if (!root.TryGetProperty("app_id", out var value) || value.ValueKind is JsonValueKind.Null)
        {
            errors.Add("app_id is required.");
            return null;
        }
        if (value.ValueKind is not JsonValueKind.String || value.GetString() is not { Length: > 0 } appId)
        {
            errors.Add("app_id must be a non-empty string.");
            return null;
        }
        if (!isKnownApp(appId))
        {
            errors.Add($"app_id '{appId}' is not a known Heap app (environment) id.");
            return null;
        }
        return appId;
    }

    private static IEnumerable<(JsonElement Item, string Prefix)> ReadItems(JsonElement items, string name, List<string> errors)
    {
        if (items.ValueKind is not JsonValueKind.Array)
        {
            errors.Add($"{name} must be an array.");
            yield break;
        }
        var length = items.GetArrayLength();
        if (length == 0)
        {
            errors.Add($"{name} must contain at least one item.");
            yield break;
        }
        if (length > MaxBatchSize)
        {
            errors.Add($"{name} has {length} items; a bulk request takes at most {MaxBatchSize}.");
            yield break;
        }
        var index = 0;
        foreach (var item in items.EnumerateArray())
        {
            var at = $"{name}[{index++}]";
            if (item.ValueKind is JsonValueKind.Object)
            {
                yield return (item, at + ": ");
            }
            else
            {
                errors.Add($"{at} must be an object.");
            }
        }
    }

    private static TrackedEvent? ReadEvent(JsonElement item, string prefix, DateTimeOffset now, List<string> errors)
    {
        var before = errors.Count;
        var who = ReadWho(item, prefix, errors);
        string? name = null;
        if (!item.TryGetProperty("event", out var value) || value.ValueKind is JsonValueKind.Null)
        {
            errors.Add($"{prefix}event is required.");
        }
        else if (value.ValueKind is not JsonValueKind.String || value.GetString() is not { Length: > 0 } text)
        {
            errors.Add($"{prefix}event must be a non-empty string.");
        }
        else if (text.Length > MaxEventNameLength)
        {
            errors.Add($"{prefix}event has {text.Length} characters; at most {MaxEventNameLength} are allowed.");
        }
        else
        {
            name = text;
        }
        var timestamp = ReadTimestamp(item, prefix, now, errors);
        var properties = ReadProperties(item, prefix, required: false, errors);
        string? idempotencyKey = null;
        if (item.TryGetProperty("idempotency_key", out var key) && key.ValueKind is not JsonValueKind.Null)
        {
            if (key.ValueKind is JsonValueKind.String && key.GetString() is { Length: > 0 } keyText)
            {
                idempotencyKey = keyText;
            }
            else
            {
                errors.Add($"{prefix}idempotency_key must be a non-empty string.");
            }
        }
        return errors.Count == before ? new TrackedEvent(who!, name!, timestamp, properties, idempotencyKey) : null;
    }

    private static UserUpdate? ReadUser(JsonElement item, string prefix, List<string> errors)
    {
        var before = errors.Count;
        var who = ReadWho(item, prefix, errors);
        var properties = ReadProperties(item, prefix, required: true, errors);
        return errors.Count == before ? new UserUpdate(who!, properties) : null;
    }

    private static HeapUser? ReadWho(JsonElement item, string prefix, List<string> errors)
    {
        var hasIdentity = item.TryGetProperty("identity", out var identity) && identity.ValueKind is not JsonValueKind.Null;
        var hasUserId = item.TryGetProperty("user_id", out var userId) && userId.ValueKind is not JsonValueKind.Null;
        if (hasIdentity == hasUserId)
        {
            errors.Add(hasIdentity
                ? $"{prefix}identity and user_id were both given; send exactly one of them."
                : $"{prefix}exactly one of identity or user_id is required.");
            return null;
        }
        if (hasIdentity)
        {
            var text = identity.ValueKind switch
            {
                JsonValueKind.String => identity.GetString(),
                JsonValueKind.Number => identity.GetRawText(),
                _ => null,
            };
            if (text is not { Length: > 0 })
            {
                errors.Add($"{prefix}identity must be a non-empty string.");
                return null;
            }
            if (text.Length > MaxIdentityLength)
            {
                errors.Add($"{prefix}identity has {text.Length} characters; at most {MaxIdentityLength} are allowed.");
                return null;
            }
            return new HeapUser(text, null);
        }
        // Heap's user_id is the numeric id Heap generated for the user; a string of digits is accepted too.
        if (userId.ValueKind is JsonValueKind.Number && userId.TryGetInt64(out var number))
        {
            return new HeapUser(null, number.ToString(CultureInfo.InvariantCulture));
        }
        if (userId.ValueKind is JsonValueKind.String && long.TryParse(userId.GetString(), NumberStyles.None, CultureInfo.InvariantCulture, out number))
        {
            return new HeapUser(null, number.ToString(CultureInfo.InvariantCulture));
        }
        errors.Add($"{prefix}user_id must be an integer (the user id Heap generated).");
        return null;
    }

    private static DateTimeOffset ReadTimestamp(JsonElement item, string prefix, DateTimeOffset now, List<string> errors)
    {
        if (!item.TryGetProperty("timestamp", out var value) || value.ValueKind is JsonValueKind.Null)
        {
            return now;
        }
        if (value.ValueKind is JsonValueKind.String && TryParseIso8601(value.GetString()!, out var timestamp))
        {
            return timestamp;
        }
        errors.Add($"{prefix}timestamp must be an ISO 8601 string such as 2024-05-01T12:30:00Z (got {Shorten(value.GetRawText())}).");
        return now;
    }

    internal static bool TryParseIso8601(string text, out DateTimeOffset timestamp)
    {
        timestamp = default;
        var match = Iso8601().Match(text);
        if (!match.Success)
        {
            return false;
        }
        // .NET parses at most 7 fractional digits; nanosecond timestamps (Go, JavaScript libraries) are valid ISO 8601.
        var fraction = match.Groups["fraction"];
        if (fraction.Success && fraction.Length > 8)
        {
            text = string.Concat(text.AsSpan(0, fraction.Index + 8), text.AsSpan(fraction.Index + fraction.Length));
        }
        return DateTimeOffset.TryParse(
            text.Replace(',', '.'),
            CultureInfo.InvariantCulture,
            DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal,
            out timestamp);
    }

    private static IReadOnlyDictionary<string, JsonElement> ReadProperties(JsonElement item, string prefix, bool required, List<string> errors)
    {
        var properties = new Dictionary<string, JsonElement>(StringComparer.Ordinal);
        if (!item.TryGetProperty("properties", out var value) || value.ValueKind is JsonValueKind.Null)
        {
            if (required)
            {
                errors.Add($"{prefix}properties is required.");
            }
            return properties;
        }
        if (value.ValueKind is not JsonValueKind.Object)
        {
            errors.Add($"{prefix}properties must be an object of property names to numbers or strings.");
            return properties;
        }
        foreach (var property in value.EnumerateObject())
        {
            var path = $"{prefix}properties.{Shorten(property.Name)}";
            if (property.Name.Length is 0 or > MaxPropertyLength)
            {
                errors.Add($"{path}: a property name must have 1 to {MaxPropertyLength} characters.");
                continue;
            }
            if (ReadPropertyValue(property.Value, path, errors) is { } parsed)
            {
                properties[property.Name] = parsed;
            }
        }
        return properties;
    }

    private static JsonElement? ReadPropertyValue(JsonElement value, string path, List<string> errors)
    {
        switch (value.ValueKind)
        {
            case JsonValueKind.Number:
                return value.Clone();
            case JsonValueKind.String:
                var text = value.GetString()!;
                if (text.Length > MaxPropertyLength)
                {
                    errors.Add($"{path} has {text.Length} characters; a string value must have fewer than 1024.");
                    return null;
                }
                return value.Clone();
            case JsonValueKind.Array:
                var parts = new List<string>();
                foreach (var part in value.EnumerateArray())
                {
                    switch (part.ValueKind)
                    {
                        case JsonValueKind.String:
                            parts.Add(part.GetString()!);
                            break;
                        case JsonValueKind.Number:
                            parts.Add(part.GetRawText());
                            break;
                        default:
                            errors.Add($"{path} is an array with {Kind(part)} item; array items must be numbers or strings.");
                            return null;
                    }
                }
                // Heap stores arrays as one string, items joined with "||".
                var joined = string.Join("||", parts);
                if (joined.Length > MaxPropertyLength)
                {
                    errors.Add($"{path} joined with '||' has {joined.Length} characters; a string value must have fewer than 1024.");
                    return null;
                }
                return JsonSerializer.SerializeToElement(joined, InspectionJsonContext.Default.String);
            default:
                errors.Add($"{path} is {Kind(value)}; a property value must be a number or a string (properties are flat).");
                return null;
        }
    }

    private static string Kind(JsonElement value) => value.ValueKind switch
    {
        JsonValueKind.Object => "an object",
        JsonValueKind.Array => "an array",
        JsonValueKind.True or JsonValueKind.False => "a boolean",
        JsonValueKind.Null => "null",
        _ => value.ValueKind.ToString().ToLowerInvariant(),
    };

    private static string Shorten(string text) => text.Length <= 64 ? text : text[..61] + "...";

    private static string Describe(List<string> errors) =>
        errors.Count <= MaxReportedErrors
            ? string.Join(" ", errors)
            : string.Join(" ", errors.Take(MaxReportedErrors)) + $" (and {errors.Count - MaxReportedErrors} more problems)";

    [GeneratedRegex(@"^\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?<fraction>[.,]\d+)?)?(?:Z|z|[+-]\d{2}(?::?\d{2})?)?)?$")]
    private static partial Regex Iso8601();
}

internal readonly record struct ParseResult<T>(T? Value, string? Error) where T : class
{
    public static ParseResult<T> Ok(T value) => new(value, null);

    public static ParseResult<T> Fail(string error) => new(null, error);
}
