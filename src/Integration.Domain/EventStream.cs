using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.Globalization;
using System.Text;
using Google.Protobuf;
using Integration.Common.V1;
using StackExchange.Redis;

namespace Integration.Domain;

/// <summary>One event as the event stream carries it: everything a consumer needs, so it reads nothing else.</summary>
/// <param name="AttributesJson">The event attributes as a JSON object (strings, numbers, booleans).</param>
/// <param name="TraceParent">W3C trace context of the webhook request, empty if none.</param>
/// <param name="Replayed">Copied by the upgrade from the layout before partitioning, not newly received.</param>
/// <param name="Module">The sync module it came through (integration.admin.v1.SyncModule: 2 events, 3 sessions data,
/// 4 custom properties); 0 for entries written before modules were told apart (all of them came through events).</param>
public sealed record EventStreamEntry(
    string EventId,
    string CustomerId,
    string EventName,
    long EventTimeMs,
    long ReceivedMs,
    string ConfigName,
    string AttributesJson,
    string TraceParent,
    bool Replayed = false,
    int Module = 0);

/// <summary>A compressed stream entry whose dictionary this process has not read (<see cref="EventStream.LoadDictionariesAsync"/>).</summary>
public sealed class EventStreamDictionaryMissingException(ulong id)
    : InvalidOperationException($"Event stream entry compressed with dictionary {id:x16}, which is not loaded (key {EventStream.DictionaryKey(id)})")
{
    public ulong DictionaryId { get; } = id;
}

/// <summary>
/// The event stream, the one contract in Redis shared by ingestion (which appends an entry in the same script
/// that stores the event) and the campaign runner (which consumes it): a workspace's stream is split into
/// <see cref="Partitions"/> partitions by user, each partition a Redis stream whose key carries the partition's
/// hash tag, and the user's own keys (owned by ingestion) carry the same tag, so an event's write is one script
/// on one slot. The tags are chosen so that a workspace's partitions sit in evenly spaced hash slots (and so
/// spread evenly over the masters of a cluster, whose masters own contiguous slot ranges), rotated by the
/// workspace so that different workspaces do not all start on the same master. See docs/keyspace.md.
/// Everything here is part of the stored layout: changing the partition count, the user-to-partition hash or the
/// tag table moves every key and needs a migration.
/// </summary>
public static class EventStream
{
    /// <summary>Partitions of every workspace's stream (and of its user keys).</summary>
    public const int Partitions = 32;

    /// <summary>The one field of an entry: the <see cref="StreamEvent"/> protobuf message.</summary>
    public const string Field = "e";

    /// <summary>The tag byte of <see cref="StreamEvent.Dictionary"/> (field 13, fixed64), the first byte of a compressed entry.</summary>
    private const byte DictionaryTag = (13 << 3) | 1;

    private const int SlotCount = 16384;

    /// <summary>Every dictionary this process has read or made, by id (they never change, so they are kept for good).</summary>
    private static readonly ConcurrentDictionary<ulong, EventStreamDictionary> Dictionaries = new();
    private const int SlotStep = SlotCount / Partitions;

    /// <summary>Before partitioning: one stream per workspace with one field per value (read only to drain it).</summary>
    public static string LegacyKey(string workspaceId) => $"stream:{{{workspaceId}}}";

    /// <summary>Whether a key is some workspace's <see cref="LegacyKey"/>.</summary>
    public static bool IsLegacyKey(string key) =>
        key.StartsWith("stream:{", StringComparison.Ordinal) && key.EndsWith('}') && LegacyKey(key[8..^1]) == key;

    /// <summary>The partition a user's keys and events live in.</summary>
    public static int PartitionOf(string customerId)
    {
        // FNV-1a over the UTF-8 bytes: stable across processes and versions (string.GetHashCode is not).
        Span<byte> buffer = stackalloc byte[Encoding.UTF8.GetMaxByteCount(Math.Min(customerId.Length, 512))];
        var bytes = customerId.Length <= 512 ? buffer[..Encoding.UTF8.GetBytes(customerId, buffer)] : Encoding.UTF8.GetBytes(customerId);
        var hash = 2166136261u;
        foreach (var b in bytes)
        {
            hash = (hash ^ b) * 16777619u;
        }
        return (int)(hash % Partitions);
    }

