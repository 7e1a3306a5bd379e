using Integration.HeapEmulator.Api;
using Integration.HeapEmulator.Inspection;
using Microsoft.Extensions.Options;

namespace Integration.HeapEmulator.Emulator;

/// <summary>
/// What Heap's API accepted, in memory and bounded: at most <see cref="HeapEmulatorOptions.MaxRecordedEvents"/>
/// events, <see cref="HeapEmulatorOptions.MaxRecordedUsers"/> user updates and
/// <see cref="HeapEmulatorOptions.MaxIdempotencyKeys"/> idempotency keys (per app id); the oldest go first.
/// </summary>
internal sealed class EmulatorStore(IOptions<HeapEmulatorOptions> options)
{
    private readonly Lock _lock = new();
    private readonly Queue<RecordedEvent> _events = new();
    private readonly Queue<RecordedUser> _users = new();
    private readonly HashSet<(string AppId, string Key)> _keys = [];
    private readonly Queue<(string AppId, string Key)> _keyOrder = new();
    private long _eventsEvicted;
    private long _usersEvicted;
    private long _idempotentRepeats;

    /// <summary>Records the batch's events, skipping those whose idempotency key was seen; returns how many were recorded and skipped.</summary>
    public (int Recorded, int Repeats) Record(TrackBatch batch, DateTimeOffset receivedAt, string? traceId)
    {
        var settings = options.Value;
        var recorded = 0;
        var repeats = 0;
        lock (_lock)
        {
            foreach (var item in batch.Events)
            {
                if (item.IdempotencyKey is { } key && !RememberKey((batch.AppId, key), settings.MaxIdempotencyKeys))
                {
                    repeats++;
                    continue;
                }
                _events.Enqueue(new RecordedEvent(batch.AppId, item.Who.Identity, item.Who.UserId, item.Event, item.Timestamp,
                    item.Properties, item.IdempotencyKey, receivedAt, traceId));
                recorded++;
                if (_events.Count > settings.MaxRecordedEvents)
                {
                    _events.Dequeue();
                    _eventsEvicted++;
                }
            }
            _idempotentRepeats += repeats;
        }
        return (recorded, repeats);
    }

    public int Record(UserBatch batch, DateTimeOffset receivedAt, string? traceId)
    {
        var max = options.Value.MaxRecordedUsers;
        lock (_lock)
        {
            foreach (var item in batch.Users)
            {
                _users.Enqueue(new RecordedUser(batch.AppId, item.Who.Identity, item.Who.UserId, item.Properties, receivedAt, traceId));
                if (_users.Count > max)
                {
                    _users.Dequeue();
                    _usersEvicted++;
                }
            }
        }
        return batch.Users.Count;
    }

    public IReadOnlyList<RecordedEvent> Events(string? appId, string? identity, string? userId, string? eventName)
    {
        lock (_lock)
        {
            return [.. _events.Where(e =>
                Matches(appId, e.AppId) && Matches(identity, e.Identity) && Matches(userId, e.UserId) && Matches(eventName, e.Event))];
        }
    }

    public IReadOnlyList<RecordedUser> Users(string? appId, string? identity, string? userId)
    {
        lock (_lock)
        {
            return [.. _users.Where(u => Matches(appId, u.AppId) && Matches(identity, u.Identity) && Matches(userId, u.UserId))];
        }
    }

    public (int Events, long EventsEvicted, int Users, long UsersEvicted, long IdempotentRepeats) Counts()
    {
        lock (_lock)
        {
            return (_events.Count, _eventsEvicted, _users.Count, _usersEvicted, _idempotentRepeats);
        }
    }

    public void Reset()
    {
        lock (_lock)
        {
            _events.Clear();
            _users.Clear();
            _keys.Clear();
            _keyOrder.Clear();
            _eventsEvicted = 0;
            _usersEvicted = 0;
            _idempotentRepeats = 0;
        }
    }

    private bool RememberKey((string AppId, string Key) key, int max)
    {
        if (!_keys.Add(key))
        {
            return false;
        }
        _keyOrder.Enqueue(key);
        if (_keyOrder.Count > max)
        {
            _keys.Remove(_keyOrder.Dequeue());
        }
        return true;
    }

    // An absent or empty filter matches everything; a given one matches exactly (Heap identities are case-sensitive).
    private static bool Matches(string? filter, string? value) => string.IsNullOrEmpty(filter) || filter == value;
}
