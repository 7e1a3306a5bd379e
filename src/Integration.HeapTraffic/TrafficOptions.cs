using System.ComponentModel.DataAnnotations;

namespace Integration.HeapTraffic;

internal sealed class TrafficOptions
{
    public const string SectionName = "HeapTraffic";

    /// <summary>Workspace the traffic is sent to (the AppHost's demo workspace).</summary>
    [Required]
    public string WorkspaceId { get; set; } = "DEMO0001";

    [Required]
    public string DataApiKey { get; set; } = "demo-key";

    [Required]
    public string ConfigName { get; set; } = "heap-demo";

    /// <summary>Heap emulator's track URL for the demo campaigns (empty: no demo campaigns are created).</summary>
    public string HeapTrackUrl { get; set; } = "";

    /// <summary>Admin token of the campaigns API, to create the demo campaigns.</summary>
    public string AdminToken { get; set; } = "";

    /// <summary>New simulated users per minute; each plays a short journey.</summary>
    [Range(1, 6000)]
    public int UsersPerMinute { get; set; } = 12;

    /// <summary>Seconds between the steps of one user's journey.</summary>
    [Range(0.1, 600)]
    public double StepSeconds { get; set; } = 3;

    /// <summary>Stop after this many users (0: never).</summary>
    [Range(0, int.MaxValue)]
    public int MaxUsers { get; set; }
}
