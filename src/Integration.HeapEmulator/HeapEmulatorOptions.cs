using System.ComponentModel.DataAnnotations;

namespace Integration.HeapEmulator;

/// <summary>Settings of the Heap emulator (section <c>HeapEmulator</c>).</summary>
public sealed class HeapEmulatorOptions
{
    public const string SectionName = "HeapEmulator";

    /// <summary>Heap app (environment) ids that exist from the start. In Development <c>heap-demo-app</c> is added.</summary>
    public List<string> Apps { get; set; } = [];

    /// <summary>Whether Heap's rate limits answer 429; switch off for benchmarks.</summary>
    public bool EnforceLimits { get; set; } = true;

    [Range(1, 100_000)]
    public int RequestsPerIdentity { get; set; } = 30;

    [Range(1, 3_600)]
    public int RequestWindowSeconds { get; set; } = 30;

    [Range(1, 1_000_000)]
    public int BulkEventsPerIdentityPerMinute { get; set; } = 1_000;

    [Range(1, 10_000_000)]
    public int BulkEventsPerAppPerMinute { get; set; } = 15_000;

    /// <summary>Recorded events kept in memory; the oldest are dropped beyond it.</summary>
    [Range(1, 10_000_000)]
    public int MaxRecordedEvents { get; set; } = 100_000;

    /// <summary>Recorded user property updates kept in memory; the oldest are dropped beyond it.</summary>
    [Range(1, 10_000_000)]
    public int MaxRecordedUsers { get; set; } = 100_000;

    /// <summary>Idempotency keys remembered per emulator; the oldest are forgotten beyond it.</summary>
    [Range(1, 10_000_000)]
    public int MaxIdempotencyKeys { get; set; } = 100_000;

    /// <summary>Largest request body accepted on <c>/api/*</c>; larger bodies get 413.</summary>
    [Range(1_024, 100 * 1_024 * 1_024)]
    public int MaxBodyBytes { get; set; } = 1_024 * 1_024;
}
