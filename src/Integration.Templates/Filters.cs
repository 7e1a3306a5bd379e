using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;

namespace Integration.Templates;

internal delegate object? FilterFunction(RenderContext c, object? value, Arguments a);

internal delegate bool TestFunction(RenderContext c, object? value, Arguments a);

/// <summary>Jinja2's built-in filters that make sense for message text and numbers, with its semantics.</summary>
internal static partial class Filters
{
    public static readonly Dictionary<string, FilterFunction> All = new(StringComparer.Ordinal)
    {
        ["abs"] = (c, v, a) => v switch
        {
            long l => (object)checked(Math.Abs(l)),
            double d => Math.Abs(d),
            bool b => b ? 1L : 0L,
            Undefined u => throw new TemplateRuntimeError(u.Message),
            _ => throw new TemplateRuntimeError($"bad operand type for abs(): '{Py.TypeName(v)}'"),
        },
        ["attr"] = (c, v, a) => Py.Str(a.Expect("attr", "name").Get(0, "name")) is var attribute && v is TemplateDict d
            ? (attribute is "items" or "keys" or "values" or "get" ? new BoundMethod(d, attribute) : Undefined.NoAttribute(d, attribute))
            : Access.Attribute(c, v, attribute),
        ["batch"] = Batch,
        ["capitalize"] = (c, v, a) => Text.Capitalize(Py.Str(v)),
        ["center"] = (c, v, a) => Text.Center(c, Py.Str(v), Py.ToLong(a.Expect("center", "width").Get(0, "width", 80L)), " "),
        ["default"] = Default,
        ["d"] = Default,
        ["dictsort"] = DictSort,
        ["escape"] = (c, v, a) => v is Markup ? v : new Markup(HtmlEscape(Py.Str(v))),
        ["e"] = (c, v, a) => v is Markup ? v : new Markup(HtmlEscape(Py.Str(v))),
        ["forceescape"] = (c, v, a) => new Markup(HtmlEscape(Py.Str(v is Markup m ? m.Value : v))),
        ["filesizeformat"] = FileSize,
        ["first"] = (c, v, a) => Py.Iterate(v) is { Count: > 0 } items ? items[0] : Undefined.Named("No first item, sequence was empty."),
        ["last"] = (c, v, a) => Py.Iterate(v) is { Count: > 0 } items ? items[^1] : Undefined.Named("No last item, sequence was empty."),
        ["float"] = (c, v, a) => ToFloat(v) ?? a.Expect("float", "default").Get(0, "default", 0.0),
        ["format"] = (c, v, a) =>
        {
            if (a.Positional.Length > 0 && a.Named.Length > 0)
            {
                throw new TemplateRuntimeError("can't handle positional and keyword arguments at the same time");
            }
            object? args = a.Named.Length > 0 ? ToDict(a.Named) : a.Positional.Length == 1 ? a.Positional[0] : new TemplateTuple(a.Positional);
            if (a.Positional.Length == 1 && a.Positional[0] is TemplateTuple) args = new TemplateTuple([a.Positional[0]]);
            return Formatting.Percent(c, Py.Str(v), args);
        },
        ["groupby"] = GroupBy,
        ["indent"] = Indent,
        ["int"] = (c, v, a) => ToInt(v, Py.ToLong(a.Expect("int", "default", "base").Get(1, "base", 10L))) ?? a.Get(0, "default", 0L),
        ["items"] = (c, v, a) => v switch
        {
            Undefined => new List<object?>(),
            TemplateDict d => new List<object?>(d.Select(p => (object?)new TemplateTuple([p.Key, p.Value]))),
            ITemplateObject o => new List<object?>(o.Keys.Select(k => (object?)new TemplateTuple([k, o.Get(k)]))),
            _ => throw new TemplateRuntimeError($"Can only get item pairs from a mapping."),
        },
        ["join"] = Join,
        ["length"] = (c, v, a) => (long)Py.Len(v),
        ["count"] = (c, v, a) => (long)Py.Len(v),
        ["list"] = (c, v, a) => new List<object?>(Py.Iterate(v)),
        ["lower"] = (c, v, a) => Py.Str(v).ToLowerInvariant(),
        ["upper"] = (c, v, a) => Text.Upper(Py.Str(v)),
        ["map"] = Map,
        ["max"] = (c, v, a) => MinMax(c, v, a, max: true),
        ["min"] = (c, v, a) => MinMax(c, v, a, max: false),
        ["reject"] = (c, v, a) => Select(c, v, a, keep: false, attribute: false),
        ["rejectattr"] = (c, v, a) => Select(c, v, a, keep: false, attribute: true),
        ["select"] = (c, v, a) => Select(c, v, a, keep: true, attribute: false),
        ["selectattr"] = (c, v, a) => Select(c, v, a, keep: true, attribute: true),
        ["replace"] = (c, v, a) =>
        {
            a.Expect("replace", "old", "new", "count");
            var count = a.Get(2, "count");
            return Text.Replace(c, Py.Str(v), Py.Str(a.Get(0, "old")), Py.Str(a.Get(1, "new")), count is null ? -1 : Py.ToLong(count));
        },
        ["reverse"] = (c, v, a) => v is string s ? string.Concat(Py.CodePoints(s).Reverse()) : Reversed(Py.Iterate(v)),
        ["round"] = Round,
        ["safe"] = (c, v, a) => v is Markup ? v : new Markup(Py.Str(v)),
        ["slice"] = SliceColumns,
        ["sort"] = Sort,
        ["string"] = (c, v, a) => v is Markup ? v : Py.Str(v),
        ["striptags"] = (c, v, a) => StripTags(Py.Str(v)),
        ["sum"] = Sum,
        ["title"] = (c, v, a) => Title(Py.Str(v)),
        ["tojson"] = (c, v, a) => new Markup(Json.Dumps(c, v, a.Expect("tojson", "indent").Get(0, "indent") is long n ? (int)n : null, htmlSafe: true)),
        ["trim"] = (c, v, a) => a.Expect("trim", "chars").Get(0, "chars") is string chars ? Py.Str(v).Trim(chars.ToCharArray()) : Py.Str(v).Trim(),
        ["truncate"] = Truncate,
        ["unique"] = Unique,
        ["urlencode"] = UrlEncode,
        ["wordcount"] = (c, v, a) => (long)WordPattern().Count(Py.Str(v)),
    };

