using System.ComponentModel.DataAnnotations;

namespace Integration.Campaigns;

/// <summary>Settings of the campaign API and runner (section <c>Campaigns</c>).</summary>
internal sealed class CampaignsOptions
{
    public const string SectionName = "Campaigns";

    /// <summary>
    /// Hosts that may resolve to loopback or private addresses (the dev heap emulator). Also read as one
    /// comma-separated string, so <c>Campaigns__AllowedHosts=localhost,127.0.0.1</c> works.
    /// </summary>
    public string[] AllowedHosts { get; set; } = [];

    /// <summary>Runs the scheduler, event-trigger consumer and pending-step poller in this process.</summary>
    public bool RunnerEnabled { get; set; } = true;

    /// <summary>How often the runner loops look for due work.</summary>
    [Range(10, 60_000)]
    public int PollIntervalMs { get; set; } = 500;

    /// <summary>
    /// The trigger consumer reads the event stream again at most this often while events keep coming (0: at once after
    /// each batch). Fewer, larger batches cost less per event (one read, one audience call and one acknowledgement
    /// each), for at most this much more latency.
    /// </summary>
    [Range(0, 1000)]
    public int TriggerBatchWindowMs { get; set; } = 10;

    /// <summary>How long a claimed scheduled run or pending step stays invisible to other replicas.</summary>
    [Range(5, 3600)]
    public int LeaseSeconds { get; set; } = 120;

    /// <summary>Consumer group on the ingestion event streams.</summary>
    [Required]
    public string ConsumerGroup { get; set; } = "campaigns-triggers";

    /// <summary>This replica's consumer name in the group (empty: machine name and process id).</summary>
    public string ConsumerName { get; set; } = "";

    /// <summary>
    /// How long a runner replica's lease on a partition of a workspace's event stream lasts unless renewed (every
    /// third of it). A replica killed without stopping leaves its partitions unread this long at most.
    /// </summary>
    [Range(2, 600)]
    public int TriggerLeaseSeconds { get; set; } = 6;

    /// <summary>Stream entries idle this long in a consumer's pending list (a deferred entry) are read again.</summary>
    [Range(1, 3600)]
    public int ClaimIdleSeconds { get; set; } = 60;
}
