using System.Globalization;
using System.Text;

namespace Integration.Templates;

/// <summary>Python's <c>%</c> string formatting (the <c>format</c> filter) and a basic <c>str.format</c>.</summary>
internal static class Formatting
{
    public static string Fixed(double value, int precision)
    {
        if (!double.IsFinite(value)) return Py.FloatRepr(value);
        precision = Math.Clamp(precision, 0, 100);
        return Py.Round(value, precision).ToString("F" + precision, CultureInfo.InvariantCulture);
    }

    public static string Percent(RenderContext c, string format, object? args)
    {
        var positional = args is TemplateTuple t ? t.ToArray() : [args];
        var mapping = args as TemplateDict;
        var next = 0;
        var sb = new StringBuilder();
        for (var i = 0; i < format.Length; i++)
        {
            var ch = format[i];
            if (ch != '%')
            {
                sb.Append(ch);
                continue;
            }
            if (++i >= format.Length) throw new TemplateRuntimeError("incomplete format");
            object? value = null;
            var haveValue = false;
            if (format[i] == '(')
            {
                var close = format.IndexOf(')', i);
                if (close < 0) throw new TemplateRuntimeError("incomplete format key");
                var key = format[(i + 1)..close];
                if (mapping is null) throw new TemplateRuntimeError("format requires a mapping");
                if (!mapping.TryGetValue(key, out value)) throw new TemplateRuntimeError($"KeyError: '{key}'");
                haveValue = true;
                i = close + 1;
            }
            var flags = "";
            while (i < format.Length && "-+ #0".Contains(format[i])) flags += format[i++];
            var width = 0;
            while (i < format.Length && char.IsAsciiDigit(format[i])) width = width * 10 + (format[i++] - '0');
            int? precision = null;
            if (i < format.Length && format[i] == '.')
            {
                i++;
                var p = 0;
                while (i < format.Length && char.IsAsciiDigit(format[i])) p = p * 10 + (format[i++] - '0');
                precision = p;
            }
            if (i >= format.Length) throw new TemplateRuntimeError("incomplete format");
            var type = format[i];
            if (type == '%')
            {
                sb.Append('%');
                continue;
            }
            if (!haveValue)
            {
                if (mapping is not null && positional.Length == 1) value = mapping;
                else if (next >= positional.Length) throw new TemplateRuntimeError("not enough arguments for format string");
                else value = positional[next++];
            }
            var text = Convert(value, type, flags, precision);
            c.String(sb.Length + Math.Max(width, text.Length));
            Pad(sb, text, width, flags, type is not ('s' or 'r' or 'c'));
        }
        if (mapping is null && next < positional.Length && !(positional.Length == 1 && next == 0 && args is not TemplateTuple && false))
        {
            throw new TemplateRuntimeError("not all arguments converted during string formatting");
        }
        return sb.ToString();
    }

    private static void Pad(StringBuilder sb, string text, int width, string flags, bool numeric)
    {
        if (text.Length >= width)
        {
            sb.Append(text);
        }
        else if (flags.Contains('-'))
        {
            sb.Append(text).Append(' ', width - text.Length);
        }
        else if (flags.Contains('0') && numeric)
        {
            var sign = text.Length > 0 && text[0] is '-' or '+' or ' ' ? text[..1] : "";
            sb.Append(sign).Append('0', width - text.Length).Append(text[sign.Length..]);
        }
        else
        {
            sb.Append(' ', width - text.Length).Append(text);
        }
    }

    private static string Sign(double v, string flags, string digits) =>
        (double.IsNegative(v) && !digits.StartsWith('-') ? "-" : !double.IsNegative(v) && flags.Contains('+') ? "+" : !double.IsNegative(v) && flags.Contains(' ') ? " " : "") + digits;

