using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.Security.Cryptography;
using ZstdSharp;
using ZstdSharp.Unsafe;

namespace Integration.Domain;

/// <summary>
/// A workspace's zstd dictionary for its event stream entries (docs/keyspace.md, "Stream entry compression"): trained
/// by ingestion from the workspace's first entries, stored once in Redis and never changed, so every process that has
/// read it (by its <see cref="Id"/>) keeps it for good. An entry of ~300 bytes, mostly attribute names and values
/// repeated from event to event, compresses to about a third with it; without one, zstd gains almost nothing on so
/// small an input. Compressors and decompressors are not thread-safe: each dictionary keeps a pool of both.
/// </summary>
public sealed class EventStreamDictionary
{
    /// <summary>The bound on one dictionary (zstd's gain flattens beyond a few KB for entries this small).</summary>
    public const int MaxBytes = 4096;

    /// <summary>zstd's default level: within 5 % of the best size here at a fraction of the cost.</summary>
    private const int Level = 3;

    /// <summary>ZSTD_c_format / ZSTD_d_format and ZSTD_f_zstd1_magicless: no 4-byte magic number in each entry.</summary>
    private const ZSTD_cParameter FormatParameter = ZSTD_cParameter.ZSTD_c_experimentalParam2;
    private const ZSTD_dParameter DecompressFormatParameter = ZSTD_dParameter.ZSTD_d_experimentalParam1;
    private const int Magicless = 1;

    /// <summary>The largest entry a decompression produces (ingestion refuses larger records long before).</summary>
    private const int MaxEntryBytes = 16 << 20;

    private readonly ConcurrentBag<Compressor> _compressors = [];
    private readonly ConcurrentBag<Decompressor> _decompressors = [];
    private readonly byte[] _bytes;

    private EventStreamDictionary(byte[] bytes, ulong id)
    {
        _bytes = bytes;
        Id = id;
    }

    /// <summary>The first 8 bytes of the dictionary's SHA-256, little-endian: the same bytes have the same id everywhere.</summary>
    public ulong Id { get; }

    /// <summary>The dictionary as stored (<see cref="EventStream.DictionaryKey"/>).</summary>
    public ReadOnlySpan<byte> Bytes => _bytes;

    /// <summary>A dictionary from its stored bytes.</summary>
    public static EventStreamDictionary FromBytes(byte[] bytes) => new(bytes, IdOf(bytes));

    /// <summary>Trains a dictionary on encoded (uncompressed) entries; null when zstd finds too little to learn from.</summary>
    public static EventStreamDictionary? Train(IReadOnlyCollection<byte[]> samples)
    {
        try
        {
            return FromBytes(DictBuilder.TrainFromBuffer(samples, MaxBytes));
        }
        catch (ZstdException)
        {
            return null;
        }
    }

    public static ulong IdOf(ReadOnlySpan<byte> bytes) => BinaryPrimitives.ReadUInt64LittleEndian(SHA256.HashData(bytes));

    internal byte[] Compress(ReadOnlySpan<byte> raw)
    {
        if (!_compressors.TryTake(out var compressor))
        {
            compressor = new Compressor(Level);
            compressor.SetParameter(FormatParameter, Magicless);
            compressor.SetParameter(ZSTD_cParameter.ZSTD_c_checksumFlag, 0);
            compressor.SetParameter(ZSTD_cParameter.ZSTD_c_dictIDFlag, 0);
            compressor.LoadDictionary(_bytes);
        }
        try
        {
            return compressor.Wrap(raw).ToArray();
        }
        finally
        {
            _compressors.Add(compressor);
        }
    }

    /// <summary>The entry compressed with this dictionary; null when it is not a valid frame of it.</summary>
    internal byte[]? Decompress(ReadOnlySpan<byte> compressed)
    {
        if (!_decompressors.TryTake(out var decompressor))
        {
            decompressor = new Decompressor();
            decompressor.SetParameter(DecompressFormatParameter, Magicless);
            decompressor.LoadDictionary(_bytes);
        }
        try
        {
            // Entries are small: a first guess of 8× the compressed size fits almost all, a larger buffer the rest.
            for (var size = Math.Max(1024, compressed.Length * 8); ; size *= 4)
            {
                var buffer = new byte[Math.Min(size, MaxEntryBytes)];
                if (decompressor.TryUnwrap(compressed, buffer, out var written))
                {
                    return buffer.AsSpan(0, written).ToArray();
                }
                if (buffer.Length >= MaxEntryBytes)
                {
                    return null;
                }
            }
        }
        catch (ZstdException)
        {
            // A corrupt frame leaves the decompressor mid-frame: drop it rather than pool it.
            decompressor.Dispose();
            decompressor = null;
            return null;
        }
        finally
        {
            if (decompressor is not null)
            {
                _decompressors.Add(decompressor);
            }
        }
    }
}
