using System.Globalization;
using Integration.Ingestion.V1;
using Integration.Segments.V1;

namespace Integration.Ingestion.Segments;

/// <summary>The pure parts of segment evaluation: validation, attribute comparison, windows and counts.</summary>
internal static class SegmentRules
{
    public const int MaxFilters = 50;

    /// <summary>The first problem with a segment definition, naming the field, or null when it is valid.</summary>
    public static string? Validate(SegmentDefinition? segment, string field)
    {
        if (segment is null)
        {
            return null;
        }
        if (segment.Filters.Count > MaxFilters)
        {
            return $"{field}.filters: at most {MaxFilters} filters.";
        }
        for (var i = 0; i < segment.Filters.Count; i++)
        {
            var f = segment.Filters[i];
            var name = $"{field}.filters[{i}]";
            switch (f.KindCase)
            {
                case Filter.KindOneofCase.Attribute:
                    if (string.IsNullOrWhiteSpace(f.Attribute.Attribute))
                    {
                        return $"{name}.attribute.attribute: required.";
                    }
                    if (f.Attribute.Operator == AttributeOperator.Unspecified)
                    {
                        return $"{name}.attribute.operator: required.";
                    }
                    if (f.Attribute.Operator is not (AttributeOperator.Exists or AttributeOperator.NotExists)
                        && (f.Attribute.Value is null || f.Attribute.Value.KindCase == AttributeValue.KindOneofCase.None))
                    {
                        return $"{name}.attribute.value: required for {f.Attribute.Operator}.";
                    }
                    if (f.Attribute.Operator is AttributeOperator.GreaterThan or AttributeOperator.LessThan
                        && f.Attribute.Value.KindCase != AttributeValue.KindOneofCase.NumberValue)
                    {
                        return $"{name}.attribute.value: must be a number for {f.Attribute.Operator}.";
                    }
                    break;
                case Filter.KindOneofCase.Event:
                    var e = f.Event;
                    if (string.IsNullOrWhiteSpace(e.EventName))
                    {
                        return $"{name}.event.event_name: required.";
                    }
                    if (e.Condition == EventCondition.Unspecified)
                    {
                        return $"{name}.event.condition: required.";
                    }
                    if (e.Condition == EventCondition.Count && e.CountOperator == CountOperator.Unspecified)
                    {
                        return $"{name}.event.count_operator: required for EVENT_CONDITION_COUNT.";
                    }
                    if (e.Count < 0)
                    {
                        return $"{name}.event.count: must not be negative.";
                    }
                    if (e.WithinLastMs < 0 || e.FromMs < 0 || e.ToMs < 0)
                    {
                        return $"{name}.event: window bounds must not be negative.";
                    }
                    if (e.ToMs > 0 && e.FromMs > e.ToMs)
                    {
                        return $"{name}.event.from_ms: must not be after to_ms.";
                    }
                    if (e.Condition is EventCondition.FirstTimeInWindow or EventCondition.LastTimeInWindow
                        && e.WithinLastMs == 0 && e.FromMs == 0 && e.ToMs == 0)
                    {
                        return $"{name}.event: {e.Condition} needs a window (within_last_ms, from_ms or to_ms).";
                    }
                    break;
                default:
                    return $"{name}: set either attribute or event.";
            }
        }
        return null;
    }

    /// <summary>The event-time window of a filter at <paramref name="asOfMs"/>, inclusive, and whether there is one.</summary>
    public static (long From, long To, bool Windowed) Window(EventFilter filter, long asOfMs)
    {
        var from = filter.FromMs;
        var to = filter.ToMs > 0 ? filter.ToMs : long.MaxValue;
        if (filter.WithinLastMs > 0)
        {
            from = Math.Max(from, asOfMs - filter.WithinLastMs);
            to = Math.Min(to, asOfMs);
        }
        return (from, to, filter.WithinLastMs > 0 || filter.FromMs > 0 || filter.ToMs > 0);
    }

    public static bool MatchesCount(EventFilter filter, long count) => filter.Condition switch
    {
        EventCondition.Did => count > 0,
        EventCondition.DidNot => count == 0,
        EventCondition.Count => filter.CountOperator switch
        {
            CountOperator.AtLeast => count >= filter.Count,
            CountOperator.AtMost => count <= filter.Count,
            CountOperator.Exactly => count == filter.Count,
            _ => false,
        },
        _ => false,
    };

    public static bool MatchesAttribute(AttributeValue? actual, AttributeOperator op, AttributeValue? operand)
    {
        var present = actual is not null && actual.KindCase != AttributeValue.KindOneofCase.None;
        return op switch
        {
            AttributeOperator.Exists => present,
            AttributeOperator.NotExists => !present,
            AttributeOperator.Equals => present && AreEqual(actual!, operand),
            AttributeOperator.NotEquals => !present || !AreEqual(actual!, operand),
            AttributeOperator.Contains => present && operand is not null
                && Text(actual!).Contains(Text(operand), StringComparison.OrdinalIgnoreCase),
            AttributeOperator.GreaterThan => present && Number(actual!) is { } a && Number(operand) is { } b && a > b,
            AttributeOperator.LessThan => present && Number(actual!) is { } c && Number(operand) is { } d && c < d,
            _ => false,
        };
    }

    private static bool AreEqual(AttributeValue actual, AttributeValue? operand)
    {
        if (operand is null)
        {
            return false;
        }
        if (operand.KindCase == AttributeValue.KindOneofCase.NumberValue && Number(actual) is { } n)
        {
            return n == operand.NumberValue;
        }
        return string.Equals(Text(actual), Text(operand), StringComparison.OrdinalIgnoreCase);
    }

    private static string Text(AttributeValue value) => value.KindCase switch
    {
        AttributeValue.KindOneofCase.StringValue => value.StringValue,
        AttributeValue.KindOneofCase.NumberValue => value.NumberValue.ToString("R", CultureInfo.InvariantCulture),
        AttributeValue.KindOneofCase.BoolValue => value.BoolValue ? "true" : "false",
        _ => "",
    };

    private static double? Number(AttributeValue? value) => value?.KindCase switch
    {
        AttributeValue.KindOneofCase.NumberValue => value.NumberValue,
        AttributeValue.KindOneofCase.StringValue when double.TryParse(value.StringValue, NumberStyles.Float, CultureInfo.InvariantCulture, out var d) => d,
        _ => null,
    };
}