    static Filters()
    {
        foreach (var (name, filter) in Dates.Filters)
        {
            All[name] = filter;
        }
    }

    private static TemplateDict ToDict(IEnumerable<KeyValuePair<string, object?>> pairs)
    {
        var d = new TemplateDict();
        foreach (var (k, v) in pairs) d[k] = v;
        return d;
    }

    private static object? Default(RenderContext c, object? v, Arguments a)
    {
        a.Expect("default", "default_value", "boolean");
        var fallback = a.Get(0, "default_value", "");
        var boolean = Py.Truthy(a.Get(1, "boolean", false));
        return v is Undefined || (boolean && !Py.Truthy(v)) ? fallback : v;
    }

    public static string HtmlEscape(string s)
    {
        if (s.AsSpan().IndexOfAny("&<>\"'") < 0) return s;
        var sb = new StringBuilder(s.Length + 16);
        foreach (var ch in s)
        {
            sb.Append(ch switch
            {
                '&' => "&amp;",
                '<' => "&lt;",
                '>' => "&gt;",
                '"' => "&#34;",
                '\'' => "&#39;",
                _ => ch.ToString(),
            });
        }
        return sb.ToString();
    }

    private static object? Batch(RenderContext c, object? v, Arguments a)
    {
        a.Expect("batch", "linecount", "fill_with");
        var size = Py.ToLong(a.Get(0, "linecount"));
        var fill = a.Has(1, "fill_with") ? a.Get(1, "fill_with") : null;
        var hasFill = a.Has(1, "fill_with") && fill is not null;
        var result = new List<object?>();
        var current = new List<object?>();
        foreach (var item in Py.Iterate(v))
        {
            if (current.Count == size)
            {
                result.Add(current);
                current = [];
            }
            current.Add(item);
        }
        if (current.Count > 0)
        {
            if (hasFill)
            {
                while (current.Count < size) current.Add(fill);
            }
            result.Add(current);
        }
        c.Items(result.Count);
        return result;
    }

