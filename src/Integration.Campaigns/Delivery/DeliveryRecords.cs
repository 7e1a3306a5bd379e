namespace Integration.Campaigns.Delivery;

/// <summary>One attempt of a delivery, as kept in its record.</summary>
internal sealed record AttemptRecord(
    int Number, long StartedMs, long DurationMs, int Status, string? Error, string Outcome, long? NextMs);

/// <summary>A delivery as stored: the request plus its state and history.</summary>
internal sealed record DeliveryRecord(
    DeliveryRequest Request,
    string State,
    int Attempts,
    long CreatedMs,
    long SinceMs,
    int Replays,
    IReadOnlyList<AttemptRecord> History,
    string? Reason,
    int LastStatus,
    string? LastError,
    string? LastExcerpt,
    long DeadMs,
    string? LastRequestJson)
{
    public const string Queued = "queued";
    public const string Scheduled = "scheduled";
    public const string Succeeded = "succeeded";
    public const string Dead = "dead";
    public const string Discarded = "discarded";
}

/// <summary>An entry of a campaign's delivery log.</summary>
internal sealed record DeliveryLogRecord(
    string DeliveryId, string CustomerId, string Outcome, int Status, int Attempt, long AtMs, string? Detail);

/// <summary>What a runner records when it is done with a queued delivery (one atomic step with the acknowledgement).</summary>
internal sealed record DeliveryFinish(
    string Mode,
    int Attempts,
    IReadOnlyList<AttemptRecord>? History,
    long NextDueMs,
    int Status,
    string? Error,
    string? Excerpt,
    string? Reason,
    string? LastRequestJson,
    DeliveryLogRecord? Log,
    IReadOnlyList<string> Counters)
{
    /// <summary>The user a succeeded delivery was for, kept for conversion goals when <see cref="ConversionWindowMs"/> is set.</summary>
    public string CustomerId { get; init; } = "";

    /// <summary>The campaign's attribution window: a succeeded delivery is kept this long for its goal events (0: no goals).</summary>
    public long ConversionWindowMs { get; init; }

    public const string Succeeded = "succeeded";
    public const string Retry = "retry";
    public const string Throttled = "throttled";
    public const string Dead = "dead";
}

/// <summary>Which dead letters a list or bulk replay applies to.</summary>
internal sealed record DeadLetterQuery(string WorkspaceId, string? CampaignId, int StatusCode, long FromMs, long ToMs);

/// <summary>A queued entry read from a destination's stream.</summary>
internal sealed record QueuedDelivery(string EntryId, string DeliveryId)
{
    /// <summary>
    /// The request as enqueued (secret headers protected), carried by an entry read for the first time from its
    /// enqueue: the record says nothing more before the first attempt. Null for a retry, a replay, a taken-over entry
    /// or one written before entries carried it: then the record is read.
    /// </summary>
    public string? RequestJson { get; init; }

    /// <summary>When the delivery was enqueued (its record's <c>since_ms</c>), with <see cref="RequestJson"/>.</summary>
    public long SinceMs { get; init; }
}

/// <summary>Per-campaign counters.</summary>
internal sealed record DeliveryCounters(IReadOnlyDictionary<string, long> Values)
{
    public long this[string name] => Values.TryGetValue(name, out var v) ? v : 0;
}

/// <summary>Counter names of a campaign's delivery statistics.</summary>
internal static class DeliveryCounterNames
{
    public const string Enqueued = "enqueued";
    public const string Sent = "sent";
    public const string Succeeded = "succeeded";
    public const string Failed = "failed";
    public const string Retried = "retried";
    public const string Throttled = "throttled";
    public const string DeadLettered = "dead_lettered";
    public const string Replayed = "replayed";
    public const string Discarded = "discarded";
    public const string Converted = "converted";
    public const string SkippedPrefix = "skipped:";
}
