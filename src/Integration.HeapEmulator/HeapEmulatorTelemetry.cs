using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Globalization;

namespace Integration.HeapEmulator;

/// <summary>The emulator's spans and metrics; ServiceDefaults exports everything named <c>Integration.*</c>.</summary>
internal sealed class HeapEmulatorTelemetry
{
    public const string Name = "Integration.HeapEmulator";

    public static readonly ActivitySource ActivitySource = new(Name);

    private readonly Counter<long> _requests;
    private readonly Counter<long> _recordedEvents;
    private readonly Counter<long> _recordedUsers;
    private readonly Counter<long> _idempotentRepeats;

    public HeapEmulatorTelemetry(IMeterFactory meterFactory)
    {
        var meter = meterFactory.Create(Name);
        _requests = meter.CreateCounter<long>("integration.heap_emulator.requests", "{request}",
            "Requests to Heap's API by endpoint and answered status (\"dropped\" for dropped connections).");
        _recordedEvents = meter.CreateCounter<long>("integration.heap_emulator.events.recorded", "{event}", "Events recorded.");
        _recordedUsers = meter.CreateCounter<long>("integration.heap_emulator.users.recorded", "{user}", "User property updates recorded.");
        _idempotentRepeats = meter.CreateCounter<long>("integration.heap_emulator.idempotent_repeats", "{event}",
            "Events not recorded because their idempotency key was seen before.");
    }

    public void Request(string endpoint, int status) =>
        _requests.Add(1, new("endpoint", endpoint), new("status", StatusTag(status)));

    public void Dropped(string endpoint) =>
        _requests.Add(1, new("endpoint", endpoint), new("status", "dropped"));

    public void Recorded(string endpoint, int count, int repeats)
    {
        (endpoint == ApiEndpoints.Track ? _recordedEvents : _recordedUsers).Add(count);
        if (repeats > 0)
        {
            _idempotentRepeats.Add(repeats);
        }
    }

    // HTTP status codes are a closed set, so the tag stays bounded whatever faults people inject.
    private static string StatusTag(int status) =>
        status is >= 100 and <= 599 ? status.ToString(CultureInfo.InvariantCulture) : "other";
}

/// <summary>The two Heap endpoints, as tag values and limiter scopes.</summary>
internal static class ApiEndpoints
{
    public const string Track = "track";
    public const string AddUserProperties = "add_user_properties";

    public static string FromPath(PathString path) =>
        path.StartsWithSegments("/api/track") ? Track
        : path.StartsWithSegments("/api/add_user_properties") ? AddUserProperties
        : "other";
}