    private static string Convert(object? value, char type, string flags, int? precision)
    {
        switch (type)
        {
            case 's':
            {
                var text = Py.Str(value);
                return precision is { } p && p < text.Length ? text[..p] : text;
            }
            case 'r':
                return Py.Repr(value);
            case 'd' or 'i' or 'u':
            {
                var n = Number(value, type);
                var l = n is double d ? (double.IsFinite(d) ? (long)Math.Truncate(d) : throw new TemplateRuntimeError("cannot convert float infinity to integer")) : Py.ToLong(n);
                var digits = Math.Abs((decimal)l).ToString(CultureInfo.InvariantCulture);
                if (precision is { } p && digits.Length < p) digits = new string('0', p - digits.Length) + digits;
                return (l < 0 ? "-" : flags.Contains('+') ? "+" : flags.Contains(' ') ? " " : "") + digits;
            }
            case 'x' or 'X' or 'o':
            {
                var l = Py.ToLong(Number(value, type) is double d ? (long)d : Number(value, type));
                var digits = type == 'o' ? System.Convert.ToString(Math.Abs(l), 8) : Math.Abs(l).ToString(type == 'x' ? "x" : "X", CultureInfo.InvariantCulture);
                if (flags.Contains('#')) digits = (type == 'o' ? "0o" : type == 'x' ? "0x" : "0X") + digits;
                return (l < 0 ? "-" : flags.Contains('+') ? "+" : "") + digits;
            }
            case 'f' or 'F':
            {
                var d = Py.ToDouble(Number(value, type));
                if (!double.IsFinite(d)) return Sign(d, flags, type == 'F' ? Py.FloatRepr(d).ToUpperInvariant() : Py.FloatRepr(d));
                var text = Fixed(Math.Abs(d), precision ?? 6);
                if (flags.Contains('#') && precision == 0) text += ".";
                return Sign(d, flags, text);
            }
            case 'e' or 'E':
            {
                var d = Py.ToDouble(Number(value, type));
                return Sign(d, flags, Exponent(Math.Abs(d), precision ?? 6, type == 'E'));
            }
            case 'g' or 'G':
            {
                var d = Py.ToDouble(Number(value, type));
                return Sign(d, flags, General(Math.Abs(d), precision ?? 6, type == 'G', flags.Contains('#')));
            }
            case 'c':
                return value is string one && Py.Length(one) == 1 ? one : char.ConvertFromUtf32((int)Py.ToLong(value));
            default:
                throw new TemplateRuntimeError($"unsupported format character '{type}'");
        }
    }

    private static object Number(object? value, char type) => value is long or double or bool ? value
        : throw new TemplateRuntimeError($"%{type} format: a real number is required, not {Py.TypeName(value)}");

    public static string Exponent(double d, int precision, bool upper)
    {
        if (!double.IsFinite(d)) return upper ? Py.FloatRepr(d).ToUpperInvariant() : Py.FloatRepr(d);
        var text = d.ToString((upper ? "E" : "e") + Math.Clamp(precision, 0, 100), CultureInfo.InvariantCulture);
        // .NET writes three exponent digits (1.5e+000); Python writes at least two.
        var e = text.IndexOfAny(['e', 'E']);
        var exp = int.Parse(text.AsSpan(e + 1), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture);
        return text[..(e + 1)] + (exp < 0 ? "-" : "+") + Math.Abs(exp).ToString("00", CultureInfo.InvariantCulture);
    }

    private static string General(double d, int precision, bool upper, bool alternate)
    {
        if (!double.IsFinite(d)) return upper ? Py.FloatRepr(d).ToUpperInvariant() : Py.FloatRepr(d);
        if (precision == 0) precision = 1;
        if (d == 0) return alternate ? "0." + new string('0', precision - 1) : "0";
        var exp = Exponent(d, precision - 1, false);
        var x = int.Parse(exp.AsSpan(exp.IndexOf('e') + 1), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture);
        string text;
        if (x >= -4 && x < precision)
        {
            text = Fixed(d, precision - 1 - x);
        }
        else
        {
            text = Exponent(d, precision - 1, upper);
        }
        if (!alternate)
        {
            var e = text.IndexOfAny(['e', 'E']);
            var mantissa = e < 0 ? text : text[..e];
            var tail = e < 0 ? "" : text[e..];
            if (mantissa.Contains('.')) mantissa = mantissa.TrimEnd('0').TrimEnd('.');
            text = mantissa + tail;
        }
        return text;
    }

