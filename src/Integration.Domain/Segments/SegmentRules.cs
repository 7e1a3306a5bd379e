using Integration.Common.V1;

namespace Integration.Domain.Segments;

/// <summary>
/// The one implementation of segment definitions: validation (every problem names its path in the definition,
/// e.g. <c>segment.filters[1].group.filters[0].attribute.value</c>) and evaluation over a user's
/// <see cref="IUserFacts"/>. Ingestion evaluates with it on its keyspace, campaigns validate audiences with it.
/// </summary>
public static class SegmentRules
{
    /// <summary>Groups nested in one another, the root included.</summary>
    public const int MaxDepth = 4;
    /// <summary>Attribute, event and Heap segment conditions in one definition, over all groups.</summary>
    public const int MaxConditions = 50;
    public const int MaxPropertyFilters = 10;
    public const int MaxEventNameLength = 1024;
    /// <summary>Retained events read for one event condition with property filters.</summary>
    public const int MaxEventsExamined = 10_000;
    private const long DayMs = 86_400_000;

    /// <summary>The first problem with a definition, naming the field under <paramref name="path"/>, or null when valid.</summary>
    public static string? Validate(SegmentDefinition? segment, string path)
    {
        if (segment is null)
        {
            return null;
        }
        var conditions = 0;
        return ValidateFilters(segment.Filters, path, depth: 1, ref conditions, allowEmpty: true);
    }

    private static string? ValidateFilters(IReadOnlyList<Filter> filters, string path, int depth, ref int conditions, bool allowEmpty)
    {
        if (filters.Count == 0 && !allowEmpty)
        {
            return $"{path}.filters: a group needs 1 to {MaxConditions} filters.";
        }
        if (filters.Count > MaxConditions)
        {
            return $"{path}.filters: at most {MaxConditions}.";
        }
        for (var i = 0; i < filters.Count; i++)
        {
            var name = $"{path}.filters[{i}]";
            var f = filters[i];
            if (f.KindCase != Filter.KindOneofCase.Group && ++conditions > MaxConditions)
            {
                return $"{name}: at most {MaxConditions} conditions in a segment.";
            }
            var problem = f.KindCase switch
            {
                Filter.KindOneofCase.Attribute => AttributeRules.Problem(f.Attribute, name + ".attribute"),
                Filter.KindOneofCase.Event => EventProblem(f.Event, name + ".event"),
                Filter.KindOneofCase.HeapSegment => HeapSegmentProblem(f.HeapSegment, name + ".heap_segment"),
                Filter.KindOneofCase.Group when depth >= MaxDepth => $"{name}.group: groups nest at most {MaxDepth} deep (the segment itself is one).",
                Filter.KindOneofCase.Group => ValidateFilters(f.Group.Filters, name + ".group", depth + 1, ref conditions, allowEmpty: false),
                _ => $"{name}: set one of attribute, event, group, heap_segment.",
            };
            if (problem is not null)
            {
                return problem;
            }
        }
        return null;
    }

    private static string? HeapSegmentProblem(HeapSegmentFilter filter, string path) =>
        string.IsNullOrWhiteSpace(filter.SegmentId) ? $"{path}.segment_id: required."
        : filter.SegmentId.Length > AttributeRules.MaxNameLength ? $"{path}.segment_id: at most {AttributeRules.MaxNameLength} characters."
        : null;

    private static string? EventProblem(EventFilter e, string path)
    {
        if (string.IsNullOrWhiteSpace(e.EventName))
        {
            return $"{path}.event_name: required.";
        }
        if (e.EventName.Length > MaxEventNameLength)
        {
            return $"{path}.event_name: at most {MaxEventNameLength} characters.";
        }
        if (e.Condition == EventCondition.Unspecified || !Enum.IsDefined(e.Condition))
        {
            return $"{path}.condition: required (one of the EVENT_CONDITION_ values).";
        }
        if (e.Condition == EventCondition.Count)
        {
            if (e.CountOperator == CountOperator.Unspecified || !Enum.IsDefined(e.CountOperator))
            {
                return $"{path}.count_operator: required for EVENT_CONDITION_COUNT.";
            }
            if (e.Count < 0)
            {
                return $"{path}.count: must not be negative.";
            }
            if (e.CountOperator == CountOperator.Between && e.CountTo < e.Count)
            {
                return $"{path}.count_to: the upper bound of COUNT_OPERATOR_BETWEEN, not below count.";
            }
        }
        if (e.WithinLastMs < 0 || e.FromMs < 0 || e.ToMs < 0)
        {
            return $"{path}: within_last_ms, from_ms and to_ms must not be negative.";
        }
        if (e.WithinLastDays is < 0 or > AttributeRules.MaxDays)
        {
            return $"{path}.within_last_days: 1 to {AttributeRules.MaxDays} (0: none).";
        }
        if (e.WithinLastDays > 0 && e.WithinLastMs > 0)
        {
            return $"{path}.within_last_days: set within_last_days or within_last_ms, not both.";
        }
        if (e.ToMs > 0 && e.FromMs > e.ToMs)
        {
            return $"{path}.from_ms: must not be after to_ms.";
        }
        var windowed = e.WithinLastMs > 0 || e.WithinLastDays > 0 || e.FromMs > 0 || e.ToMs > 0;
        if (e.Condition is EventCondition.FirstTimeInWindow or EventCondition.LastTimeInWindow)
        {
            if (!windowed)
            {
                return $"{path}: {ProtoNames.Of(e.Condition)} needs a window (within_last_days, within_last_ms, from_ms or to_ms).";
            }
            if (e.PropertyFilters.Count > 0)
            {
                return $"{path}.property_filters: not with {ProtoNames.Of(e.Condition)} (first and last times are all-time aggregates).";
            }
        }
        if (e.PropertyFilters.Count > MaxPropertyFilters)
        {
            return $"{path}.property_filters: at most {MaxPropertyFilters}.";
        }
        for (var i = 0; i < e.PropertyFilters.Count; i++)
        {
            if (AttributeRules.Problem(e.PropertyFilters[i], $"{path}.property_filters[{i}]") is { } problem)
            {
                return problem;
            }
        }
        return null;
    }