    private static object? SliceColumns(RenderContext c, object? v, Arguments a)
    {
        a.Expect("slice", "slices", "fill_with");
        var slices = (int)Py.ToLong(a.Get(0, "slices"));
        if (slices <= 0) throw new TemplateRuntimeError("slices must be positive");
        var fill = a.Get(1, "fill_with");
        var hasFill = fill is not null;
        var seq = Py.Iterate(v);
        var length = seq.Count;
        var perSlice = length / slices;
        var withExtra = length % slices;
        var offset = 0;
        var result = new List<object?>();
        for (var i = 0; i < slices; i++)
        {
            var start = offset + i * perSlice;
            if (i < withExtra) offset++;
            var end = offset + (i + 1) * perSlice;
            var part = seq.GetRange(start, end - start);
            if (hasFill && i >= withExtra) part.Add(fill);
            result.Add(part);
        }
        return result;
    }

    private static object? DictSort(RenderContext c, object? v, Arguments a)
    {
        a.Expect("dictsort", "case_sensitive", "by", "reverse");
        var caseSensitive = Py.Truthy(a.Get(0, "case_sensitive", false));
        var by = Py.Str(a.Get(1, "by", "key"));
        var reverse = Py.Truthy(a.Get(2, "reverse", false));
        var position = by switch
        {
            "key" => 0,
            "value" => 1,
            _ => throw new TemplateRuntimeError("You can only sort by either \"key\" or \"value\""),
        };
        var items = ((List<object?>)All["items"](c, v, Arguments.None)!).Cast<TemplateTuple>().ToList();
        var sorted = StableSort(items, t => SortKey(t[position], caseSensitive), reverse);
        return new List<object?>(sorted);
    }

    private static object? SortKey(object? v, bool caseSensitive) => !caseSensitive && v is string s ? s.ToLowerInvariant() : v;

    private static List<T> StableSort<T>(List<T> items, Func<T, object?> key, bool reverse)
    {
        var keyed = items.Select((item, i) => (Item: item, Key: key(item), Index: i)).ToList();
        keyed.Sort((x, y) =>
        {
            var cmp = Py.Compare(x.Key, y.Key, "<");
            if (reverse) cmp = -cmp;
            return cmp != 0 ? cmp : x.Index.CompareTo(y.Index);
        });
        return keyed.Select(k => k.Item).ToList();
    }

    // Jinja's attribute argument: "a.b" or "0" (an index) walks into items.
    private static Func<object?, object?> Getter(RenderContext c, object? attribute, object? fallback = null)
    {
        if (attribute is null) return x => x;
        var parts = Py.Str(attribute).Split('.');
        return item =>
        {
            foreach (var part in parts)
            {
                object? key = long.TryParse(part, NumberStyles.None, CultureInfo.InvariantCulture, out var index) ? index : part;
                item = Access.Item(c, item, key);
                if (item is Undefined && fallback is not null)
                {
                    return fallback;
                }
            }
            return item;
        };
    }

    private static object? Sort(RenderContext c, object? v, Arguments a)
    {
        a.Expect("sort", "reverse", "case_sensitive", "attribute");
        var reverse = Py.Truthy(a.Get(0, "reverse", false));
        var caseSensitive = Py.Truthy(a.Get(1, "case_sensitive", false));
        var getter = Getter(c, a.Get(2, "attribute"));
        return StableSort(Py.Iterate(v), x => SortKey(getter(x), caseSensitive), reverse);
    }

