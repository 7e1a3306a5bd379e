using System.Diagnostics.CodeAnalysis;

namespace Integration.Domain;

/// <summary>
/// Normalises <c>customer_id</c> by the config's identifier kind, so that one person never becomes two
/// profiles: emails trimmed and lower-cased, phones to E.164, external ids as given.
/// </summary>
public static class Identifiers
{
    public const int MaxLength = 256;

    // Values that trackers and forms put where no real id is known; storing them would merge strangers.
    private static readonly HashSet<string> Placeholders = new(StringComparer.OrdinalIgnoreCase)
    {
        "unknown", "null", "undefined", "nil", "none", "0", "-1", "guest", "anonymous", "n/a", "na", "test", "nan",
    };

    /// <summary>Normalises <paramref name="raw"/>; on failure <paramref name="error"/> says why.</summary>
    public static bool TryNormalize(string raw, IdentifierKind kind, [NotNullWhen(true)] out string? normalized, [NotNullWhen(false)] out string? error)
    {
        normalized = null;
        var trimmed = raw.Trim();
        if (trimmed.Length == 0)
        {
            error = "must not be empty";
            return false;
        }
        if (trimmed.Length > MaxLength)
        {
            error = $"must be at most {MaxLength} characters";
            return false;
        }
        if (Placeholders.Contains(trimmed))
        {
            error = $"'{trimmed}' is a placeholder, not an identifier";
            return false;
        }

        switch (kind)
        {
            case IdentifierKind.Email:
                return TryNormalizeEmail(trimmed, out normalized, out error);
            case IdentifierKind.Phone:
                return TryNormalizePhone(trimmed, out normalized, out error);
            case IdentifierKind.ExternalId:
                if (trimmed.Length != raw.Length)
                {
                    error = "must not start or end with whitespace";
                    return false;
                }
                if (raw.Any(char.IsControl))
                {
                    error = "must not contain control characters";
                    return false;
                }
                normalized = raw;
                error = null;
                return true;
            default:
                error = "the integration config has no identifier kind";
                return false;
        }
    }

    private static bool TryNormalizeEmail(string value, [NotNullWhen(true)] out string? normalized, [NotNullWhen(false)] out string? error)
    {
        normalized = null;
        var at = value.IndexOf('@');
        if (at <= 0 || at != value.LastIndexOf('@') || at == value.Length - 1 ||
            value.Any(c => char.IsWhiteSpace(c) || char.IsControl(c)))
        {
            error = "is not an email address";
            return false;
        }
        var domain = value.AsSpan(at + 1);
        if (domain.IndexOf('.') <= 0 || domain[^1] == '.')
        {
            error = "is not an email address (the domain needs a dot)";
            return false;
        }
        normalized = value.ToLowerInvariant();
        error = null;
        return true;
    }

    private static bool TryNormalizePhone(string value, [NotNullWhen(true)] out string? normalized, [NotNullWhen(false)] out string? error)
    {
        normalized = null;
        Span<char> digits = stackalloc char[value.Length];
        var count = 0;
        var international = false;
        for (var i = 0; i < value.Length; i++)
        {
            var c = value[i];
            if (c == '+' && count == 0 && !international)
            {
                international = true;
            }
            else if (char.IsAsciiDigit(c))
            {
                digits[count++] = c;
            }
            else if (c is not (' ' or '-' or '.' or '(' or ')'))
            {
                error = $"is not a phone number (unexpected '{c}')";
                return false;
            }
        }

        var span = digits[..count];
        if (!international && span.StartsWith("00"))
        {
            international = true;
            span = span[2..];
        }
        if (!international)
        {
            error = "must include the country code (E.164, e.g. +14155550100)";
            return false;
        }
        if (span.Length is < 7 or > 15 || span[0] == '0')
        {
            error = "is not an E.164 phone number (7 to 15 digits after +, not starting with 0)";
            return false;
        }
        normalized = "+" + new string(span);
        error = null;
        return true;
    }
}
