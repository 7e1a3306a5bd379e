using Integration.Domain;
using StackExchange.Redis;

namespace Integration.Testing;

/// <summary>Reads a workspace's whole event stream (every partition, <see cref="EventStream"/>) the way tests inspect it.</summary>
public static class EventStreams
{
    /// <summary>Every entry of every partition, decoded, in partition order.</summary>
    public static async Task<IReadOnlyList<EventStreamEntry>> ReadAllAsync(IDatabase db, string workspaceId)
    {
        var all = new List<EventStreamEntry>();
        foreach (var key in EventStream.Keys(workspaceId))
        {
            var entries = await db.StreamRangeAsync(key);
            await EventStream.LoadDictionariesAsync(db, entries);
            foreach (var entry in entries)
            {
                all.Add(EventStream.Decode(name => entry[name], name => entry[name])
                    ?? throw new InvalidOperationException($"Entry {entry.Id} of {key} is not a stream event."));
            }
        }
        return all;
    }

    public static async Task<long> LengthAsync(IDatabase db, string workspaceId)
    {
        long length = 0;
        foreach (var key in EventStream.Keys(workspaceId))
        {
            length += await db.StreamLengthAsync(key);
        }
        return length;
    }

    /// <summary>Entries read but not acknowledged in <paramref name="group"/>, over every partition.</summary>
    public static async Task<long> PendingAsync(IDatabase db, string workspaceId, string group)
    {
        long pending = 0;
        foreach (var key in EventStream.Keys(workspaceId))
        {
            if (await db.KeyExistsAsync(key))
            {
                pending += (await db.StreamPendingAsync(key, group)).PendingMessageCount;
            }
        }
        return pending;
    }

    /// <summary>Entries delivered to <paramref name="group"/> so far, over every partition.</summary>
    public static async Task<long> EntriesReadAsync(IDatabase db, string workspaceId, string group)
    {
        long read = 0;
        foreach (var key in EventStream.Keys(workspaceId))
        {
            if (await db.KeyExistsAsync(key))
            {
                read += (await db.StreamGroupInfoAsync(key)).Where(g => g.Name == group).Sum(g => g.EntriesRead ?? 0);
            }
        }
        return read;
    }

    /// <summary>Reads new entries for a consumer of <paramref name="group"/> from every partition, up to <paramref name="count"/> in all.</summary>
    public static async Task<int> ReadGroupAsync(IDatabase db, string workspaceId, string group, string consumer, int count)
    {
        var taken = 0;
        foreach (var key in EventStream.Keys(workspaceId))
        {
            if (taken >= count || !await db.KeyExistsAsync(key))
            {
                continue;
            }
            taken += (await db.StreamReadGroupAsync(key, group, consumer, StreamPosition.NewMessages, count - taken)).Length;
        }
        return taken;
    }
}
