using Integration.Common.V1;

namespace Integration.Domain.Segments;

/// <summary>
/// What segment evaluation may know about one user. The owner of the user keyspace (ingestion) implements it over
/// its storage; <see cref="SegmentRules"/> never sees a key. Times are Unix milliseconds of event time.
/// </summary>
public interface IUserFacts
{
    /// <summary>A profile attribute as stored, or null when the user has none of that name.</summary>
    AttributeValue? Attribute(string name);

    /// <summary>The user's all-time aggregate of one event (count 0 when never done).</summary>
    EventAggregate Aggregate(string eventName);

    /// <summary>Whether the user is a member of the Heap segment (synced from Heap; false while nothing is synced).</summary>
    bool InHeapSegment(string segmentId);

    /// <summary>
    /// How many times the user did the event with an event time in [<paramref name="fromMs"/>, <paramref name="toMs"/>]
    /// (inclusive), as far as the workspace's retention reaches; the store may answer from per-day counters.
    /// </summary>
    ValueTask<long> CountAsync(string eventName, long fromMs, long toMs);

    /// <summary>
    /// The user's retained events of one name with event times in [<paramref name="fromMs"/>, <paramref name="toMs"/>],
    /// with their properties (at most <see cref="SegmentRules.MaxEventsExamined"/>, oldest first).
    /// </summary>
    ValueTask<IReadOnlyList<RetainedEvent>> EventsAsync(string eventName, long fromMs, long toMs);
}

/// <summary>Per-event aggregates: how often, and the first and last event time.</summary>
public readonly record struct EventAggregate(long Count, long FirstTimeMs, long LastTimeMs);

/// <summary>One retained event: its time and properties.</summary>
public sealed record RetainedEvent(long TimeMs, IReadOnlyDictionary<string, AttributeValue> Properties);
