using System.Globalization;
using System.Security.Cryptography;
using System.Text;

namespace Integration.Edge.SegmentSync;

/// <summary>
/// Heap's <c>Heap-Hash</c> header, <c>ts:&lt;timestamp&gt;,hmac:&lt;HMAC-SHA256(secret, timestamp + body)&gt;</c>
/// (heap/heap-api-reference, webhook_spec.yaml and middleware/validateHeapHeader.ts). Accepted as Heap sends it: the
/// timestamp in Unix seconds or (as the reference implementation's <c>Date.now()</c>) milliseconds, the digest in hex
/// or (as the reference implementation's <c>CryptoJS.enc.Base64</c>) base64. The signed text is the timestamp exactly as
/// the header spells it followed by the raw body bytes.
/// </summary>
internal sealed record HeapSignature(string Timestamp, long SignedAtMs, byte[] Digest)
{
    public const string HeaderName = "Heap-Hash";

    /// <summary>Longer headers are refused before any parsing.</summary>
    private const int MaxHeaderLength = 512;

    /// <summary>Below this a timestamp is read as seconds (1e11 s is the year 5138; 1e11 ms is 1973).</summary>
    private const long MillisecondsThreshold = 100_000_000_000;

    /// <summary>The signed request's identity: a repeat of the same signed request has the same one.</summary>
    public string RequestId => Convert.ToHexStringLower(Digest);

    /// <summary>Parses the header; on failure <paramref name="problem"/> says what is wrong with it.</summary>
    public static bool TryParse(string? header, out HeapSignature? signature, out string problem)
    {
        signature = null;
        if (string.IsNullOrEmpty(header))
        {
            problem = $"The {HeaderName} header is required (ts:<unix time>,hmac:<HMAC-SHA256 of ts + body>).";
            return false;
        }
        if (header.Length > MaxHeaderLength)
        {
            problem = $"The {HeaderName} header is longer than {MaxHeaderLength} characters.";
            return false;
        }

        string? timestamp = null, hmac = null;
        foreach (var part in header.Split(','))
        {
            var colon = part.IndexOf(':', StringComparison.Ordinal);
            var name = colon < 0 ? part.Trim() : part[..colon].Trim();
            var value = colon < 0 ? "" : part[(colon + 1)..].Trim();
            switch (name)
            {
                case "ts" when timestamp is null:
                    timestamp = value;
                    break;
                case "hmac" when hmac is null:
                    hmac = value;
                    break;
                default:
                    problem = $"The {HeaderName} header must be ts:<unix time>,hmac:<digest>; '{Truncate(name)}' is unexpected.";
                    return false;
            }
        }

        if (timestamp is null || timestamp.Length is 0 or > 16 || !timestamp.All(char.IsAsciiDigit) ||
            !long.TryParse(timestamp, NumberStyles.None, CultureInfo.InvariantCulture, out var ts) || ts == 0)
        {
            problem = $"The {HeaderName} header needs ts:<unix time in seconds or milliseconds>.";
            return false;
        }
        if (hmac is null || !TryDecodeDigest(hmac, out var digest))
        {
            problem = $"The {HeaderName} header needs hmac:<HMAC-SHA256 digest, 64 hex digits or 44 base64 characters>.";
            return false;
        }

        signature = new HeapSignature(timestamp, ts < MillisecondsThreshold ? ts * 1000 : ts, digest);
        problem = "";
        return true;
    }

    /// <summary>Why the signature's time is outside the accepted window, or null when it is inside.</summary>
    public string? TimeProblem(long nowMs, int maxAgeSeconds, int maxAheadSeconds)
    {
        if (nowMs - SignedAtMs > maxAgeSeconds * 1000L)
        {
            return $"The {HeaderName} signature is older than {maxAgeSeconds} s (replayed or delayed); Heap signs each delivery anew.";
        }
        if (SignedAtMs - nowMs > maxAheadSeconds * 1000L)
        {
            return $"The {HeaderName} signature is dated more than {maxAheadSeconds} s ahead of this server's clock.";
        }
        return null;
    }

    /// <summary>Whether the digest is HMAC-SHA256(secret, timestamp + body), compared in constant time.</summary>
    public bool Matches(ReadOnlySpan<byte> secret, ReadOnlySpan<byte> body)
    {
        using var hmac = IncrementalHash.CreateHMAC(HashAlgorithmName.SHA256, secret);
        hmac.AppendData(Encoding.ASCII.GetBytes(Timestamp));
        hmac.AppendData(body);
        Span<byte> expected = stackalloc byte[HMACSHA256.HashSizeInBytes];
        hmac.GetHashAndReset(expected);
        return CryptographicOperations.FixedTimeEquals(expected, Digest);
    }

    private static bool TryDecodeDigest(string text, out byte[] digest)
    {
        digest = [];
        if (text.Length == 2 * HMACSHA256.HashSizeInBytes && text.All(char.IsAsciiHexDigit))
        {
            digest = Convert.FromHexString(text);
            return true;
        }
        var buffer = new byte[HMACSHA256.HashSizeInBytes + 2];
        if (text.Length is 43 or 44 && Convert.TryFromBase64String(text.Length == 43 ? text + "=" : text, buffer, out var written) &&
            written == HMACSHA256.HashSizeInBytes)
        {
            digest = buffer[..written];
            return true;
        }
        return false;
    }

    private static string Truncate(string value) => value.Length <= 32 ? value : value[..32] + "…";
}