    /// <summary>The hash tag (with its braces) of a partition of a workspace: every key of that partition has it.</summary>
    public static string Tag(string workspaceId, int partition)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(partition);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(partition, Partitions);
        return SlotTags.For((Crc16(Encoding.UTF8.GetBytes(workspaceId)) + partition * SlotStep) % SlotCount);
    }

    /// <summary>The hash slot of a partition of a workspace (as Redis Cluster computes it for its keys).</summary>
    public static int Slot(string workspaceId, int partition) => KeySlot(Tag(workspaceId, partition));

    /// <summary>The stream key of partition <paramref name="partition"/> of a workspace.</summary>
    public static string Key(string workspaceId, int partition) => $"s{Tag(workspaceId, partition)}{workspaceId}";

    /// <summary>The stream keys of every partition of a workspace, in partition order.</summary>
    public static IReadOnlyList<string> Keys(string workspaceId)
    {
        var keys = new string[Partitions];
        for (var p = 0; p < Partitions; p++)
        {
            keys[p] = Key(workspaceId, p);
        }
        return keys;
    }

    /// <summary>
    /// A stored compression dictionary (a string holding its bytes), by id: global, no hash tag, single-key commands
    /// only, so a reader that knows only an entry finds it. Written once, before any entry uses it; never deleted.
    /// </summary>
    public static string DictionaryKey(ulong id) => $"sdict:{id:x16}";

    /// <summary>The id of the dictionary a workspace's writers compress with (a string: 16 hex digits), once chosen.</summary>
    public static string WorkspaceDictionaryKey(string workspaceId) => $"sdict:{{{workspaceId}}}";

    /// <summary>Makes a dictionary known to this process's decoder (the writer registers the one it compresses with).</summary>
    public static void AddDictionary(EventStreamDictionary dictionary) => Dictionaries.TryAdd(dictionary.Id, dictionary);

    /// <summary>The dictionary a value was compressed with, or null for an uncompressed value.</summary>
    public static ulong? DictionaryOf(ReadOnlySpan<byte> value) =>
        value.Length >= 9 && value[0] == DictionaryTag ? BinaryPrimitives.ReadUInt64LittleEndian(value[1..9]) : null;

    /// <summary>
    /// Reads the dictionaries of the given entries that this process has not seen yet (one GET each, once per
    /// process): call it on what a stream read returned before decoding it. A dictionary missing from Redis stays
    /// unknown, and decoding its entries throws <see cref="EventStreamDictionaryMissingException"/>.
    /// </summary>
    public static async Task LoadDictionariesAsync(IDatabaseAsync db, IEnumerable<StreamEntry> entries)
    {
        HashSet<ulong>? missing = null;
        foreach (var entry in entries)
        {
            if (entry.IsNull)
            {
                continue;
            }
            var value = entry[Field];
            if (!value.IsNull && DictionaryOf(((ReadOnlyMemory<byte>)value).Span) is { } id && !Dictionaries.ContainsKey(id))
            {
                (missing ??= []).Add(id);
            }
        }
        if (missing is null)
        {
            return;
        }
        foreach (var id in missing)
        {
            if ((byte[]?)await db.StringGetAsync(DictionaryKey(id)) is { } bytes && EventStreamDictionary.FromBytes(bytes) is { } dictionary
                && dictionary.Id == id)
            {
                AddDictionary(dictionary);
            }
        }
    }

    /// <summary>The value of <see cref="Field"/> for an event.</summary>
    public static byte[] Encode(EventStreamEntry entry) => Encode(entry, null);

    /// <summary>
    /// The value of <see cref="Field"/> for an event, compressed with <paramref name="dictionary"/> when there is one
    /// (and it makes the value smaller). The dictionary must be stored (<see cref="DictionaryKey"/>) before the value.
    /// </summary>
    public static byte[] Encode(EventStreamEntry entry, EventStreamDictionary? dictionary)
    {
        var message = new StreamEvent
        {
            CustomerId = entry.CustomerId,
            EventName = entry.EventName,
            EventTimeMs = entry.EventTimeMs,
            ReceivedMs = entry.ReceivedMs,
            ConfigName = entry.ConfigName,
            AttributesJson = ByteString.CopyFromUtf8(entry.AttributesJson),
            Replayed = entry.Replayed,
            Module = entry.Module,
        };
        if (TryParseHexId(entry.EventId) is { } idBytes)
        {
            message.EventIdBytes = ByteString.CopyFrom(idBytes);
        }
        else
        {
            message.EventId = entry.EventId;
        }
        if (TryPackTraceParent(entry.TraceParent) is { } context)
        {
            message.TraceContext = ByteString.CopyFrom(context);
        }
        else
        {
            message.Traceparent = entry.TraceParent;
        }
        var raw = message.ToByteArray();
        if (dictionary is null)
        {
            return raw;
        }
        var compressed = new StreamEvent { Dictionary = dictionary.Id, Compressed = UnsafeByteOperations.UnsafeWrap(dictionary.Compress(raw)) };
        return compressed.CalculateSize() < raw.Length ? compressed.ToByteArray() : raw;
    }

    /// <summary>
    /// Decodes the value of <see cref="Field"/>; null if it is not a stream event. A compressed value needs its
    /// dictionary (<see cref="LoadDictionariesAsync"/>): without it this throws
    /// <see cref="EventStreamDictionaryMissingException"/>, never answers null for a stored event.
    /// </summary>
    public static EventStreamEntry? Decode(ReadOnlySpan<byte> value)
    {
        StreamEvent message;
        try
        {
            message = StreamEvent.Parser.ParseFrom(value);
            if (message.Compressed.Length > 0)
            {
                if (!Dictionaries.TryGetValue(message.Dictionary, out var dictionary))
                {
                    throw new EventStreamDictionaryMissingException(message.Dictionary);
                }
                if (dictionary.Decompress(message.Compressed.Span) is not { } raw)
                {
                    return null;
                }
                message = StreamEvent.Parser.ParseFrom(raw);
            }
        }
        catch (InvalidProtocolBufferException)
        {
            return null;
        }
        var eventId = message.EventIdBytes.Length == 16 ? Convert.ToHexStringLower(message.EventIdBytes.Span) : message.EventId;
        var traceParent = message.TraceContext.Length == 25 ? UnpackTraceParent(message.TraceContext.Span) : message.Traceparent;
        return new EventStreamEntry(eventId, message.CustomerId, message.EventName, message.EventTimeMs, message.ReceivedMs,
            message.ConfigName, message.AttributesJson.Length == 0 ? "{}" : message.AttributesJson.ToStringUtf8(), traceParent, message.Replayed, message.Module);
    }

    /// <summary>
    /// Decodes an entry read from a stream, given its field values by name: the partitioned streams' one field, or
    /// the named fields of a <see cref="LegacyKey"/> entry. Null when the entry is neither.
    /// </summary>
    public static EventStreamEntry? Decode(Func<string, string?> text, Func<string, byte[]?> bytes)
    {
        if (bytes(Field) is { } encoded)
        {
            return Decode(encoded);
        }
        var eventId = text("event_id");
        if (string.IsNullOrEmpty(eventId))
        {
            return null;
        }
        _ = long.TryParse(text("event_time_ms"), NumberStyles.Integer, CultureInfo.InvariantCulture, out var eventTimeMs);
        _ = long.TryParse(text("received_ms"), NumberStyles.Integer, CultureInfo.InvariantCulture, out var receivedMs);
        return new EventStreamEntry(eventId, text("customer_id") ?? "", text("event_name") ?? "", eventTimeMs, receivedMs,
            text("config_name") ?? "", text("attributes") ?? "{}", text("traceparent") ?? "");
    }

    /// <summary>Redis Cluster's slot of a key: CRC16 of its hash tag (the first non-empty <c>{…}</c>) or of the whole key.</summary>
    public static int KeySlot(string key)
    {
        var open = key.IndexOf('{', StringComparison.Ordinal);
        if (open >= 0)
        {
            var close = key.IndexOf('}', open + 1);
            if (close > open + 1)
            {
                key = key[(open + 1)..close];
            }
        }
        return Crc16(Encoding.UTF8.GetBytes(key)) % SlotCount;
    }

    private static byte[]? TryParseHexId(string id)
    {
        if (id.Length != 32)
        {
            return null;
        }
        foreach (var c in id)
        {
            if (c is not ((>= '0' and <= '9') or (>= 'a' and <= 'f')))
            {
                return null;
            }
        }
        return Convert.FromHexString(id);
    }

    private static byte[]? TryPackTraceParent(string traceParent)
    {
        // 00-<32 hex trace id>-<16 hex span id>-<2 hex flags>
        if (traceParent.Length != 55 || !traceParent.StartsWith("00-", StringComparison.Ordinal)
            || traceParent[35] != '-' || traceParent[52] != '-')
        {
            return null;
        }
        var packed = new byte[25];
        return Convert.FromHexString(traceParent.AsSpan(3, 32), packed.AsSpan(0, 16), out _, out var a) == System.Buffers.OperationStatus.Done && a == 16
            && Convert.FromHexString(traceParent.AsSpan(36, 16), packed.AsSpan(16, 8), out _, out var b) == System.Buffers.OperationStatus.Done && b == 8
            && Convert.FromHexString(traceParent.AsSpan(53, 2), packed.AsSpan(24, 1), out _, out var c) == System.Buffers.OperationStatus.Done && c == 1
            && traceParent.AsSpan(3).ToString() == traceParent[3..].ToLowerInvariant()
            ? packed
            : null;
    }

    private static string UnpackTraceParent(ReadOnlySpan<byte> packed) =>
        $"00-{Convert.ToHexStringLower(packed[..16])}-{Convert.ToHexStringLower(packed[16..24])}-{Convert.ToHexStringLower(packed[24..])}";

    /// <summary>CRC16-CCITT (XMODEM), the checksum Redis Cluster takes modulo 16384 for a key's slot.</summary>
    private static int Crc16(ReadOnlySpan<byte> data)
    {
        ushort crc = 0;
        foreach (var b in data)
        {
            crc ^= (ushort)(b << 8);
            for (var i = 0; i < 8; i++)
            {
                crc = (crc & 0x8000) != 0 ? (ushort)((crc << 1) ^ 0x1021) : (ushort)(crc << 1);
            }
        }
        return crc;
    }

    /// <summary>For every hash slot, the shortest tag (base 36, first found) whose keys land in it: built once, the same in every process.</summary>
    private static class SlotTags
    {
        private static readonly string[] Table = Build();

        public static string For(int slot) => Table[slot];

        private static string[] Build()
        {
            const string digits = "0123456789abcdefghijklmnopqrstuvwxyz";
            var table = new string[SlotCount];
            var filled = 0;
            Span<byte> text = stackalloc byte[8];
            for (var n = 0L; filled < SlotCount; n++)
            {
                var length = 0;
                var v = n;
                do
                {
                    text[length++] = (byte)digits[(int)(v % 36)];
                    v /= 36;
                } while (v > 0);
                var slot = Crc16(text[..length]) % SlotCount;
                if (table[slot] is null)
                {
                    table[slot] = "{" + Encoding.ASCII.GetString(text[..length]) + "}";
                    filled++;
                }
            }
            return table;
        }
    }
}
