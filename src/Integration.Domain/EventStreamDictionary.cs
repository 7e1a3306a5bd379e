using System.Buffers;
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
/// small an input.
/// </summary>
/// <remarks>
/// Memory: the dictionary is digested once into a zstd CDict and DDict (tens of KB); the compression and decompression
/// contexts, which are not thread-safe and cost ~130 KB each with a dictionary loaded into them, are shared by every
/// dictionary of the process (one per concurrent caller, pooled) and pick the dictionary per call by reference. A
/// context per dictionary and caller made ingestion's memory grow with the number of workspaces (200 of them passed
/// the 300 MB bound).
/// </remarks>
public sealed unsafe class EventStreamDictionary
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

    /// <summary>
    /// Training without zstd's parameter search (which trains ~40 times to pick k and d: ~100 ms a workspace here,
    /// 20 s of CPU when 200 workspaces start at once); fixed values measured on realistic entries instead.
    /// </summary>
    private static readonly ZDICT_fastCover_params_t TrainingParameters = new()
    {
        k = TrainingSegment, d = TrainingDmer, f = 20, accel = 1, steps = 0, shrinkDict = 0,
        zParams = new ZDICT_params_t { compressionLevel = Level },
    };

    private const uint TrainingSegment = 2000;
    private const uint TrainingDmer = 8;

    private static readonly ConcurrentBag<nint> Compressors = [];
    private static readonly ConcurrentBag<nint> Decompressors = [];

    private readonly byte[] _bytes;
    private readonly Digested _digested;

    private EventStreamDictionary(byte[] bytes, ulong id)
    {
        _bytes = bytes;
        Id = id;
        _digested = new Digested(bytes);
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
            return FromBytes(DictBuilder.TrainFromBufferFastCover(samples, TrainingParameters, MaxBytes).ToArray());
        }
        catch (ZstdException)
        {
            return null;
        }
    }

    public static ulong IdOf(ReadOnlySpan<byte> bytes) => BinaryPrimitives.ReadUInt64LittleEndian(SHA256.HashData(bytes));

    internal byte[] Compress(ReadOnlySpan<byte> raw)
    {
        var context = Compressors.TryTake(out var pooled) ? (ZSTD_CCtx_s*)pooled : NewCompressor();
        var bound = (int)Methods.ZSTD_compressBound((nuint)raw.Length);
        var rented = ArrayPool<byte>.Shared.Rent(bound);
        try
        {
            Check(Methods.ZSTD_CCtx_refCDict(context, _digested.Compression));
            nuint written;
            fixed (byte* source = raw)
            fixed (byte* destination = rented)
            {
                written = Check(Methods.ZSTD_compress2(context, destination, (nuint)rented.Length, source, (nuint)raw.Length));
            }
            return rented.AsSpan(0, (int)written).ToArray();
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(rented);
            // Unreferenced again, so a pooled context keeps no dictionary alive.
            Methods.ZSTD_CCtx_refCDict(context, null);
            Compressors.Add((nint)context);
            // The digested dictionary's finalizer frees what the context just used: not before here.
            GC.KeepAlive(_digested);
        }
    }

    /// <summary>The entry compressed with this dictionary; null when it is not a valid frame of it.</summary>
    internal byte[]? Decompress(ReadOnlySpan<byte> compressed)
    {
        var context = Decompressors.TryTake(out var pooled) ? (ZSTD_DCtx_s*)pooled : NewDecompressor();
        try
        {
            Check(Methods.ZSTD_DCtx_refDDict(context, _digested.Decompression));
            // Entries are small: a first guess of 8× the compressed size fits almost all, a larger buffer the rest.
            for (var size = Math.Max(1024, compressed.Length * 8); ; size *= 4)
            {
                var buffer = new byte[Math.Min(size, MaxEntryBytes)];
                nuint written;
                fixed (byte* source = compressed)
                fixed (byte* destination = buffer)
                {
                    written = Methods.ZSTD_decompressDCtx(context, destination, (nuint)buffer.Length, source, (nuint)compressed.Length);
                }
                if (!Methods.ZSTD_isError(written))
                {
                    return buffer.AsSpan(0, (int)written).ToArray();
                }
                // A corrupt frame leaves the context mid-frame: start it again (its parameters stay).
                Methods.ZSTD_DCtx_reset(context, ZSTD_ResetDirective.ZSTD_reset_session_only);
                if ((ZSTD_ErrorCode)(0 - (long)written) != ZSTD_ErrorCode.ZSTD_error_dstSize_tooSmall || buffer.Length >= MaxEntryBytes)
                {
                    return null;
                }
            }
        }
        finally
        {
            Methods.ZSTD_DCtx_refDDict(context, null);
            Decompressors.Add((nint)context);
            GC.KeepAlive(_digested);
        }
    }

    private static ZSTD_CCtx_s* NewCompressor()
    {
        var context = Methods.ZSTD_createCCtx();
        Check(Methods.ZSTD_CCtx_setParameter(context, FormatParameter, Magicless));
        Check(Methods.ZSTD_CCtx_setParameter(context, ZSTD_cParameter.ZSTD_c_checksumFlag, 0));
        Check(Methods.ZSTD_CCtx_setParameter(context, ZSTD_cParameter.ZSTD_c_dictIDFlag, 0));
        return context;
    }

    private static ZSTD_DCtx_s* NewDecompressor()
    {
        var context = Methods.ZSTD_createDCtx();
        Check(Methods.ZSTD_DCtx_setParameter(context, DecompressFormatParameter, Magicless));
        return context;
    }

    private static nuint Check(nuint code) =>
        Methods.ZSTD_isError(code) ? throw new ZstdException((ZSTD_ErrorCode)(0 - (long)code), Methods.ZSTD_getErrorName(code)) : code;

    /// <summary>
    /// The dictionary digested for zstd, each side on first use (campaigns only decompresses, and a CDict at level 3 is
    /// ~117 KB against a DDict's ~31 KB): native memory, released with the dictionary.
    /// </summary>
    private sealed class Digested(byte[] bytes)
    {
        private volatile ZSTD_CDict_s* _compression;
        private volatile ZSTD_DDict_s* _decompression;

        ~Digested()
        {
            Methods.ZSTD_freeCDict(_compression);
            Methods.ZSTD_freeDDict(_decompression);
        }

        public ZSTD_CDict_s* Compression
        {
            get
            {
                if (_compression is null)
                {
                    lock (this)
                    {
                        if (_compression is null)
                        {
                            fixed (byte* dictionary = bytes)
                            {
                                _compression = Loaded(Methods.ZSTD_createCDict(dictionary, (nuint)bytes.Length, Level));
                            }
                        }
                    }
                }
                return _compression;
            }
        }

        public ZSTD_DDict_s* Decompression
        {
            get
            {
                if (_decompression is null)
                {
                    lock (this)
                    {
                        if (_decompression is null)
                        {
                            fixed (byte* dictionary = bytes)
                            {
                                _decompression = Loaded(Methods.ZSTD_createDDict(dictionary, (nuint)bytes.Length));
                            }
                        }
                    }
                }
                return _decompression;
            }
        }

        private static T* Loaded<T>(T* digested) where T : unmanaged =>
            digested is not null ? digested : throw new ZstdException(ZSTD_ErrorCode.ZSTD_error_dictionary_corrupted, "zstd could not load the dictionary");
    }
}
