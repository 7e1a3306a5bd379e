using System.Text;

namespace Integration.Templates;

/// <summary>The Python methods templates may call on strings, lists, dicts and Jinja's helper objects.</summary>
internal static class Methods
{
    public static object? Call(RenderContext c, BoundMethod method, Arguments a)
    {
        switch (method.Target)
        {
            case string s:
                return StringMethod(c, s, method.Name, a);
            case TemplateDict d:
                return method.Name switch
                {
                    "items" => new List<object?>(d.Select(p => (object?)new TemplateTuple([p.Key, p.Value]))),
                    "keys" => new List<object?>(d.Keys),
                    "values" => new List<object?>(d.Values),
                    "get" => a.Positional.Length > 0 && a.Positional[0] is { } key && d.TryGetValue(key, out var v) ? v : a.Get(1, "default"),
                    _ => throw Unknown(method),
                };
            case List<object?> l:
                var item = a.Get(0, "value");
                if (method.Name == "count") return (long)l.Count(x => Py.Eq(x, item));
                var index = l.FindIndex(x => Py.Eq(x, item));
                return index >= 0 ? index : throw new TemplateRuntimeError($"{Py.Repr(item)} is not in list");
            case LoopContext loop:
                return method.Name == "cycle" ? loop.Cycle(a) : loop.Changed(a);
            case Cycler cycler:
                if (method.Name == "reset")
                {
                    cycler.Position = 0;
                    return null;
                }
                var current = cycler.Current;
                cycler.Position = (cycler.Position + 1) % cycler.Items.Length;
                return current;
            case TemplateDateTime dt:
                return dt.Call(method.Name, a);
            case TemplateTimeDelta td:
                return td.Value.TotalSeconds;
            default:
                throw Unknown(method);
        }
    }

    private static TemplateRuntimeError Unknown(BoundMethod m) => new($"'{Py.TypeName(m.Target)}' object has no method '{m.Name}'");

    private static string? Chars(Arguments a) => a.Get(0, "chars") is string chars ? chars : null;

    private static object? StringMethod(RenderContext c, string s, string name, Arguments a)
    {
        switch (name)
        {
            case "upper": return Text.Upper(s);
            case "lower": return s.ToLowerInvariant();
            case "swapcase": return new string(s.Select(ch => char.IsUpper(ch) ? char.ToLowerInvariant(ch) : char.ToUpperInvariant(ch)).ToArray());
            case "title": return Text.PythonTitle(s);
            case "capitalize": return Text.Capitalize(s);
            case "strip": return Chars(a) is { } both ? s.Trim(both.ToCharArray()) : s.Trim();
            case "lstrip": return Chars(a) is { } left ? s.TrimStart(left.ToCharArray()) : s.TrimStart();
            case "rstrip": return Chars(a) is { } right ? s.TrimEnd(right.ToCharArray()) : s.TrimEnd();
            case "split":
            {
                var sep = a.Get(0, "sep");
                var max = a.Get(1, "maxsplit", -1L) is long m ? m : -1;
                return Text.Split(c, s, sep as string, max);
            }
            case "replace":
                return Text.Replace(c, s, Py.Str(a.Get(0, "old")), Py.Str(a.Get(1, "new")), a.Get(2, "count", -1L) is long n ? n : -1);
            case "startswith": return Affix(s, a.Get(0, "prefix"), true);
            case "endswith": return Affix(s, a.Get(0, "suffix"), false);
            case "find": return (long)s.IndexOf(Py.Str(a.Get(0, "sub")), StringComparison.Ordinal);
            case "count":
            {
                var sub = Py.Str(a.Get(0, "sub"));
                if (sub.Length == 0) return (long)Py.Length(s) + 1;
                long count = 0;
                for (var i = s.IndexOf(sub, StringComparison.Ordinal); i >= 0; i = s.IndexOf(sub, i + sub.Length, StringComparison.Ordinal)) count++;
                return count;
            }
            case "join":
            {
                var parts = Py.Iterate(a.Get(0, "iterable"));
                var texts = parts.Select(p => p is string t ? t : throw new TemplateRuntimeError($"sequence item: expected str instance, {Py.TypeName(p)} found")).ToList();
                c.String(texts.Sum(t => (long)t.Length) + (long)s.Length * Math.Max(0, texts.Count - 1));
                return string.Join(s, texts);
            }
            case "isdigit": return s.Length > 0 && s.All(char.IsDigit);
            case "isalpha": return s.Length > 0 && s.All(char.IsLetter);
            case "isalnum": return s.Length > 0 && s.All(char.IsLetterOrDigit);
            case "islower": return s.Any(char.IsLetter) && !s.Any(char.IsUpper);
            case "isupper": return s.Any(char.IsLetter) && !s.Any(char.IsLower);
            case "zfill":
            {
                var width = (int)Math.Min(Py.ToLong(a.Get(0, "width", 0L)), c.Limits.MaxStringLength);
                if (s.Length >= width) return s;
                var sign = s.Length > 0 && s[0] is '+' or '-' ? s[..1] : "";
                return sign + new string('0', width - s.Length) + s[sign.Length..];
            }
            case "center":
                return Text.Center(c, s, Py.ToLong(a.Get(0, "width", 80L)), a.Get(1, "fillchar", " ") as string ?? " ");
            case "format":
                return Formatting.StrFormat(c, s, a);
        }
        throw new TemplateRuntimeError($"'str' object has no method '{name}'");
    }

