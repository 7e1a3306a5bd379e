namespace Integration.Edge.Webhooks;

/// <summary>
/// Heap's sync modules, one webhook path each (the segment after /v1/partner/heap-analytics/). The values are those of
/// integration.admin.v1.SyncModule, which the config lists and the stored event records.
/// </summary>
internal enum HeapModule
{
    /// <summary>Users → Users: <c>/user/</c>.</summary>
    User = 1,
    /// <summary>Events → Events: <c>/events/</c>.</summary>
    Events = 2,
    /// <summary>Sessions data → Events: <c>/sessions/</c>.</summary>
    Sessions = 3,
    /// <summary>Custom properties → Events: <c>/custom-properties/</c>.</summary>
    CustomProperties = 4,
}

internal static class HeapModules
{
    /// <summary>Every module's path segment, as the unknown-module answer lists them.</summary>
    public const string Paths = "/user/, /events/, /sessions/ or /custom-properties/";

    public static HeapModule? FromPath(string segment) => segment switch
    {
        "user" => HeapModule.User,
        "events" => HeapModule.Events,
        "sessions" => HeapModule.Sessions,
        "custom-properties" => HeapModule.CustomProperties,
        _ => null,
    };

    public static string PathOf(HeapModule module) => module switch
    {
        HeapModule.User => "user",
        HeapModule.Events => "events",
        HeapModule.Sessions => "sessions",
        _ => "custom-properties",
    };

    /// <summary>The metric tag (bounded: these four or "unknown").</summary>
    public static string TagOf(HeapModule? module) => module switch
    {
        null => "unknown",
        HeapModule.CustomProperties => "custom_properties",
        { } known => PathOf(known),
    };

    /// <summary>Sessions data and custom properties arrive as events too.</summary>
    public static bool CarriesEvents(this HeapModule module) => module is not HeapModule.User;
}
