using System.Globalization;
using System.Numerics;
using System.Text;

namespace Integration.Templates;

/// <summary>Python's value semantics as Jinja2 exposes them: truth, printing, equality, ordering, arithmetic.</summary>
internal static class Py
{
    public static readonly object True = true;
    public static readonly object False = false;
    private static readonly object[] SmallIntegers = Enumerable.Range(-128, 1152).Select(i => (object)(long)i).ToArray();

    /// <summary>A boxed boolean without an allocation.</summary>
    public static object Box(bool value) => value ? True : False;

    /// <summary>A boxed integer, shared for small values (loop counters, counts).</summary>
    public static object Box(long value) => value is >= -128 and < 1024 ? SmallIntegers[value + 128] : value;

    public static string TypeName(object? v) => v switch
    {
        null => "NoneType",
        bool => "bool",
        long => "int",
        double => "float",
        string => "str",
        TemplateTuple => "tuple",
        List<object?> => "list",
        TemplateDict or ITemplateObject => "dict",
        Undefined => "Undefined",
        Macro => "Macro",
        TemplateDateTime => "datetime",
        TemplateTimeDelta => "timedelta",
        _ => "object",
    };

    public static bool Truthy(object? v) => v switch
    {
        null => false,
        bool b => b,
        long l => l != 0,
        double d => d != 0,
        string s => s.Length > 0,
        List<object?> l => l.Count > 0,
        TemplateDict d => d.Count > 0,
        ITemplateObject o => o.Keys.Any(),
        Undefined => false,
        TemplateTimeDelta t => t.Value != TimeSpan.Zero,
        _ => true,
    };

    public static bool IsNumber(object? v) => v is long or double or bool;

    public static bool IsInteger(object? v) => v is long or bool;

    public static double ToDouble(object? v) => v switch
    {
        long l => l,
        double d => d,
        bool b => b ? 1 : 0,
        _ => throw new TemplateRuntimeError($"expected a number, got {TypeName(v)}"),
    };

    public static long ToLong(object? v) => v switch
    {
        long l => l,
        bool b => b ? 1 : 0,
        _ => throw new TemplateRuntimeError($"'{TypeName(v)}' object cannot be interpreted as an integer"),
    };

    /// <summary>Python's <c>str()</c>.</summary>
    public static string Str(object? v) => v switch
    {
        string s => s,
        null => "None",
        bool b => b ? "True" : "False",
        long l => l.ToString(CultureInfo.InvariantCulture),
        double d => FloatRepr(d),
        Undefined => "",
        _ => Repr(v),
    };

    /// <summary>Python's <c>repr()</c>.</summary>
    public static string Repr(object? v)
    {
        var sb = new StringBuilder();
        AppendRepr(sb, v, 0);
        return sb.ToString();
    }

    private static void AppendRepr(StringBuilder sb, object? v, int depth)
    {
        if (depth > 50)
        {
            sb.Append("...");
            return;
        }
        switch (v)
        {
            case string s:
                AppendStringRepr(sb, s);
                break;
            case TemplateTuple t:
                sb.Append('(');
                for (var i = 0; i < t.Count; i++)
                {
                    if (i > 0) sb.Append(", ");
                    AppendRepr(sb, t[i], depth + 1);
                }
                if (t.Count == 1) sb.Append(',');
                sb.Append(')');
                break;
            case List<object?> l:
                sb.Append('[');
                for (var i = 0; i < l.Count; i++)
                {
                    if (i > 0) sb.Append(", ");
                    AppendRepr(sb, l[i], depth + 1);
                }
                sb.Append(']');
                break;
            case TemplateDict d:
                sb.Append('{');
                var first = true;
                foreach (var (key, value) in d)
                {
                    if (!first) sb.Append(", ");
                    first = false;
                    AppendRepr(sb, key, depth + 1);
                    sb.Append(": ");
                    AppendRepr(sb, value, depth + 1);
                }
                sb.Append('}');
                break;
            case ITemplateObject o:
                sb.Append('{');
                var firstKey = true;
                foreach (var key in o.Keys)
                {
                    if (!firstKey) sb.Append(", ");
                    firstKey = false;
                    AppendStringRepr(sb, key);
                    sb.Append(": ");
                    AppendRepr(sb, o.Get(key), depth + 1);
                }
                sb.Append('}');
                break;
            case Undefined:
                sb.Append("Undefined");
                break;
            case Macro m:
                sb.Append("<Macro '").Append(m.Name).Append("'>");
                break;
            case Namespace:
                sb.Append("<Namespace>");
                break;
            case TemplateDateTime dt:
                sb.Append(dt.ToString());
                break;
            default:
                sb.Append(Str(v));
                break;
        }
    }