    /// <summary>A subset of <c>str.format</c>: <c>{}</c>, <c>{0}</c>, <c>{name}</c>, and specs like <c>{:.2f}</c>, <c>{:&gt;8}</c>, <c>{:,}</c>.</summary>
    public static string StrFormat(RenderContext c, string format, Arguments a)
    {
        var sb = new StringBuilder();
        var auto = 0;
        for (var i = 0; i < format.Length; i++)
        {
            var ch = format[i];
            if (ch == '{' && i + 1 < format.Length && format[i + 1] == '{') { sb.Append('{'); i++; continue; }
            if (ch == '}' && i + 1 < format.Length && format[i + 1] == '}') { sb.Append('}'); i++; continue; }
            if (ch == '}') throw new TemplateRuntimeError("Single '}' encountered in format string");
            if (ch != '{') { sb.Append(ch); continue; }
            var close = format.IndexOf('}', i);
            if (close < 0) throw new TemplateRuntimeError("Single '{' encountered in format string");
            var field = format[(i + 1)..close];
            i = close;
            var colon = field.IndexOf(':');
            var name = colon < 0 ? field : field[..colon];
            var spec = colon < 0 ? "" : field[(colon + 1)..];
            object? value;
            if (name.Length == 0) value = auto < a.Positional.Length ? a.Positional[auto++] : throw new TemplateRuntimeError("Replacement index out of range");
            else if (int.TryParse(name, NumberStyles.None, CultureInfo.InvariantCulture, out var index)) value = index < a.Positional.Length ? a.Positional[index] : throw new TemplateRuntimeError($"Replacement index {index} out of range");
            else value = a.Named.FirstOrDefault(n => n.Key == name) is { Key: not null } named ? named.Value : throw new TemplateRuntimeError($"KeyError: '{name}'");
            sb.Append(Spec(value, spec));
            c.String(sb.Length);
        }
        return sb.ToString();
    }

    private static string Spec(object? value, string spec)
    {
        if (spec.Length == 0) return Py.Str(value);
        var i = 0;
        var fill = ' ';
        char? align = null;
        if (spec.Length >= 2 && spec[1] is '<' or '>' or '^' or '=') { fill = spec[0]; align = spec[1]; i = 2; }
        else if (spec[0] is '<' or '>' or '^' or '=') { align = spec[0]; i = 1; }
        var sign = "";
        if (i < spec.Length && spec[i] is '+' or '-' or ' ') sign = spec[i++].ToString();
        if (i < spec.Length && spec[i] == '0') { fill = '0'; align ??= '='; i++; }
        var width = 0;
        while (i < spec.Length && char.IsAsciiDigit(spec[i])) width = width * 10 + (spec[i++] - '0');
        var comma = false;
        if (i < spec.Length && spec[i] == ',') { comma = true; i++; }
        int? precision = null;
        if (i < spec.Length && spec[i] == '.')
        {
            i++;
            var p = 0;
            while (i < spec.Length && char.IsAsciiDigit(spec[i])) p = p * 10 + (spec[i++] - '0');
            precision = p;
        }
        var type = i < spec.Length ? spec[i] : '\0';
        string text;
        var numeric = Py.IsNumber(value);
        switch (type)
        {
            case 'f' or 'F' or '%':
            {
                var d = Py.ToDouble(value) * (type == '%' ? 100 : 1);
                text = Fixed(Math.Abs(d), precision ?? 6);
                if (comma) text = Group(text);
                text = (double.IsNegative(d) ? "-" : sign == "+" ? "+" : "") + text + (type == '%' ? "%" : "");
                break;
            }
            case 'd':
            {
                var l = Py.ToLong(value);
                text = Math.Abs((decimal)l).ToString(CultureInfo.InvariantCulture);
                if (comma) text = Group(text);
                text = (l < 0 ? "-" : sign == "+" ? "+" : "") + text;
                break;
            }
            case 'e' or 'E':
            {
                var d = Py.ToDouble(value);
                text = (double.IsNegative(d) ? "-" : "") + Exponent(Math.Abs(d), precision ?? 6, type == 'E');
                break;
            }
            case 's' or '\0':
                text = Py.Str(value);
                if (precision is { } p && type == 's' && p < text.Length) text = text[..p];
                if (comma && numeric) text = Group(text);
                break;
            default:
                throw new TemplateRuntimeError($"Unknown format code '{type}'");
        }
        if (text.Length >= width) return text;
        var pad = width - text.Length;
        return (align ?? (numeric ? '>' : '<')) switch
        {
            '<' => text + new string(fill, pad),
            '^' => new string(fill, pad / 2) + text + new string(fill, pad - pad / 2),
            '=' when text.Length > 0 && text[0] is '-' or '+' => text[0] + new string(fill, pad) + text[1..],
            _ => new string(fill, pad) + text,
        };
    }

