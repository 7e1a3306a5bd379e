using System.Text.Json;
using System.Text.Json.Serialization;

namespace Integration.HeapEmulator.Inspection;

// The emulator's own API (/_emulator/*), public so that other projects' tests can read it typed.
// On the wire every name is snake_case.

/// <summary>One event as the emulator recorded it.</summary>
/// <param name="Timestamp">The event's time: the request's <c>timestamp</c>, or the receive time when absent.</param>
/// <param name="Properties">Numbers and strings as sent; arrays already joined with <c>||</c>.</param>
/// <param name="TraceId">W3C trace id of the request that delivered it.</param>
public sealed record RecordedEvent(
    string AppId,
    string? Identity,
    string? UserId,
    string Event,
    DateTimeOffset Timestamp,
    IReadOnlyDictionary<string, JsonElement> Properties,
    string? IdempotencyKey,
    DateTimeOffset ReceivedAt,
    string? TraceId);

/// <summary>One user property update as the emulator recorded it (updates are kept, not merged).</summary>
public sealed record RecordedUser(
    string AppId,
    string? Identity,
    string? UserId,
    IReadOnlyDictionary<string, JsonElement> Properties,
    DateTimeOffset ReceivedAt,
    string? TraceId);

public sealed record EventsPage(int Count, IReadOnlyList<RecordedEvent> Events);

public sealed record UsersPage(int Count, IReadOnlyList<RecordedUser> Users);

/// <param name="Accepted">Requests answered 200 by Heap's API.</param>
/// <param name="Rejected">Every other answer by status code, injected faults included.</param>
/// <param name="IdempotentRepeats">Events not recorded because their idempotency key was seen before.</param>
public sealed record EmulatorStats(
    long Accepted,
    IReadOnlyDictionary<string, long> Rejected,
    long IdempotentRepeats,
    long FaultsInjected,
    long DroppedConnections,
    int EventsRecorded,
    long EventsEvicted,
    int UsersRecorded,
    long UsersEvicted);

public sealed record AppRegistration(string AppId);

public sealed record AppList(IReadOnlyList<string> Apps);

/// <summary>
/// A fault for the next requests to <c>/api/*</c>: a status (with optional Retry-After), latency, or a
/// dropped connection, for <see cref="Count"/> requests or <see cref="Percent"/> of them (both: the first
/// <see cref="Count"/> faults at that rate; neither: every request until cleared).
/// </summary>
public sealed record FaultRequest(
    int? Status = null,
    int? Count = null,
    int? Percent = null,
    int? RetryAfterSeconds = null,
    int? LatencyMs = null,
    bool? DropConnection = null);

/// <param name="Remaining">Faults left to inject, or null for until cleared.</param>
public sealed record FaultRule(
    int Id,
    int? Status,
    int? RetryAfterSeconds,
    int LatencyMs,
    bool DropConnection,
    int Percent,
    int? Remaining);

public sealed record FaultList(IReadOnlyList<FaultRule> Faults);

/// <summary>Body of every non-200 answer.</summary>
public sealed record HeapError(string Error);

[JsonSourceGenerationOptions(
    JsonSerializerDefaults.Web,
    PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower,
    UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow)]
[JsonSerializable(typeof(EventsPage))]
[JsonSerializable(typeof(UsersPage))]
[JsonSerializable(typeof(EmulatorStats))]
[JsonSerializable(typeof(AppRegistration))]
[JsonSerializable(typeof(AppList))]
[JsonSerializable(typeof(FaultRequest))]
[JsonSerializable(typeof(FaultRule))]
[JsonSerializable(typeof(FaultList))]
[JsonSerializable(typeof(HeapError))]
[JsonSerializable(typeof(string))]
internal sealed partial class InspectionJsonContext : JsonSerializerContext;
