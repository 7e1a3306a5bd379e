using Integration.Common.V1;
using Integration.Ingestion.V1;
using Integration.Templates;

namespace Integration.Campaigns.Templates;

/// <summary>The roots of one render, built lazily from the model: nothing is converted that the template does not read.</summary>
internal sealed class TemplateRoots(TemplateModel model) : IReadOnlyDictionary<string, object?>
{
    private AttributeBag? _user;
    private AttributeBag? _event;
    private AttributeBag? _business;
    private UsageBag? _usage;
    private CampaignBag? _campaign;
    private List<object?>? _segments;

    public bool TryGetValue(string key, out object? value)
    {
        value = key switch
        {
            "UserAttribute" => _user ??= new AttributeBag("UserAttribute", model.UserAttributes, model.CustomerId),
            "EventAttribute" => _event ??= new AttributeBag("EventAttribute", model.EventAttributes, null),
            "BusinessEventAttribute" or "BusinessEvent" => _business ??= new AttributeBag("BusinessEventAttribute", model.BusinessEventAttributes, null),
            "UserEvent" => _usage ??= new UsageBag(model.UserEvents),
            "HeapSegments" => _segments ??= model.HeapSegments.Select(s => (object?)new HeapSegmentBag(s)).ToList(),
            "Campaign" => _campaign ??= new CampaignBag(model.CampaignId, model.CampaignName),
            "CustomerId" => model.CustomerId,
            _ => null,
        };
        return value is not null;
    }

    public object? this[string key] => TryGetValue(key, out var value) ? value : throw new KeyNotFoundException(key);

    public IEnumerable<string> Keys => TemplateEngine.Roots;

    public IEnumerable<object?> Values => Keys.Select(k => this[k]);

    public int Count => TemplateEngine.Roots.Count;

    public bool ContainsKey(string key) => TemplateEngine.Roots.Contains(key);

    public IEnumerator<KeyValuePair<string, object?>> GetEnumerator() => Keys.Select(k => new KeyValuePair<string, object?>(k, this[k])).GetEnumerator();

    System.Collections.IEnumerator System.Collections.IEnumerable.GetEnumerator() => GetEnumerator();

    /// <summary>A Heap attribute as a template value: integral numbers print as integers (42, not 42.0).</summary>
    public static object? From(AttributeValue value) => value.KindCase switch
    {
        AttributeValue.KindOneofCase.StringValue => value.StringValue,
        AttributeValue.KindOneofCase.NumberValue when value.NumberValue == Math.Floor(value.NumberValue) && Math.Abs(value.NumberValue) < 9e15 =>
            (long)value.NumberValue,
        AttributeValue.KindOneofCase.NumberValue => value.NumberValue,
        AttributeValue.KindOneofCase.BoolValue => value.BoolValue,
        _ => null,
    };
}

/// <summary>
/// <c>UserAttribute['First Name']</c>, <c>EventAttribute.order_id</c>: case-insensitive lookups; a missing (or null)
/// value is a tracked undefined, so printing it without a default skips the user.
/// </summary>
internal sealed class AttributeBag(string name, IReadOnlyDictionary<string, AttributeValue> attributes, string? customerId) : ITemplateObject
{
    public object? Get(string key)
    {
        if (TryFind(key, out var value) || (TemplateEngine.StandardNames.TryGetValue(key, out var heapKey) && TryFind(heapKey, out value)))
        {
            return TemplateRoots.From(value) ?? Undefined.Missing($"{name}['{key}']");
        }
        if (customerId is not null && (key.Equals("ID", StringComparison.OrdinalIgnoreCase) || key.Equals("customer_id", StringComparison.OrdinalIgnoreCase)))
        {
            return customerId;
        }
        return Undefined.Missing($"{name}['{key}']");
    }

    private bool TryFind(string key, out AttributeValue value)
    {
        if (attributes.TryGetValue(key, out value!))
        {
            return true;
        }
        foreach (var (k, v) in attributes)
        {
            if (k.Equals(key, StringComparison.OrdinalIgnoreCase))
            {
                value = v;
                return true;
            }
        }
        return false;
    }

    public IEnumerable<string> Keys => attributes.Where(a => a.Value.KindCase != AttributeValue.KindOneofCase.None).Select(a => a.Key);
}

/// <summary><c>UserEvent['Session Started'].count</c>: usage intensity; an event the user never did has count 0.</summary>
internal sealed class UsageBag(IReadOnlyList<EventStats> events) : ITemplateObject
{
    private StatsBag? _last;

    public object? Get(string key)
    {
        // Templates read the same event several times in a row (a tiered offer): keep the last one.
        if (_last is not null && _last.EventName == key)
        {
            return _last;
        }
        foreach (var stats in events)
        {
            if (stats.EventName == key)
            {
                return _last = new StatsBag(stats);
            }
        }
        return _last = new StatsBag(new EventStats { EventName = key });
    }

    public IEnumerable<string> Keys => events.Select(e => e.EventName);
}

internal sealed class StatsBag(EventStats stats) : ITemplateObject
{
    private readonly object _count = stats.Count;

    public string EventName => stats.EventName;

    private static readonly string[] WithTimes = ["count", "first_time_ms", "last_time_ms", "first_time", "last_time"];

    public object? Get(string key) => key.ToLowerInvariant() switch
    {
        "count" => _count,
        "first_time_ms" when stats.Count > 0 => stats.FirstTimeMs,
        "last_time_ms" when stats.Count > 0 => stats.LastTimeMs,
        "first_time" when stats.Count > 0 => TemplateEngine.Iso(stats.FirstTimeMs),
        "last_time" when stats.Count > 0 => TemplateEngine.Iso(stats.LastTimeMs),
        _ => Undefined.Missing($"UserEvent['{stats.EventName}'].{key}"),
    };

    public IEnumerable<string> Keys => stats.Count > 0 ? WithTimes : ["count"];
}

/// <summary>
/// One entry of <c>HeapSegments</c>, the list of Heap segments the user is in:
/// <c>"Cart abandoners" in HeapSegments | map(attribute="name")</c>.
/// </summary>
internal sealed class HeapSegmentBag(HeapSegmentMembership membership) : ITemplateObject
{
    private static readonly string[] Names = ["id", "name", "since", "since_ms"];

    public object? Get(string key) => key.ToLowerInvariant() switch
    {
        "id" => membership.SegmentId,
        "name" => membership.Name,
        "since" => TemplateEngine.Iso(membership.SinceMs),
        "since_ms" => membership.SinceMs,
        _ => Undefined.Missing($"HeapSegments[].{key}"),
    };

    public IEnumerable<string> Keys => Names;
}

internal sealed class CampaignBag(string id, string name) : ITemplateObject
{
    public object? Get(string key) => key.ToLowerInvariant() switch
    {
        "id" => id,
        "name" => name,
        _ => Undefined.Missing($"Campaign.{key}"),
    };

    public IEnumerable<string> Keys => ["id", "name"];
}