    private static object? Unique(RenderContext c, object? v, Arguments a)
    {
        a.Expect("unique", "case_sensitive", "attribute");
        var caseSensitive = Py.Truthy(a.Get(0, "case_sensitive", false));
        var getter = Getter(c, a.Get(1, "attribute"));
        var seen = new List<object?>();
        var result = new List<object?>();
        foreach (var item in Py.Iterate(v))
        {
            var key = SortKey(getter(item), caseSensitive);
            if (!seen.Any(s => Py.Eq(s, key)))
            {
                seen.Add(key);
                result.Add(item);
            }
        }
        return result;
    }

    private static object? MinMax(RenderContext c, object? v, Arguments a, bool max)
    {
        a.Expect(max ? "max" : "min", "case_sensitive", "attribute");
        var caseSensitive = Py.Truthy(a.Get(0, "case_sensitive", false));
        var getter = Getter(c, a.Get(1, "attribute"));
        var items = Py.Iterate(v);
        if (items.Count == 0) return Undefined.Named("No aggregated item, sequence was empty.");
        var best = items[0];
        var bestKey = SortKey(getter(best), caseSensitive);
        foreach (var item in items.Skip(1))
        {
            var key = SortKey(getter(item), caseSensitive);
            var cmp = Py.Compare(key, bestKey, max ? ">" : "<");
            if (max ? cmp > 0 : cmp < 0)
            {
                best = item;
                bestKey = key;
            }
        }
        return best;
    }

    private static object? Sum(RenderContext c, object? v, Arguments a)
    {
        a.Expect("sum", "attribute", "start");
        var getter = Getter(c, a.Get(0, "attribute"));
        var total = a.Get(1, "start", 0L);
        foreach (var item in Py.Iterate(v))
        {
            total = Operators.Binary(c, "+", total, getter(item));
        }
        return total;
    }

    private static object? Join(RenderContext c, object? v, Arguments a)
    {
        a.Expect("join", "d", "attribute");
        var separator = Py.Str(a.Get(0, "d", ""));
        var getter = Getter(c, a.Get(1, "attribute"));
        var parts = Py.Iterate(v).Select(x => getter(x) is var y && y is Markup m ? m.Value : Py.Str(y)).ToList();
        c.String(parts.Sum(p => (long)p.Length) + (long)separator.Length * Math.Max(0, parts.Count - 1));
        return string.Join(separator, parts);
    }

    private static object? Map(RenderContext c, object? v, Arguments a)
    {
        var items = Py.Iterate(v);
        var attribute = a.Named.FirstOrDefault(n => n.Key == "attribute");
        if (attribute.Key is not null)
        {
            var fallback = a.Named.FirstOrDefault(n => n.Key == "default").Value;
            var getter = Getter(c, attribute.Value, fallback);
            return items.Select(getter).ToList();
        }
        if (a.Positional.Length == 0) throw new TemplateRuntimeError("map requires a filter argument");
        var name = Py.Str(a.Positional[0]);
        if (!All.TryGetValue(name, out var filter)) throw new TemplateRuntimeError($"No filter named '{name}'.");
        var rest = new Arguments(a.Positional[1..], a.Named);
        var result = new List<object?>(items.Count);
        foreach (var item in items)
        {
            c.Step();
            result.Add(filter(c, item, rest));
        }
        return result;
    }

    private static object? Select(RenderContext c, object? v, Arguments a, bool keep, bool attribute)
    {
        var positional = a.Positional;
        Func<object?, object?> getter = x => x;
        if (attribute)
        {
            if (positional.Length == 0) throw new TemplateRuntimeError("Missing parameter for attribute name");
            getter = Getter(c, positional[0]);
            positional = positional[1..];
        }
        Func<object?, bool> test;
        if (positional.Length == 0)
        {
            test = Py.Truthy;
        }
        else
        {
            var name = Py.Str(positional[0]);
            if (!Tests.All.TryGetValue(name, out var fn)) throw new TemplateRuntimeError($"No test named '{name}'.");
            var rest = new Arguments(positional[1..], a.Named);
            test = x => fn(c, x, rest);
        }
        var result = new List<object?>();
        foreach (var item in Py.Iterate(v))
        {
            c.Step();
            if (test(getter(item)) == keep) result.Add(item);
        }
        return result;
    }

