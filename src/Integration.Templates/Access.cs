using System.Text;

namespace Integration.Templates;

/// <summary>
/// Attribute and item access. This is the sandbox: a template reaches only dictionary items, host objects'
/// keys, and a fixed list of string, list and dict methods — never a .NET member.
/// </summary>
internal static class Access
{
    private static readonly HashSet<string> StringMethods =
    [
        "upper", "lower", "title", "capitalize", "strip", "lstrip", "rstrip", "split", "replace", "startswith", "endswith",
        "find", "count", "join", "isdigit", "isalpha", "isalnum", "islower", "isupper", "zfill", "format", "center", "swapcase",
    ];

    private static readonly HashSet<string> DictMethods = ["items", "keys", "values", "get"];

    private static readonly HashSet<string> ListMethods = ["index", "count"];

    public static object? Attribute(RenderContext c, object? value, string name)
    {
        switch (value)
        {
            case Undefined u:
                throw new TemplateRuntimeError(u.Message);
            case ITemplateObject o:
                return o.Get(name);
            case TemplateDict d:
                if (DictMethods.Contains(name)) return new BoundMethod(d, name);
                return d.TryGetValue(name, out var item) ? item : Undefined.NoAttribute(d, name);
            case Namespace ns:
                return ns.Values.TryGetValue(name, out var nsValue) ? nsValue : Undefined.NoAttribute(ns, name);
            case LoopContext loop:
                return loop.Attribute(name);
            case GroupTuple g when name is "grouper" or "list":
                return name == "grouper" ? g.Grouper : g.Items;
            case string s:
                return StringMethods.Contains(name) ? new BoundMethod(s, name) : Undefined.NoAttribute(s, name);
            case List<object?> l:
                return ListMethods.Contains(name) ? new BoundMethod(l, name) : Undefined.NoAttribute(l, name);
            case TemplateDateTime dt:
                return dt.Attribute(name);
            case TemplateTimeDelta td:
                return td.Attribute(name);
            case Cycler cycler:
                return name switch
                {
                    "current" => cycler.Current,
                    "next" or "reset" => new BoundMethod(cycler, name),
                    _ => Undefined.NoAttribute(cycler, name),
                };
            default:
                return Undefined.NoAttribute(value, name);
        }
    }

    public static object? Item(RenderContext c, object? value, object? key)
    {
        switch (value)
        {
            case Undefined u:
                throw new TemplateRuntimeError(u.Message);
            case ITemplateObject o:
                return key is string k ? o.Get(k) : Undefined.NoAttribute(o, Py.Str(key));
            case TemplateDict d:
                if (key is not null and not List<object?> and not TemplateDict and not Undefined && d.TryGetValue(key, out var item)) return item;
                return key is string name ? Attribute(c, d, name) : Undefined.NoAttribute(d, Py.Str(key));
            case List<object?> l when Py.IsInteger(key):
            {
                var i = Py.ToLong(key);
                if (i < 0) i += l.Count;
                return i >= 0 && i < l.Count ? l[(int)i] : Undefined.Named($"{Py.TypeName(l)} object has no element {Py.ToLong(key)}");
            }
            case string s when Py.IsInteger(key):
            {
                var chars = Py.HasSurrogates(s) ? Py.CodePoints(s) : null;
                var count = chars?.Length ?? s.Length;
                var i = Py.ToLong(key);
                if (i < 0) i += count;
                if (i < 0 || i >= count) return Undefined.Named($"str object has no element {Py.ToLong(key)}");
                return chars is null ? s[(int)i].ToString() : chars[i];
            }
            default:
                return key is string attribute ? Attribute(c, value, attribute) : Undefined.NoAttribute(value, Py.Str(key));
        }
    }

    public static object? Slice(RenderContext c, object? value, object? start, object? stop, object? step)
    {
        if (value is Undefined u) throw new TemplateRuntimeError(u.Message);
        long? Bound(object? v) => v is null or Undefined ? null : Py.IsInteger(v) ? Py.ToLong(v)
            : throw new TemplateRuntimeError("slice indices must be integers or None");
        var s = Bound(step) ?? 1;
        if (s == 0) throw new TemplateRuntimeError("slice step cannot be zero");
        switch (value)
        {
            case string text:
            {
                var chars = Py.CodePoints(text);
                var picked = Pick(chars.Length, Bound(start), Bound(stop), s);
                var sb = new StringBuilder();
                foreach (var i in picked) sb.Append(chars[i]);
                return sb.ToString();
            }
            case List<object?> list:
            {
                var picked = Pick(list.Count, Bound(start), Bound(stop), s);
                var items = picked.Select(i => list[i]).ToArray();
                c.Items(items.Length);
                return list is TemplateTuple ? new TemplateTuple(items) : new List<object?>(items);
            }
            default:
                throw new TemplateRuntimeError($"'{Py.TypeName(value)}' object is not subscriptable");
        }
    }

    // Python's slice.indices.
    private static List<int> Pick(int length, long? start, long? stop, long step)
    {
        long Clamp(long? v, long fallback, long low, long high)
        {
            if (v is null) return fallback;
            var x = v.Value < 0 ? v.Value + length : v.Value;
            return Math.Clamp(x, low, high);
        }
        var result = new List<int>();
        if (step > 0)
        {
            var a = Clamp(start, 0, 0, length);
            var b = Clamp(stop, length, 0, length);
            for (var i = a; i < b; i += step) result.Add((int)i);
        }
        else
        {
            var a = Clamp(start, length - 1, -1, length - 1);
            var b = Clamp(stop, -1, -1, length - 1);
            if (stop is not null && stop.Value < 0 && stop.Value + length < 0) b = -1;
            for (var i = a; i > b; i += step) result.Add((int)i);
        }
        return result;
    }
}

/// <summary>Calling macros, global functions and the allowed methods.</summary>
internal static class Calls
{
    public static object? Invoke(RenderContext c, object? function, Arguments args, Macro? caller)
    {
        switch (function)
        {
            case Macro macro:
                return macro.Call(c, args, caller);
            case GlobalFunction global:
                return global.Invoke(c, args);
            case BoundMethod method:
                return Methods.Call(c, method, args);
            case LoopContext { Recursive: { } node } loop:
                if (args.Positional.Length != 1) throw new TemplateRuntimeError("loop() takes exactly one argument");
                var saved = c.Out;
                var outer = new System.Text.StringBuilder();
                c.Out = outer;
                try
                {
                    node.Loop(c, args.Positional[0], loop.Depth0 + 1);
                }
                finally
                {
                    c.Out = saved;
                }
                return new Markup(outer.ToString());
            case Joiner joiner:
                if (!joiner.Used)
                {
                    joiner.Used = true;
                    return "";
                }
                return joiner.Separator;
            case Undefined u:
                throw new TemplateRuntimeError(u.Message);
            default:
                throw new TemplateRuntimeError($"'{Py.TypeName(function)}' object is not callable");
        }
    }
}
