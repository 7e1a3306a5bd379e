using System.Text.Json;
using Integration.Common.V1;
using Integration.Domain;
using Integration.Ingestion.V1;

namespace Integration.Edge.Webhooks;

/// <summary>One problem with a payload, named by the attribute it concerns.</summary>
internal readonly record struct FieldError(string Attribute, string Message);

/// <summary>A payload that passed validation, ready for ingestion.</summary>
internal sealed record ParsedPayload(UserRecord User, EventRecord? Event);

/// <summary>
/// Validates Heap's webhook bodies (DESIGN §3) and maps them to ingestion records. Every problem is
/// collected, so one 400 names all offending fields.
/// </summary>
internal static class HeapPayloadParser
{
    public const string UserAttributesKey = "user_attributes";
    public const string EventAttributesKey = "event_attributes";
    public const string EventNameKey = "event_name";

    /// <summary>Keys every payload must have; only customer_id and updated_at must have a value.</summary>
    public static readonly string[] RequiredKeys = ["customer_id", "updated_at", "first_name", "last_name", "email", "phone"];

    // Where an event's own time may be given; without one, the payload's updated_at is the event time.
    private static readonly string[] EventTimeKeys = ["event_time", "timestamp", "time"];

    public static ParsedPayload? Parse(JsonElement root, HeapModule module, EdgeConfig config, long nowMs, EdgeOptions options, List<FieldError> errors)
    {
        if (root.ValueKind is not JsonValueKind.Object)
        {
            errors.Add(new("body", "must be a JSON object"));
            return null;
        }

        foreach (var key in RequiredKeys)
        {
            if (!root.TryGetProperty(key, out _))
            {
                errors.Add(new(key, "is required"));
            }
        }

        var maxFutureMs = nowMs + options.FutureSkewSeconds * 1000L;
        var user = new UserRecord();
        string? customerId = null;
        long updatedAt = 0;
        JsonElement eventAttributes = default;
        var attributeCount = 0;

        foreach (var property in root.EnumerateObject())
        {
            var name = property.Name;
            var value = property.Value;
            switch (name)
            {
                case "customer_id":
                    customerId = ReadCustomerId(value, (IdentifierKind)config.IdentifierKind, errors);
                    break;
                case "updated_at":
                    updatedAt = ReadTimestamp(value, name, maxFutureMs, errors);
                    break;
                case UserAttributesKey:
                    if (value.ValueKind is JsonValueKind.Object)
                    {
                        ReadFlatObject(value, name, user.Attributes, errors, ref attributeCount);
                    }
                    else if (value.ValueKind is not JsonValueKind.Null)
                    {
                        errors.Add(new(name, "must be a JSON object"));
                    }
                    break;
                case EventAttributesKey:
                    if (!module.CarriesEvents())
                    {
                        errors.Add(new(name, "belongs in the events, sessions or custom-properties webhook, not the user webhook"));
                    }
                    else if (value.ValueKind is JsonValueKind.Object)
                    {
                        eventAttributes = value;
                    }
                    else
                    {
                        errors.Add(new(name, "must be a JSON object"));
                    }
                    break;
                default:
                    if (value.ValueKind is JsonValueKind.Object)
                    {
                        errors.Add(new(name, $"nested objects are only accepted in '{UserAttributesKey}' and '{EventAttributesKey}'"));
                    }
                    else if (TryReadScalar(value, name, errors, out var scalar) && scalar is not null)
                    {
                        user.Attributes[name] = scalar;
                        attributeCount++;
                    }
                    break;
            }
        }

        EventRecord? eventRecord = null;
        if (module.CarriesEvents())
        {
            eventRecord = ReadEvent(root, eventAttributes, config, updatedAt, maxFutureMs, errors, ref attributeCount);
        }

        if (attributeCount > options.MaxAttributes)
        {
            errors.Add(new("body", $"carries {attributeCount} attributes; at most {options.MaxAttributes} are accepted"));
        }
        if (errors.Count > 0 || customerId is null)
        {
            return null;
        }

        user.CustomerId = customerId;
        user.UpdatedAtMs = updatedAt;
        if (eventRecord is not null)
        {
            eventRecord.User = user;
        }
        return new ParsedPayload(user, eventRecord);
    }