    private static object? GroupBy(RenderContext c, object? v, Arguments a)
    {
        a.Expect("groupby", "attribute", "default", "case_sensitive");
        var caseSensitive = Py.Truthy(a.Get(2, "case_sensitive", false));
        var getter = Getter(c, a.Get(0, "attribute"), a.Get(1, "default"));
        var sorted = StableSort(Py.Iterate(v), x => SortKey(getter(x), caseSensitive), false);
        var result = new List<object?>();
        foreach (var item in sorted)
        {
            var key = SortKey(getter(item), caseSensitive);
            if (result.Count > 0 && result[^1] is GroupTuple last && Py.Eq(SortKey(last.Grouper, caseSensitive), key))
            {
                last.Items.Add(item);
            }
            else
            {
                result.Add(new GroupTuple(caseSensitive ? key : getter(item), [item]));
            }
        }
        return result;
    }

    private static object? Indent(RenderContext c, object? v, Arguments a)
    {
        a.Expect("indent", "width", "first", "blank");
        var width = a.Get(0, "width", 4L);
        var indention = width is string w ? w : new string(' ', (int)Math.Clamp(Py.ToLong(width), 0, 1000));
        var first = Py.Truthy(a.Get(1, "first", false));
        var blank = Py.Truthy(a.Get(2, "blank", false));
        var lines = SplitLines(Py.Str(v) + "\n");
        string result;
        if (blank)
        {
            result = string.Join("\n" + indention, lines);
        }
        else
        {
            var sb = new StringBuilder(lines.Count > 0 ? lines[0] : "");
            for (var i = 1; i < lines.Count; i++)
            {
                sb.Append('\n');
                if (lines[i].Length > 0) sb.Append(indention);
                sb.Append(lines[i]);
            }
            result = sb.ToString();
        }
        if (first) result = indention + result;
        c.String(result.Length);
        return result;
    }

    // Python's str.splitlines for the usual line ends.
    private static List<string> SplitLines(string s)
    {
        var lines = new List<string>();
        var start = 0;
        for (var i = 0; i < s.Length; i++)
        {
            if (s[i] is '\n' or '\r' or '\v' or '\f' or '\x1c' or '\x1d' or '\x1e' or '\x85' or '\u2028' or '\u2029')
            {
                lines.Add(s[start..i]);
                if (s[i] == '\r' && i + 1 < s.Length && s[i + 1] == '\n') i++;
                start = i + 1;
            }
        }
        if (start < s.Length) lines.Add(s[start..]);
        return lines;
    }

    public static long? ToInt(object? v, long radix)
    {
        switch (v)
        {
            case Undefined u: throw new TemplateRuntimeError(u.Message);
            case long l: return l;
            case bool b: return b ? 1 : 0;
            case double d: return double.IsFinite(d) && Math.Abs(d) < 9.2e18 ? (long)Math.Truncate(d) : throw new TemplateRuntimeError("cannot convert float to integer");
            case string s:
            {
                var text = s.Trim().Replace("_", "", StringComparison.Ordinal);
                var negative = text.StartsWith('-');
                if (negative || text.StartsWith('+')) text = text[1..];
                if (radix == 16 && text.StartsWith("0x", StringComparison.OrdinalIgnoreCase)) text = text[2..];
                else if (radix == 8 && text.StartsWith("0o", StringComparison.OrdinalIgnoreCase)) text = text[2..];
                else if (radix == 2 && text.StartsWith("0b", StringComparison.OrdinalIgnoreCase)) text = text[2..];
                if (text.Length > 0 && radix is 2 or 8 or 10 or 16 && text.All(Uri.IsHexDigit))
                {
                    try
                    {
                        var value = Convert.ToInt64(text, (int)radix);
                        return negative ? -value : value;
                    }
                    catch (Exception ex) when (ex is FormatException or OverflowException or ArgumentException)
                    {
                    }
                }
                return ToFloat(s) is double f ? ToInt(f, 10) : null;
            }
            default: return null;
        }
    }

