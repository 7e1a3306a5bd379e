using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Integration.Campaigns.Delivery;
using Integration.Campaigns.V1;

namespace Integration.Campaigns.Sending;

/// <summary>
/// Collects one run's rendered single-event Heap track bodies into Heap's bulk form
/// (<c>{"app_id":…, "events":[…]}</c>, at most <see cref="MaxEvents"/> events a request), per step, URL,
/// headers and app_id. Users arrive in the audience's stable order (first seen), so the same run yields the
/// same batches. Each event keeps its per-user delivery id as its <c>idempotency_key</c>: whichever batch an
/// event lands in, Heap counts it once.
/// </summary>
internal sealed class HeapBulkBatches(Campaign campaign, SendTrigger trigger)
{
    /// <summary>Heap's limit on events in one bulk request.</summary>
    public const int MaxEvents = 1_000;

    /// <summary>Bodies stay under a megabyte (the emulator's default limit; Heap's is not documented).</summary>
    public const int MaxBodyBytes = 900_000;

    private readonly Dictionary<string, Batch> _open = new(StringComparer.Ordinal);
    private readonly Dictionary<string, int> _numbers = new(StringComparer.Ordinal);

    /// <summary>
    /// Adds a rendered step to its batch. False when the body is not a single event with an app_id (send it
    /// alone); otherwise <paramref name="full"/> is a batch that is ready to enqueue, if one filled up.
    /// </summary>
    public bool TryAdd(RenderedStep step, string customerId, DateTimeOffset? notBefore, out DeliveryRequest? full)
    {
        full = null;
        if (ToEvent(step, campaign, customerId, trigger) is not { } single)
        {
            return false;
        }
        var (appId, item, bytes) = single;
        var key = GroupKey(step, appId);
        if (_open.TryGetValue(key, out var batch) && batch.Bytes + bytes > MaxBodyBytes)
        {
            full = Close(key, batch);
            batch = null;
        }
        if (batch is null)
        {
            batch = new Batch(step, appId, notBefore);
            _open[key] = batch;
        }
        batch.Add(customerId, item, bytes);
        if (batch.Events.Count >= MaxEvents)
        {
            // At most one batch of a group can fill up per call: the size check above closed the previous one with room to spare.
            full ??= Close(key, batch);
        }
        return true;
    }

    /// <summary>The batches still open at the end of the run.</summary>
    public IReadOnlyList<DeliveryRequest> Flush()
    {
        var rest = _open.Select(pair => Close(pair.Key, pair.Value, remove: false)).ToList();
        _open.Clear();
        return rest;
    }

    private DeliveryRequest Close(string key, Batch batch, bool remove = true)
    {
        if (remove)
        {
            _open.Remove(key);
        }
        var number = _numbers.GetValueOrDefault(key);
        _numbers[key] = number + 1;

        // Deterministic: campaign, step, run, group, batch number and its members. The same run over the same users
        // gives the same id (the engine records it once); if the audience shifted between two attempts at a run, a
        // batch with other members is a new delivery, and its events' own keys keep Heap from counting anyone twice.
        var members = Hash(string.Join('\n', batch.CustomerIds));
        var id = DeliveryIds.For(campaign.CampaignId, batch.Step.StepIndex, $"bulk:{Hash(key)}:{number}:{members}", trigger.TriggerId);
        var body = new JsonObject
        {
            ["app_id"] = batch.AppId,
            ["events"] = new JsonArray([.. batch.Events]),
        };
        var single = CampaignSender.ToDelivery(campaign, batch.Step, batch.CustomerIds[0], trigger, batch.NotBefore);
        return single with
        {
            DeliveryId = id,
            CustomerId = $"bulk of {batch.Events.Count} from {batch.CustomerIds[0]}",
            Body = body.ToJsonString(),
        };
    }

    /// <summary>The event as it goes into the bulk body (without app_id, with its own key), or null if the body is not one event.</summary>
    private static (string AppId, JsonObject Item, int Bytes)? ToEvent(RenderedStep step, Campaign campaign, string customerId, SendTrigger trigger)
    {
        if (step.Body is null)
        {
            return null;
        }
        JsonObject? root;
        try
        {
            root = JsonNode.Parse(step.Body) as JsonObject;
        }
        catch (JsonException)
        {
            return null;
        }
        if (root is null || root["app_id"] is not JsonValue appValue || !appValue.TryGetValue<string>(out var appId) || appId.Length == 0
            || root.ContainsKey("events") || root.ContainsKey("users"))
        {
            return null;
        }
        root.Remove("app_id");
        if (root["idempotency_key"] is null)
        {
            root["idempotency_key"] = DeliveryIds.For(campaign.CampaignId, step.StepIndex, customerId, trigger.TriggerId);
        }
        return (appId, root, Encoding.UTF8.GetByteCount(root.ToJsonString()) + 1);
    }

    private static string GroupKey(RenderedStep step, string appId)
    {
        var key = new StringBuilder().Append(step.StepIndex).Append('\n').Append(step.Url).Append('\n').Append(appId).Append('\n')
            .Append(step.ContentType).Append('\n');
        foreach (var (name, value) in step.Headers)
        {
            key.Append(name).Append(':').Append(value).Append('\n');
        }
        return key.ToString();
    }

    private static string Hash(string value) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(value)).AsSpan(0, 8));

    private sealed class Batch(RenderedStep step, string appId, DateTimeOffset? notBefore)
    {
        public RenderedStep Step { get; } = step;
        public string AppId { get; } = appId;
        public DateTimeOffset? NotBefore { get; } = notBefore;
        public List<JsonObject> Events { get; } = [];
        public List<string> CustomerIds { get; } = [];
        public int Bytes { get; private set; } = 64;

        public void Add(string customerId, JsonObject item, int bytes)
        {
            Events.Add(item);
            CustomerIds.Add(customerId);
            Bytes += bytes;
        }
    }
}
