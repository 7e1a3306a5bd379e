using System.Buffers;
using System.Buffers.Text;
using System.Text;

namespace Integration.Edge.Auth;

/// <summary>
/// Reads <c>Authorization: Basic base64(workspace id:data API key)</c> strictly: extra spaces around
/// either part are an error, as MoEngage's guide warns, rather than silently trimmed.
/// </summary>
internal static class BasicCredentials
{
    private const string Scheme = "Basic ";
    private static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    public static bool TryParse(string? header, out string workspaceId, out string key, out string problem)
    {
        workspaceId = key = problem = "";
        if (string.IsNullOrEmpty(header))
        {
            problem = "The Authorization header is missing; send Basic base64(workspace id:data API key).";
            return false;
        }
        if (!header.StartsWith(Scheme, StringComparison.OrdinalIgnoreCase))
        {
            problem = "The Authorization header must use the Basic scheme.";
            return false;
        }

        var encoded = header.AsSpan(Scheme.Length);
        if (encoded.Length is 0 or > 1024)
        {
            problem = "The Basic credentials are empty or too long.";
            return false;
        }
        var bytes = ArrayPool<byte>.Shared.Rent(Base64.GetMaxDecodedFromUtf8Length(encoded.Length));
        try
        {
            Span<byte> utf8 = stackalloc byte[encoded.Length];
            for (var i = 0; i < encoded.Length; i++)
            {
                if (encoded[i] > 127)
                {
                    problem = "The Basic credentials are not valid base64.";
                    return false;
                }
                utf8[i] = (byte)encoded[i];
            }
            if (Base64.DecodeFromUtf8(utf8, bytes, out _, out var written) != OperationStatus.Done)
            {
                problem = "The Basic credentials are not valid base64.";
                return false;
            }

            string decoded;
            try
            {
                decoded = StrictUtf8.GetString(bytes, 0, written);
            }
            catch (DecoderFallbackException)
            {
                problem = "The Basic credentials are not valid UTF-8.";
                return false;
            }

            var colon = decoded.IndexOf(':');
            if (colon < 0)
            {
                problem = "The Basic credentials must be 'workspace id:data API key'.";
                return false;
            }
            workspaceId = decoded[..colon];
            key = decoded[(colon + 1)..];
            if (workspaceId.Length == 0 || key.Length == 0)
            {
                problem = "The workspace id and the data API key must both be given.";
                return false;
            }
            if (HasWhitespace(workspaceId) || HasWhitespace(key))
            {
                problem = "The workspace id or data API key contains spaces; copy them exactly, without extra spaces.";
                return false;
            }
            return true;
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(bytes);
        }
    }

    private static bool HasWhitespace(string value) => value.AsSpan().IndexOfAny(" \t\r\n") >= 0;
}
