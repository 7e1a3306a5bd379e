using System.ComponentModel.DataAnnotations;

namespace Integration.Edge;

internal sealed class EdgeOptions
{
    public const string SectionName = "Edge";

    /// <summary>Largest webhook body accepted (DESIGN §3: 128 KB).</summary>
    [Range(1024, 16 * 1024 * 1024)]
    public int MaxBodyBytes { get; set; } = 128 * 1024;

    /// <summary>How long a workspace's credentials, limit and configs are cached in memory.</summary>
    [Range(0, 300)]
    public int CredentialCacheSeconds { get; set; } = 5;

    /// <summary>How long "no such workspace" is cached, so floods of unknown ids do not reach ingestion.</summary>
    [Range(0, 300)]
    public int UnknownWorkspaceCacheSeconds { get; set; } = 2;

    /// <summary>How far in the future a timestamp may be (clock skew between Heap and us).</summary>
    [Range(0, 86_400)]
    public int FutureSkewSeconds { get; set; } = 300;

    /// <summary>Deadline of the gRPC call that stores a webhook.</summary>
    [Range(1, 60)]
    public int IngestionTimeoutSeconds { get; set; } = 5;

    /// <summary>Most webhooks one coalesced Ingest call carries.</summary>
    [Range(1, 1000)]
    public int IngestionBatchSize { get; set; } = 128;

    /// <summary>Ingest calls in flight at once; webhooks arriving meanwhile queue and go out together.</summary>
    [Range(1, 64)]
    public int IngestionConcurrency { get; set; } = 2;

    /// <summary>Webhooks waiting for a sender at most; beyond it requests wait (back-pressure).</summary>
    [Range(1, 1_000_000)]
    public int IngestionQueueCapacity { get; set; } = 10_000;

    /// <summary>Retry-After sent with a 503.</summary>
    [Range(1, 3600)]
    public int UnavailableRetryAfterSeconds { get; set; } = 5;

    /// <summary>Most attributes (top level plus nested) one payload may carry.</summary>
    [Range(1, 10_000)]
    public int MaxAttributes { get; set; } = 500;

    /// <summary>Largest Heap segment-sync page accepted (413 beyond); pages list thousands of users.</summary>
    [Range(1024, 16 * 1024 * 1024)]
    public int MaxSegmentPageBytes { get; set; } = 1024 * 1024;

    /// <summary>Most users (add plus remove) one segment-sync page may list (413 beyond); ingestion's own cap is 10,000.</summary>
    [Range(1, 10_000)]
    public int MaxSegmentPageUsers { get; set; } = 10_000;

    /// <summary>How old a segment sync's Heap-Hash signature may be (Heap's reference implementation: one minute).</summary>
    [Range(1, 3600)]
    public int SegmentSignatureMaxAgeSeconds { get; set; } = 60;

    /// <summary>How far ahead of this server's clock a Heap-Hash signature may be dated (clock skew).</summary>
    [Range(0, 300)]
    public int SegmentSignatureMaxAheadSeconds { get; set; } = 5;
}