    public static double? ToFloat(object? v)
    {
        switch (v)
        {
            case Undefined u: throw new TemplateRuntimeError(u.Message);
            case double d: return d;
            case long l: return l;
            case bool b: return b ? 1 : 0;
            case string s:
            {
                var text = s.Trim().Replace("_", "", StringComparison.Ordinal).ToLowerInvariant();
                switch (text)
                {
                    case "inf" or "+inf" or "infinity" or "+infinity": return double.PositiveInfinity;
                    case "-inf" or "-infinity": return double.NegativeInfinity;
                    case "nan" or "+nan" or "-nan": return double.NaN;
                }
                if (text.Length > 0 && (char.IsAsciiDigit(text[^1]) || text[^1] == '.')
                    && double.TryParse(text, NumberStyles.AllowLeadingSign | NumberStyles.AllowDecimalPoint | NumberStyles.AllowExponent, CultureInfo.InvariantCulture, out var parsed))
                {
                    return parsed;
                }
                return null;
            }
            default: return null;
        }
    }

    private static object? Round(RenderContext c, object? v, Arguments a)
    {
        a.Expect("round", "precision", "method");
        var precision = (int)Py.ToLong(a.Get(0, "precision", 0L));
        var method = Py.Str(a.Get(1, "method", "common"));
        if (method is not ("common" or "ceil" or "floor")) throw new TemplateRuntimeError("method must be common, ceil or floor");
        if (v is Undefined u) throw new TemplateRuntimeError(u.Message);
        if (!Py.IsNumber(v)) throw new TemplateRuntimeError($"type {Py.TypeName(v)} doesn't define __round__ method");
        if (method == "common")
        {
            if (Py.IsInteger(v))
            {
                var l = Py.ToLong(v);
                if (precision >= 0) return l;
                return (long)Py.Round(l, precision);
            }
            return Py.Round((double)v!, precision);
        }
        var scale = Math.Pow(10, precision);
        var scaled = Py.ToDouble(v) * scale;
        return (method == "ceil" ? Math.Ceiling(scaled) : Math.Floor(scaled)) / scale;
    }

    private static object? Truncate(RenderContext c, object? v, Arguments a)
    {
        a.Expect("truncate", "length", "killwords", "end", "leeway");
        var s = Py.Str(v);
        var length = Py.ToLong(a.Get(0, "length", 255L));
        var killwords = Py.Truthy(a.Get(1, "killwords", false));
        var end = Py.Str(a.Get(2, "end", "..."));
        var leeway = Py.ToLong(a.Get(3, "leeway") ?? 5L);
        if (length < end.Length) throw new TemplateRuntimeError($"expected length >= {end.Length}, got {length}");
        if (leeway < 0) throw new TemplateRuntimeError($"expected leeway >= 0, got {leeway}");
        var chars = Py.CodePoints(s);
        if (chars.Length <= length + leeway) return s;
        var cut = string.Concat(chars.Take((int)(length - end.Length)));
        if (killwords) return cut + end;
        var space = cut.LastIndexOf(' ');
        return (space >= 0 ? cut[..space] : cut) + end;
    }