    private static bool Affix(string s, object? arg, bool start)
    {
        IEnumerable<object?> options = arg is TemplateTuple t ? t : [arg];
        foreach (var option in options)
        {
            if (option is not string text) throw new TemplateRuntimeError($"{(start ? "startswith" : "endswith")} first arg must be str or a tuple of str");
            if (start ? s.StartsWith(text, StringComparison.Ordinal) : s.EndsWith(text, StringComparison.Ordinal)) return true;
        }
        return false;
    }
}

/// <summary>Text helpers shared by methods and filters, with Python's rules.</summary>
internal static class Text
{
    public static string Upper(string s)
    {
        var upper = s.ToUpperInvariant();
        return upper.Contains('ß') ? upper.Replace("ß", "SS", StringComparison.Ordinal) : upper;
    }

    public static string Capitalize(string s)
    {
        if (s.Length == 0) return s;
        var first = Py.HasSurrogates(s) && char.IsHighSurrogate(s[0]) ? 2 : 1;
        return Upper(s[..first]) + s[first..].ToLowerInvariant();
    }

    // Python's str.title: a letter after a non-letter is upper case, every other letter lower case.
    public static string PythonTitle(string s)
    {
        var sb = new StringBuilder(s.Length);
        var previousCased = false;
        foreach (var ch in s)
        {
            if (char.IsLetter(ch))
            {
                sb.Append(previousCased ? char.ToLowerInvariant(ch) : char.ToUpperInvariant(ch));
                previousCased = true;
            }
            else
            {
                sb.Append(ch);
                previousCased = false;
            }
        }
        return sb.ToString();
    }

    public static List<object?> Split(RenderContext c, string s, string? separator, long max)
    {
        var result = new List<object?>();
        if (separator is null)
        {
            var i = 0;
            while (i < s.Length)
            {
                while (i < s.Length && char.IsWhiteSpace(s[i])) i++;
                if (i >= s.Length) break;
                if (max >= 0 && result.Count >= max)
                {
                    result.Add(s[i..].TrimEnd());
                    break;
                }
                var start = i;
                while (i < s.Length && !char.IsWhiteSpace(s[i])) i++;
                result.Add(s[start..i]);
            }
        }
        else
        {
            if (separator.Length == 0) throw new TemplateRuntimeError("empty separator");
            var start = 0;
            while (true)
            {
                var i = max >= 0 && result.Count >= max ? -1 : s.IndexOf(separator, start, StringComparison.Ordinal);
                if (i < 0)
                {
                    result.Add(s[start..]);
                    break;
                }
                result.Add(s[start..i]);
                start = i + separator.Length;
            }
        }
        c.Items(result.Count);
        return result;
    }

    public static string Replace(RenderContext c, string s, string old, string replacement, long count)
    {
        if (count == 0) return s;
        var sb = new StringBuilder();
        var done = 0L;
        if (old.Length == 0)
        {
            var chars = Py.CodePoints(s);
            foreach (var ch in chars)
            {
                if (count < 0 || done < count)
                {
                    sb.Append(replacement);
                    done++;
                }
                sb.Append(ch);
                c.String(sb.Length);
            }
            if (count < 0 || done < count) sb.Append(replacement);
            c.String(sb.Length);
            return sb.ToString();
        }
        var start = 0;
        while (count < 0 || done < count)
        {
            var i = s.IndexOf(old, start, StringComparison.Ordinal);
            if (i < 0) break;
            sb.Append(s, start, i - start).Append(replacement);
            c.String(sb.Length);
            start = i + old.Length;
            done++;
        }
        sb.Append(s, start, s.Length - start);
        c.String(sb.Length);
        return sb.ToString();
    }

    public static string Center(RenderContext c, string s, long width, string fill)
    {
        var length = Py.Length(s);
        if (width <= length) return s;
        c.String(width);
        var margin = (int)(width - length);
        var left = margin / 2 + (margin & (int)width & 1);
        return new StringBuilder().Insert(0, fill, left).Append(s).Insert(left + s.Length, fill, margin - left).ToString();
    }
}