    private static void AppendStringRepr(StringBuilder sb, string s)
    {
        var quote = s.Contains('\'') && !s.Contains('"') ? '"' : '\'';
        sb.Append(quote);
        foreach (var rune in s.EnumerateRunes())
        {
            var c = rune.Value;
            if (c == quote || c == '\\')
            {
                sb.Append('\\').Append((char)c);
            }
            else if (c == '\n') sb.Append("\\n");
            else if (c == '\r') sb.Append("\\r");
            else if (c == '\t') sb.Append("\\t");
            else if (c < 0x20 || c == 0x7f) sb.Append(CultureInfo.InvariantCulture, $"\\x{c:x2}");
            else if (c > 0x7f && !IsPrintable(rune))
            {
                sb.Append(c <= 0xff ? $"\\x{c:x2}" : c <= 0xffff ? $"\\u{c:x4}" : $"\\U{c:x8}");
            }
            else sb.Append(rune.ToString());
        }
        sb.Append(quote);
    }

    private static bool IsPrintable(Rune rune) => Rune.GetUnicodeCategory(rune) switch
    {
        UnicodeCategory.Control or UnicodeCategory.Format or UnicodeCategory.LineSeparator or UnicodeCategory.ParagraphSeparator
            or UnicodeCategory.SpaceSeparator or UnicodeCategory.Surrogate or UnicodeCategory.PrivateUse or UnicodeCategory.OtherNotAssigned => false,
        _ => true,
    };

    /// <summary>Python's shortest round-trip float repr: 20.0, 0.1, 1e+16, 1.5e-05, inf, nan.</summary>
    public static string FloatRepr(double d)
    {
        if (double.IsNaN(d)) return "nan";
        if (double.IsPositiveInfinity(d)) return "inf";
        if (double.IsNegativeInfinity(d)) return "-inf";
        if (d == 0) return double.IsNegative(d) ? "-0.0" : "0.0";
        var r = Math.Abs(d).ToString("R", CultureInfo.InvariantCulture);
        var exponent = 0;
        var e = r.IndexOfAny(['E', 'e']);
        if (e >= 0)
        {
            exponent = int.Parse(r.AsSpan(e + 1), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture);
            r = r[..e];
        }
        var point = r.IndexOf('.');
        var intDigits = point < 0 ? r.Length : point;
        var digits = point < 0 ? r : r.Remove(point, 1);
        var leading = 0;
        while (leading < digits.Length - 1 && digits[leading] == '0') leading++;
        digits = digits[leading..];
        var x = intDigits - leading - 1 + exponent;
        digits = digits.TrimEnd('0');
        if (digits.Length == 0) digits = "0";
        var sb = new StringBuilder();
        if (d < 0) sb.Append('-');
        if (x < -4 || x >= 16)
        {
            sb.Append(digits[0]);
            if (digits.Length > 1) sb.Append('.').Append(digits, 1, digits.Length - 1);
            sb.Append('e').Append(x < 0 ? '-' : '+').Append(Math.Abs(x).ToString("00", CultureInfo.InvariantCulture));
        }
        else if (x < 0)
        {
            sb.Append("0.").Append('0', -x - 1).Append(digits);
        }
        else if (digits.Length <= x + 1)
        {
            sb.Append(digits).Append('0', x + 1 - digits.Length).Append(".0");
        }
        else
        {
            sb.Append(digits, 0, x + 1).Append('.').Append(digits, x + 1, digits.Length - x - 1);
        }
        return sb.ToString();
    }

    /// <summary>Python's <c>round(x, n)</c> on a float: on the exact binary value, halves to even.</summary>
    public static double Round(double value, int digits)
    {
        if (!double.IsFinite(value) || value == 0 || digits > 330) return value;
        var bits = BitConverter.DoubleToInt64Bits(value);
        var negative = bits < 0;
        var exponent = (int)((bits >> 52) & 0x7FF);
        var mantissa = bits & 0xFFFFFFFFFFFFFL;
        if (exponent == 0) exponent++;
        else mantissa |= 1L << 52;
        exponent -= 1075;
        // value == numerator / 10^scale exactly
        BigInteger numerator = mantissa;
        var scale = 0;
        if (exponent > 0)
        {
            numerator <<= exponent;
        }
        else
        {
            numerator *= BigInteger.Pow(5, -exponent);
            scale = -exponent;
        }
        if (scale <= digits) return value;
        var cut = BigInteger.Pow(10, scale - digits);
        var q = BigInteger.DivRem(numerator, cut, out var rest);
        var twice = rest * 2;
        if (twice > cut || (twice == cut && !q.IsEven)) q += 1;
        var text = $"{q}e{-digits}";
        var result = double.Parse(text, NumberStyles.Float, CultureInfo.InvariantCulture);
        return negative ? -result : result;
    }

    public static bool Eq(object? a, object? b)
    {
        if (ReferenceEquals(a, b)) return true;
        switch (a)
        {
            case null: return b is null;
            case Undefined: return b is Undefined;
            case string s: return b is string t && string.Equals(s, t, StringComparison.Ordinal);
            case long or double or bool:
                if (!IsNumber(b)) return false;
                if (a is double || b is double) return ToDouble(a) == ToDouble(b);
                return ToLong(a) == ToLong(b);
            case TemplateTuple ta:
                return b is TemplateTuple tb && ListEq(ta, tb);
            case List<object?> la:
                return b is List<object?> lb && b is not TemplateTuple && ListEq(la, lb);
            case TemplateDict da:
                if (b is not TemplateDict db || da.Count != db.Count) return false;
                foreach (var (key, value) in da)
                {
                    if (!db.TryGetValue(key, out var other) || !Eq(value, other)) return false;
                }
                return true;
            case TemplateDateTime dt:
                return b is TemplateDateTime dt2 && dt.Value == dt2.Value;
            case TemplateTimeDelta td:
                return b is TemplateTimeDelta td2 && td.Value == td2.Value;
            default: return a.Equals(b);
        }
    }