    private static object? FileSize(RenderContext c, object? v, Arguments a)
    {
        a.Expect("filesizeformat", "binary");
        var binary = Py.Truthy(a.Get(0, "binary", false));
        var bytes = ToFloat(v) ?? throw new TemplateRuntimeError($"could not convert {Py.TypeName(v)} to float");
        var unitBase = binary ? 1024.0 : 1000.0;
        string[] prefixes = binary ? ["KiB", "MiB", "GiB", "TiB", "PiB", "EiB", "ZiB", "YiB"] : ["kB", "MB", "GB", "TB", "PB", "EB", "ZB", "YB"];
        if (bytes == 1) return "1 Byte";
        if (bytes < unitBase) return $"{(long)bytes} Bytes";
        double unit = 0;
        for (var i = 0; i < prefixes.Length; i++)
        {
            unit = Math.Pow(unitBase, i + 2);
            if (bytes < unit) return Formatting.Fixed(unitBase * bytes / unit, 1) + " " + prefixes[i];
        }
        return Formatting.Fixed(unitBase * bytes / unit, 1) + " " + prefixes[^1];
    }

    private static string Title(string s)
    {
        var sb = new StringBuilder(s.Length);
        var start = 0;
        var parts = new List<string>();
        foreach (Match m in WordBeginning().Matches(s))
        {
            parts.Add(s[start..m.Index]);
            parts.Add(m.Value);
            start = m.Index + m.Length;
        }
        parts.Add(s[start..]);
        foreach (var part in parts)
        {
            if (part.Length == 0) continue;
            sb.Append(Text.Upper(part[..1])).Append(part[1..].ToLowerInvariant());
        }
        return sb.ToString();
    }

    private static string StripTags(string s)
    {
        var text = TagPattern().Replace(CommentPattern().Replace(s, ""), "");
        text = System.Net.WebUtility.HtmlDecode(text);
        return string.Join(' ', text.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries));
    }

    private static object? UrlEncode(RenderContext c, object? v, Arguments a)
    {
        if (v is string s) return Url.Quote(s, forQuery: false);
        IEnumerable<(object? Key, object? Value)> pairs = v switch
        {
            TemplateDict d => d.Select(p => ((object?)p.Key, p.Value)),
            ITemplateObject o => o.Keys.Select(k => ((object?)k, o.Get(k))),
            List<object?> l => l.Select(p => Py.Iterate(p) is { Count: 2 } kv ? (kv[0], kv[1]) : throw new TemplateRuntimeError("urlencode expects pairs")),
            _ => throw new TemplateRuntimeError("urlencode expects a string, a mapping or pairs"),
        };
        if (v is not (TemplateDict or ITemplateObject or List<object?>)) return Url.Quote(Py.Str(v), false);
        return string.Join('&', pairs.Select(p => Url.Quote(Py.Str(p.Key), true) + "=" + Url.Quote(Py.Str(p.Value), true)));
    }

    private static List<object?> Reversed(List<object?> items)
    {
        var copy = new List<object?>(items);
        copy.Reverse();
        return copy;
    }

    [GeneratedRegex(@"\w+")]
    private static partial Regex WordPattern();

    [GeneratedRegex(@"([-\s({\[<]+)")]
    private static partial Regex WordBeginning();

    [GeneratedRegex(@"<!--.*?-->", RegexOptions.Singleline)]
    private static partial Regex CommentPattern();

    [GeneratedRegex(@"<.*?>", RegexOptions.Singleline)]
    private static partial Regex TagPattern();
}

/// <summary>What <c>groupby</c> yields: a (grouper, list) pair.</summary>
internal sealed class GroupTuple(object? grouper, List<object?> items) : TemplateTuple([grouper, items])
{
    public object? Grouper { get; } = grouper;

    public List<object?> Items { get; } = items;
}

/// <summary>Python's urllib.parse.quote.</summary>
internal static class Url
{
    public static string Quote(string s, bool forQuery)
    {
        var sb = new StringBuilder();
        foreach (var b in Encoding.UTF8.GetBytes(s))
        {
            var ch = (char)b;
            if (char.IsAsciiLetterOrDigit(ch) || ch is '_' or '.' or '-' or '~' || (!forQuery && ch == '/'))
            {
                sb.Append(ch);
            }
            else if (forQuery && ch == ' ')
            {
                sb.Append('+');
            }
            else
            {
                sb.Append('%').Append(b.ToString("X2", CultureInfo.InvariantCulture));
            }
        }
        return sb.ToString();
    }
}
