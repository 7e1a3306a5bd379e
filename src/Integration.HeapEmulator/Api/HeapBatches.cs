using System.Text.Json;

namespace Integration.HeapEmulator.Api;

/// <summary>A validated request to one of Heap's endpoints.</summary>
internal abstract record HeapBatch(string AppId, bool Bulk)
{
    /// <summary>Who each item is for (<c>identity</c>, or <c>user_id:</c> + the Heap user id), one per item.</summary>
    public abstract IEnumerable<string> IdentityKeys { get; }
}

internal sealed record TrackBatch(string AppId, bool Bulk, IReadOnlyList<TrackedEvent> Events) : HeapBatch(AppId, Bulk)
{
    public override IEnumerable<string> IdentityKeys => Events.Select(e => e.Who.Key);
}

internal sealed record UserBatch(string AppId, bool Bulk, IReadOnlyList<UserUpdate> Users) : HeapBatch(AppId, Bulk)
{
    public override IEnumerable<string> IdentityKeys => Users.Select(u => u.Who.Key);
}

/// <summary>Exactly one of Heap's two ways to name a user.</summary>
internal sealed record HeapUser(string? Identity, string? UserId)
{
    public string Key => Identity ?? "user_id:" + UserId;
}

internal sealed record TrackedEvent(
    HeapUser Who,
    string Event,
    DateTimeOffset Timestamp,
    IReadOnlyDictionary<string, JsonElement> Properties,
    string? IdempotencyKey);

internal sealed record UserUpdate(HeapUser Who, IReadOnlyDictionary<string, JsonElement> Properties);