    private static string Group(string digits)
    {
        var point = digits.IndexOf('.');
        var integer = point < 0 ? digits : digits[..point];
        var rest = point < 0 ? "" : digits[point..];
        var sb = new StringBuilder();
        for (var i = 0; i < integer.Length; i++)
        {
            if (i > 0 && (integer.Length - i) % 3 == 0) sb.Append(',');
            sb.Append(integer[i]);
        }
        return sb + rest;
    }
}

/// <summary>Python's json.dumps as Jinja's tojson uses it (sorted keys, ASCII only, HTML-safe).</summary>
internal static class Json
{
    public static string Dumps(RenderContext c, object? value, int? indent, bool htmlSafe)
    {
        var sb = new StringBuilder();
        Write(c, sb, value, indent, 0);
        var text = sb.ToString();
        if (htmlSafe)
        {
            text = text.Replace("<", "\\u003c", StringComparison.Ordinal).Replace(">", "\\u003e", StringComparison.Ordinal)
                .Replace("&", "\\u0026", StringComparison.Ordinal).Replace("'", "\\u0027", StringComparison.Ordinal);
        }
        return text;
    }

    private static void Write(RenderContext c, StringBuilder sb, object? value, int? indent, int level)
    {
        if (level > 50) throw new TemplateRuntimeError("value nested too deeply for tojson");
        c.String(sb.Length);
        switch (value)
        {
            case null: sb.Append("null"); break;
            case bool b: sb.Append(b ? "true" : "false"); break;
            case long l: sb.Append(l.ToString(CultureInfo.InvariantCulture)); break;
            case double d: sb.Append(double.IsNaN(d) ? "NaN" : double.IsPositiveInfinity(d) ? "Infinity" : double.IsNegativeInfinity(d) ? "-Infinity" : Py.FloatRepr(d)); break;
            case string s: String(sb, s); break;
            case Markup m: String(sb, m.Value); break;
            case List<object?> list:
                if (list.Count == 0) { sb.Append("[]"); break; }
                sb.Append('[');
                for (var i = 0; i < list.Count; i++)
                {
                    sb.Append(i == 0 ? "" : indent is null ? ", " : ",");
                    NewLine(sb, indent, level + 1);
                    Write(c, sb, list[i], indent, level + 1);
                }
                NewLine(sb, indent, level);
                sb.Append(']');
                break;
            case TemplateDict or ITemplateObject:
            {
                var pairs = value is TemplateDict d ? d.Select(p => (Key: KeyText(p.Key), p.Value)).ToList()
                    : ((ITemplateObject)value).Keys.Select(k => (Key: k, Value: ((ITemplateObject)value).Get(k))).ToList();
                if (pairs.Count == 0) { sb.Append("{}"); break; }
                pairs.Sort((x, y) => Py.CompareStrings(x.Key, y.Key));
                sb.Append('{');
                for (var i = 0; i < pairs.Count; i++)
                {
                    sb.Append(i == 0 ? "" : indent is null ? ", " : ",");
                    NewLine(sb, indent, level + 1);
                    String(sb, pairs[i].Key);
                    sb.Append(": ");
                    Write(c, sb, pairs[i].Value, indent, level + 1);
                }
                NewLine(sb, indent, level);
                sb.Append('}');
                break;
            }
            default:
                throw new TemplateRuntimeError($"Object of type {Py.TypeName(value)} is not JSON serializable");
        }
    }

    private static string KeyText(object key) => key switch
    {
        string s => s,
        bool b => b ? "true" : "false",
        long or double => Py.Str(key),
        _ => throw new TemplateRuntimeError($"keys must be str, int, float, bool or None, not {Py.TypeName(key)}"),
    };

    private static void NewLine(StringBuilder sb, int? indent, int level)
    {
        if (indent is { } n)
        {
            sb.Append('\n').Append(' ', n * level);
        }
    }

    private static void String(StringBuilder sb, string s)
    {
        sb.Append('"');
        foreach (var ch in s)
        {
            switch (ch)
            {
                case '"': sb.Append("\\\""); break;
                case '\\': sb.Append("\\\\"); break;
                case '\n': sb.Append("\\n"); break;
                case '\r': sb.Append("\\r"); break;
                case '\t': sb.Append("\\t"); break;
                case '\b': sb.Append("\\b"); break;
                case '\f': sb.Append("\\f"); break;
                default:
                    if (ch < 0x20 || ch > 0x7e) sb.Append(CultureInfo.InvariantCulture, $"\\u{(int)ch:x4}");
                    else sb.Append(ch);
                    break;
            }
        }
        sb.Append('"');
    }
}