    private static EventRecord? ReadEvent(JsonElement root, JsonElement attributes, EdgeConfig config, long updatedAt, long maxFutureMs,
        List<FieldError> errors, ref int attributeCount)
    {
        if (attributes.ValueKind is not JsonValueKind.Object)
        {
            if (!root.TryGetProperty(EventAttributesKey, out _))
            {
                errors.Add(new(EventAttributesKey, "is required for events"));
            }
            return null;
        }

        var record = new EventRecord();
        string? eventName = null;
        long eventTime = 0;
        foreach (var property in attributes.EnumerateObject())
        {
            var path = $"{EventAttributesKey}.{property.Name}";
            if (property.Name == EventNameKey)
            {
                if (property.Value.ValueKind is JsonValueKind.String && property.Value.GetString() is { } text && text.Trim().Length is > 0 and <= 1024)
                {
                    eventName = text.Trim();
                }
                else
                {
                    errors.Add(new(path, "must be a non-empty string of at most 1024 characters"));
                }
            }
            else if (eventTime == 0 && Array.IndexOf(EventTimeKeys, property.Name) >= 0)
            {
                eventTime = ReadTimestamp(property.Value, path, maxFutureMs, errors);
            }
            else if (TryReadScalar(property.Value, path, errors, out var scalar) && scalar is not null)
            {
                record.Attributes[property.Name] = scalar;
                attributeCount++;
            }
        }

        if (eventName is null && !attributes.TryGetProperty(EventNameKey, out _))
        {
            errors.Add(new($"{EventAttributesKey}.{EventNameKey}", "is required"));
        }
        if (eventName is null)
        {
            return null;
        }

        record.EventName = config.EventNameMapping.TryGetValue(eventName, out var mapped) ? mapped : eventName;
        record.EventTimeMs = eventTime > 0 ? eventTime : updatedAt;
        return record;
    }

    private static string? ReadCustomerId(JsonElement value, IdentifierKind kind, List<FieldError> errors)
    {
        string? raw = value.ValueKind switch
        {
            JsonValueKind.String => value.GetString(),
            JsonValueKind.Number => value.GetRawText(),
            _ => null,
        };
        if (raw is null)
        {
            errors.Add(new("customer_id", "must be a non-empty string"));
            return null;
        }
        if (!Identifiers.TryNormalize(raw, kind, out var normalized, out var problem))
        {
            errors.Add(new("customer_id", problem));
            return null;
        }
        return normalized;
    }

    private static long ReadTimestamp(JsonElement value, string attribute, long maxFutureMs, List<FieldError> errors)
    {
        if (!Timestamps.TryParse(value, out var ms))
        {
            errors.Add(new(attribute, "must be an ISO 8601 timestamp or epoch seconds/milliseconds"));
            return 0;
        }
        if (ms > maxFutureMs)
        {
            errors.Add(new(attribute, "is in the future"));
            return 0;
        }
        return ms;
    }

    private static void ReadFlatObject(JsonElement obj, string path, Google.Protobuf.Collections.MapField<string, AttributeValue> into,
        List<FieldError> errors, ref int attributeCount)
    {
        foreach (var property in obj.EnumerateObject())
        {
            if (TryReadScalar(property.Value, $"{path}.{property.Name}", errors, out var scalar) && scalar is not null)
            {
                into[property.Name] = scalar;
                attributeCount++;
            }
        }
    }

    /// <summary>A string, number or boolean; null values are skipped (they never erase stored data).</summary>
    internal static bool TryReadScalar(JsonElement value, string path, List<FieldError> errors, out AttributeValue? scalar)
    {
        scalar = null;
        var name = path[(path.LastIndexOf('.') + 1)..];
        if (name.Length is 0 or > 256)
        {
            errors.Add(new(path, "attribute names must be 1-256 characters"));
            return false;
        }
        switch (value.ValueKind)
        {
            case JsonValueKind.String:
                var text = value.GetString()!;
                if (text.Length > 0)
                {
                    scalar = new AttributeValue { StringValue = text };
                }
                return true;
            case JsonValueKind.Number:
                if (!value.TryGetDouble(out var number) || !double.IsFinite(number))
                {
                    errors.Add(new(path, "is not a finite number"));
                    return false;
                }
                scalar = new AttributeValue { NumberValue = number };
                return true;
            case JsonValueKind.True:
            case JsonValueKind.False:
                scalar = new AttributeValue { BoolValue = value.GetBoolean() };
                return true;
            case JsonValueKind.Null:
                return true;
            case JsonValueKind.Array:
                errors.Add(new(path, "arrays are not accepted (Heap sends strings, numbers or booleans)"));
                return false;
            default:
                errors.Add(new(path, "nesting deeper than one level is not accepted"));
                return false;
        }
    }
}
