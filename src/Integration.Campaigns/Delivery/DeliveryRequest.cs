namespace Integration.Campaigns.Delivery;

/// <summary>
/// One HTTP request a campaign wants sent to one user, fully rendered. The campaign side produces it;
/// the delivery engine owns it from <see cref="IDeliveryQueue.EnqueueAsync"/> on (durably recorded,
/// throttled, retried, dead-lettered, replayable).
/// </summary>
/// <param name="DeliveryId">Deterministic: see <see cref="DeliveryIds.For"/>. Sent as Heap's idempotency_key.</param>
/// <param name="WorkspaceId">Owning workspace.</param>
/// <param name="CampaignId">Campaign that produced it.</param>
/// <param name="StepIndex">Request step (0-based) of the campaign.</param>
/// <param name="CustomerId">The user it is for.</param>
/// <param name="TriggerId">What caused it: the triggering event id, the business event id, or the run id of a scheduled send.</param>
/// <param name="Method">GET, POST, PUT or DELETE.</param>
/// <param name="Url">Absolute http(s) URL, already checked against the SSRF rules.</param>
/// <param name="Headers">Request headers (secrets included; the engine redacts them in logs and dead letters).</param>
/// <param name="Body">Rendered body, or null for none.</param>
/// <param name="ContentType">Content type of the body (application/json, application/x-www-form-urlencoded, text/plain …).</param>
/// <param name="NotBefore">Earliest send time (delays of event-triggered steps), or null for now.</param>
/// <param name="Options">Per-campaign delivery options.</param>
/// <param name="TraceParent">W3C traceparent of the trigger, so the delivery joins the webhook's trace.</param>
internal sealed record DeliveryRequest(
    string DeliveryId,
    string WorkspaceId,
    string CampaignId,
    int StepIndex,
    string CustomerId,
    string TriggerId,
    string Method,
    string Url,
    IReadOnlyDictionary<string, string> Headers,
    string? Body,
    string? ContentType,
    DateTimeOffset? NotBefore,
    DeliveryOptions Options,
    string? TraceParent);

/// <summary>Per-campaign delivery options; defaults follow DESIGN §5.</summary>
internal sealed record DeliveryOptions
{
    public TimeSpan Timeout { get; init; } = TimeSpan.FromSeconds(5);
    public int MaxAttempts { get; init; } = 8;
    public TimeSpan MaxAge { get; init; } = TimeSpan.FromHours(24);
    /// <summary>Header that carries the idempotency key for non-Heap destinations (null: none).</summary>
    public string? IdempotencyHeader { get; init; }
    /// <summary>The campaign's conversion attribution window, milliseconds (0: the campaign has no goals).</summary>
    public long ConversionWindowMs { get; init; }
}

/// <summary>Where campaigns hand their rendered requests to the delivery engine.</summary>
internal interface IDeliveryQueue
{
    /// <summary>
    /// Records the delivery durably in Redis (before any attempt) and returns. Enqueuing the same
    /// <see cref="DeliveryRequest.DeliveryId"/> twice records it once.
    /// </summary>
    Task EnqueueAsync(DeliveryRequest request, CancellationToken cancellationToken);
}

internal static class DeliveryIds
{
    /// <summary>
    /// The deterministic delivery id: the same campaign, step, user and trigger always give the same
    /// id, so a retry, a redelivery after a crash or a replay never double-counts in Heap.
    /// </summary>
    public static string For(string campaignId, int stepIndex, string customerId, string triggerId)
    {
        var bytes = System.Text.Encoding.UTF8.GetBytes($"{campaignId}\n{stepIndex}\n{customerId}\n{triggerId}");
        return Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(bytes).AsSpan(0, 16));
    }
}