    private static bool ListEq(List<object?> a, List<object?> b)
    {
        if (a.Count != b.Count) return false;
        for (var i = 0; i < a.Count; i++)
        {
            if (!Eq(a[i], b[i])) return false;
        }
        return true;
    }

    /// <summary>Python's ordering; mixing types is a TypeError as in Python 3.</summary>
    public static int Compare(object? a, object? b, string op)
    {
        if (a is Undefined ua) throw new TemplateRuntimeError(ua.Message);
        if (b is Undefined ub) throw new TemplateRuntimeError(ub.Message);
        if (IsNumber(a) && IsNumber(b))
        {
            if (a is double || b is double)
            {
                var x = ToDouble(a);
                var y = ToDouble(b);
                if (double.IsNaN(x) || double.IsNaN(y)) return op is "<" or "<=" ? 1 : -1;
                return x.CompareTo(y);
            }
            return ToLong(a).CompareTo(ToLong(b));
        }
        if (a is string s && b is string t) return CompareStrings(s, t);
        if (a is List<object?> la && b is List<object?> lb && (a is TemplateTuple) == (b is TemplateTuple))
        {
            for (var i = 0; i < Math.Min(la.Count, lb.Count); i++)
            {
                if (!Eq(la[i], lb[i])) return Compare(la[i], lb[i], op);
            }
            return la.Count.CompareTo(lb.Count);
        }
        if (a is TemplateDateTime da && b is TemplateDateTime db) return da.Value.CompareTo(db.Value);
        if (a is TemplateTimeDelta ta && b is TemplateTimeDelta tb) return ta.Value.CompareTo(tb.Value);
        throw new TemplateRuntimeError($"'{op}' not supported between instances of '{TypeName(a)}' and '{TypeName(b)}'");
    }

    // Code point order, as Python compares strings.
    public static int CompareStrings(string s, string t)
    {
        var n = Math.Min(s.Length, t.Length);
        for (var i = 0; i < n; i++)
        {
            var a = s[i];
            var b = t[i];
            if (a == b) continue;
            if (char.IsSurrogate(a) != char.IsSurrogate(b))
            {
                return char.IsSurrogate(a) ? 1 : -1;
            }
            return a.CompareTo(b);
        }
        return s.Length.CompareTo(t.Length);
    }

    public static bool HasSurrogates(string s) => s.AsSpan().IndexOfAnyInRange('\uD800', '\uDFFF') >= 0;

    /// <summary>Length in code points, as Python counts.</summary>
    public static int Length(string s)
    {
        if (!HasSurrogates(s)) return s.Length;
        var n = 0;
        foreach (var _ in s.EnumerateRunes()) n++;
        return n;
    }

    public static string[] CodePoints(string s)
    {
        if (!HasSurrogates(s))
        {
            var chars = new string[s.Length];
            for (var i = 0; i < s.Length; i++) chars[i] = s[i].ToString();
            return chars;
        }
        var list = new List<string>();
        foreach (var rune in s.EnumerateRunes()) list.Add(rune.ToString());
        return [.. list];
    }

    public static int Len(object? v) => v switch
    {
        string s => Length(s),
        List<object?> l => l.Count,
        TemplateDict d => d.Count,
        ITemplateObject o => o.Keys.Count(),
        Undefined => 0,
        _ => throw new TemplateRuntimeError($"object of type '{TypeName(v)}' has no len()"),
    };

    /// <summary>What a for loop walks over: list items, dict keys, string characters; undefined is empty.</summary>
    public static List<object?> Iterate(object? v)
    {
        switch (v)
        {
            case List<object?> l:
                return l;
            case string s:
                return [.. CodePoints(s)];
            case TemplateDict d:
                return [.. d.Keys];
            case ITemplateObject o:
                return [.. o.Keys];
            case Undefined:
                return [];
            default:
                throw new TemplateRuntimeError($"'{TypeName(v)}' object is not iterable");
        }
    }

    public static bool Contains(object? container, object? item)
    {
        switch (container)
        {
            case string s:
                if (item is not string t)
                {
                    throw new TemplateRuntimeError($"'in <string>' requires string as left operand, not {TypeName(item)}");
                }
                return s.Contains(t, StringComparison.Ordinal);
            case List<object?> l:
                foreach (var x in l)
                {
                    if (Eq(x, item)) return true;
                }
                return false;
            case TemplateDict d:
                return item is not null && d.ContainsKey(item);
            case ITemplateObject o:
                return item is string key && o.Get(key) is not Undefined;
            case Undefined:
                return false;
            default:
                throw new TemplateRuntimeError($"argument of type '{TypeName(container)}' is not iterable");
        }
    }
}