    /// <summary>Whether the user matches a valid definition at <paramref name="asOfMs"/> (relative windows end there).</summary>
    public static ValueTask<bool> MatchesAsync(SegmentDefinition segment, IUserFacts user, long asOfMs) =>
        segment.Filters.Count == 0 ? ValueTask.FromResult(true) : MatchesGroupAsync(segment.Filters, segment.MatchAny, user, asOfMs);

    private static async ValueTask<bool> MatchesGroupAsync(IReadOnlyList<Filter> filters, bool matchAny, IUserFacts user, long asOfMs)
    {
        // Conditions answered from the loaded profile go first: AND and OR do not depend on the order, and most
        // users are decided before any event history is read.
        foreach (var filter in filters)
        {
            if (filter.KindCase is Filter.KindOneofCase.Attribute or Filter.KindOneofCase.HeapSegment
                && MatchesNow(filter, user, asOfMs) == matchAny)
            {
                return matchAny;
            }
        }
        foreach (var filter in filters)
        {
            var hit = filter.KindCase switch
            {
                Filter.KindOneofCase.Event => await MatchesEventAsync(filter.Event, user, asOfMs),
                Filter.KindOneofCase.Group => await MatchesGroupAsync(filter.Group.Filters, filter.Group.MatchAny, user, asOfMs) != filter.Group.Negate,
                _ => !matchAny,
            };
            if (hit == matchAny)
            {
                return matchAny;
            }
        }
        return !matchAny;
    }

    private static bool MatchesNow(Filter filter, IUserFacts user, long asOfMs) => filter.KindCase switch
    {
        Filter.KindOneofCase.Attribute => AttributeRules.Matches(filter.Attribute, user.Attribute(filter.Attribute.Attribute), asOfMs),
        Filter.KindOneofCase.HeapSegment => user.InHeapSegment(filter.HeapSegment.SegmentId) != filter.HeapSegment.NotIn,
        _ => false,
    };

    /// <summary>The event-time window of a condition at <paramref name="asOfMs"/>, inclusive, and whether it has one.</summary>
    public static (long From, long To, bool Windowed) Window(EventFilter filter, long asOfMs)
    {
        var from = filter.FromMs;
        var to = filter.ToMs > 0 ? filter.ToMs : long.MaxValue;
        var relative = filter.WithinLastMs > 0 ? filter.WithinLastMs : filter.WithinLastDays * DayMs;
        if (relative > 0)
        {
            from = Math.Max(from, asOfMs - relative);
            to = Math.Min(to, asOfMs);
        }
        return (from, to, relative > 0 || filter.FromMs > 0 || filter.ToMs > 0);
    }

    private static async ValueTask<bool> MatchesEventAsync(EventFilter filter, IUserFacts user, long asOfMs)
    {
        var aggregate = user.Aggregate(filter.EventName);
        var (from, to, windowed) = Window(filter, asOfMs);
        switch (filter.Condition)
        {
            case EventCondition.FirstTimeInWindow:
                return aggregate.Count > 0 && aggregate.FirstTimeMs >= from && aggregate.FirstTimeMs <= to;
            case EventCondition.LastTimeInWindow:
                return aggregate.Count > 0 && aggregate.LastTimeMs >= from && aggregate.LastTimeMs <= to;
        }

        long count;
        if (aggregate.Count == 0 || (windowed && (aggregate.LastTimeMs < from || aggregate.FirstTimeMs > to)))
        {
            count = 0;
        }
        else if (filter.PropertyFilters.Count > 0)
        {
            // Properties live only on retained events; with a window they are read for the window alone.
            var events = await user.EventsAsync(filter.EventName, from, to);
            count = events.Count(e => filter.PropertyFilters.All(p => AttributeRules.Matches(p, e.Properties.GetValueOrDefault(p.Attribute), asOfMs)));
        }
        else
        {
            count = windowed ? await user.CountAsync(filter.EventName, from, to) : aggregate.Count;
        }
        return MatchesCount(filter, count);
    }

    private static bool MatchesCount(EventFilter filter, long count) => filter.Condition switch
    {
        EventCondition.Did => count > 0,
        EventCondition.DidNot => count == 0,
        EventCondition.Count => filter.CountOperator switch
        {
            CountOperator.AtLeast => count >= filter.Count,
            CountOperator.AtMost => count <= filter.Count,
            CountOperator.Exactly => count == filter.Count,
            CountOperator.Between => count >= filter.Count && count <= filter.CountTo,
            _ => false,
        },
        _ => false,
    };
}
