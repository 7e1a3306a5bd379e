using System.ComponentModel.DataAnnotations;

namespace Integration.Campaigns.Delivery;

/// <summary>Settings of the delivery engine (section <c>Delivery</c>).</summary>
internal sealed class DeliveryEngineOptions : IValidatableObject
{
    public const string SectionName = "Delivery";

    /// <summary>Whether this process runs delivery workers (the queue and the API work either way).</summary>
    public bool RunnerEnabled { get; set; } = true;

    /// <summary>Attempts in flight in this process, over all destinations.</summary>
    [Range(1, 10_000)]
    public int MaxConcurrency { get; set; } = 256;

    /// <summary>Attempts in flight in this process to one destination, so a slow one cannot take every slot.</summary>
    [Range(1, 10_000)]
    public int MaxConcurrencyPerDestination { get; set; } = 64;

    /// <summary>Longest pause between polls of an idle destination queue.</summary>
    [Range(typeof(TimeSpan), "00:00:00.001", "00:00:05")]
    public TimeSpan IdlePollInterval { get; set; } = TimeSpan.FromMilliseconds(50);

    /// <summary>How often due retries and delayed deliveries are moved to their queues.</summary>
    [Range(typeof(TimeSpan), "00:00:00.001", "00:00:05")]
    public TimeSpan SchedulerInterval { get; set; } = TimeSpan.FromMilliseconds(100);

    /// <summary>
    /// A queued delivery taken by a runner and not finished after this long is taken over by another
    /// runner (its runner is presumed dead). Must exceed <see cref="MaxAttemptTimeout"/> by a margin.
    /// </summary>
    [Range(typeof(TimeSpan), "00:00:00.5", "01:00:00")]
    public TimeSpan ClaimAfter { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>Upper bound of a campaign's per-attempt timeout.</summary>
    [Range(typeof(TimeSpan), "00:00:00.1", "00:10:00")]
    public TimeSpan MaxAttemptTimeout { get; set; } = TimeSpan.FromSeconds(20);

    /// <summary>First retry delay (the backoff doubles from here, with full jitter).</summary>
    [Range(typeof(TimeSpan), "00:00:00.001", "01:00:00")]
    public TimeSpan BackoffBase { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>Largest backoff (Retry-After may ask for longer; it is honoured up to the delivery's maximum age).</summary>
    [Range(typeof(TimeSpan), "00:00:00.001", "1.00:00:00")]
    public TimeSpan BackoffCap { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>How long a succeeded or discarded delivery record is kept (dead letters are kept until replayed or discarded).</summary>
    [Range(typeof(TimeSpan), "00:00:01", "365.00:00:00")]
    public TimeSpan RecordRetention { get; set; } = TimeSpan.FromDays(7);

    /// <summary>Entries kept in each campaign's delivery log.</summary>
    [Range(10, 100_000)]
    public int LogLength { get; set; } = 1000;

    /// <summary>Bytes of a response body kept in a dead letter.</summary>
    [Range(0, 64 * 1024)]
    public int ResponseExcerptBytes { get; set; } = 2048;

    public ThrottleOptions Throttle { get; set; } = new();

    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        if (ClaimAfter <= MaxAttemptTimeout + TimeSpan.FromMilliseconds(200))
        {
            yield return new ValidationResult(
                $"Delivery:ClaimAfter ({ClaimAfter}) must exceed Delivery:MaxAttemptTimeout ({MaxAttemptTimeout}) by a margin, " +
                "or live runners' work would be taken over mid-attempt.",
                [nameof(ClaimAfter), nameof(MaxAttemptTimeout)]);
        }
        if (BackoffCap < BackoffBase)
        {
            yield return new ValidationResult("Delivery:BackoffCap must not be below Delivery:BackoffBase.", [nameof(BackoffCap)]);
        }
        if (MaxConcurrencyPerDestination > MaxConcurrency)
        {
            yield return new ValidationResult("Delivery:MaxConcurrencyPerDestination must not exceed Delivery:MaxConcurrency.",
                [nameof(MaxConcurrencyPerDestination)]);
        }
        foreach (var result in Throttle.Validate())
        {
            yield return result;
        }
    }
}

/// <summary>Throttling (section <c>Delivery:Throttle</c>); defaults are Heap's published limits.</summary>
internal sealed class ThrottleOptions
{
    /// <summary>Off only for benchmarks or destinations that do their own limiting.</summary>
    public bool Enabled { get; set; } = true;

    /// <summary>Heap: requests per identity per app_id in <see cref="HeapIdentityWindow"/>.</summary>
    public int HeapIdentityLimit { get; set; } = 30;

    public TimeSpan HeapIdentityWindow { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>Heap bulk: events per app_id in <see cref="HeapBulkWindow"/>.</summary>
    public int HeapBulkAppEventLimit { get; set; } = 15_000;

    /// <summary>Heap bulk: events per identity per app_id in <see cref="HeapBulkWindow"/>.</summary>
    public int HeapBulkIdentityEventLimit { get; set; } = 1_000;

    public TimeSpan HeapBulkWindow { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>
    /// Added to every window, so that network jitter between our clock and the destination's cannot
    /// make the destination count one request too many.
    /// </summary>
    public TimeSpan SafetyMargin { get; set; } = TimeSpan.FromMilliseconds(500);

    /// <summary>Requests per window for any destination (scheme://host:port) without its own entry; 0: unlimited.</summary>
    public int DefaultDestinationLimit { get; set; }

    public TimeSpan DefaultDestinationWindow { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>Limits of particular destinations (a list: configuration keys cannot hold the colons of a URL).</summary>
    public List<DestinationLimit> Destinations { get; set; } = [];

    internal IEnumerable<ValidationResult> Validate()
    {
        if (HeapIdentityLimit < 1 || HeapBulkAppEventLimit < 1 || HeapBulkIdentityEventLimit < 1 || DefaultDestinationLimit < 0)
        {
            yield return new ValidationResult("Delivery:Throttle limits must be positive (DefaultDestinationLimit may be 0: unlimited).");
        }
        if (HeapIdentityWindow <= TimeSpan.Zero || HeapBulkWindow <= TimeSpan.Zero || DefaultDestinationWindow <= TimeSpan.Zero
            || SafetyMargin < TimeSpan.Zero)
        {
            yield return new ValidationResult("Delivery:Throttle windows must be positive.");
        }
        foreach (var limit in Destinations)
        {
            if (!Uri.TryCreate(limit.Destination, UriKind.Absolute, out _) || limit.Limit < 0 || limit.Window <= TimeSpan.Zero)
            {
                yield return new ValidationResult(
                    $"Delivery:Throttle:Destinations entry '{limit.Destination}' needs an absolute URL (scheme://host[:port]), Limit >= 0 and a positive Window.");
            }
        }
    }
}

/// <summary>A request budget for one destination.</summary>
internal sealed class DestinationLimit
{
    /// <summary><c>scheme://host[:port]</c>, for example <c>https://api.example.com</c>.</summary>
    public string Destination { get; set; } = "";

    /// <summary>Requests per window; 0: unlimited.</summary>
    public int Limit { get; set; }

    public TimeSpan Window { get; set; } = TimeSpan.FromSeconds(1);
}
