using System.Text;

namespace Integration.Templates;

/// <summary>Jinja's operators with Python's semantics; errors are Python's TypeErrors in words.</summary>
internal static class Operators
{
    public static object? Unary(string op, object? v)
    {
        if (v is Undefined u) throw new TemplateRuntimeError(u.Message);
        return (op, v) switch
        {
            ("-", long l) => checked(-l),
            ("-", bool b) => b ? -1L : 0L,
            ("-", double d) => -d,
            ("-", TemplateTimeDelta t) => new TemplateTimeDelta(-t.Value),
            ("+", long or double) => v,
            ("+", bool b) => b ? 1L : 0L,
            _ => throw new TemplateRuntimeError($"bad operand type for unary {op}: '{Py.TypeName(v)}'"),
        };
    }

    public static bool Compare(string op, object? a, object? b) => op switch
    {
        "==" => Py.Eq(a, b),
        "!=" => !Py.Eq(a, b),
        "<" => Py.Compare(a, b, op) < 0,
        "<=" => Py.Compare(a, b, op) <= 0,
        ">" => Py.Compare(a, b, op) > 0,
        ">=" => Py.Compare(a, b, op) >= 0,
        "in" => Py.Contains(b, a),
        "notin" => !Py.Contains(b, a),
        _ => throw new TemplateRuntimeError($"unknown operator {op}"),
    };

    public static object? Binary(RenderContext c, string op, object? a, object? b)
    {
        if (a is Undefined ua) throw new TemplateRuntimeError(ua.Message);
        if (b is Undefined ub) throw new TemplateRuntimeError(ub.Message);
        try
        {
            return op switch
            {
                "+" => Add(c, a, b),
                "-" => Subtract(a, b),
                "*" => Multiply(c, a, b),
                "/" => Divide(a, b),
                "//" => FloorDivide(a, b),
                "%" => a is string format ? Formatting.Percent(c, format, b) : Modulo(a, b),
                "**" => Power(a, b),
                _ => throw new TemplateRuntimeError($"unknown operator {op}"),
            };
        }
        catch (OverflowException)
        {
            throw new TemplateRuntimeError("integer result too large");
        }
    }

    private static TemplateRuntimeError Unsupported(string op, object? a, object? b) =>
        new($"unsupported operand type(s) for {op}: '{Py.TypeName(a)}' and '{Py.TypeName(b)}'");

    private static object? Add(RenderContext c, object? a, object? b)
    {
        if (Py.IsInteger(a) && Py.IsInteger(b)) return Py.Box(checked(Py.ToLong(a) + Py.ToLong(b)));
        if (Py.IsNumber(a) && Py.IsNumber(b)) return Py.ToDouble(a) + Py.ToDouble(b);
        if (a is string s && b is string t)
        {
            c.String((long)s.Length + t.Length);
            return s + t;
        }
        if (a is TemplateTuple ta && b is TemplateTuple tb)
        {
            c.Items(ta.Count + tb.Count);
            return new TemplateTuple([.. ta, .. tb]);
        }
        if (a is List<object?> la && b is List<object?> lb && a is not TemplateTuple && b is not TemplateTuple)
        {
            c.Items(la.Count + lb.Count);
            return new List<object?>([.. la, .. lb]);
        }
        if (a is TemplateDateTime dt && b is TemplateTimeDelta td) return dt.Add(td.Value);
        if (a is TemplateTimeDelta td2 && b is TemplateDateTime dt2) return dt2.Add(td2.Value);
        if (a is TemplateTimeDelta x && b is TemplateTimeDelta y) return new TemplateTimeDelta(x.Value + y.Value);
        if (a is string && b is not string) throw new TemplateRuntimeError($"can only concatenate str (not \"{Py.TypeName(b)}\") to str");
        throw Unsupported("+", a, b);
    }

    private static object? Subtract(object? a, object? b)
    {
        if (Py.IsInteger(a) && Py.IsInteger(b)) return checked(Py.ToLong(a) - Py.ToLong(b));
        if (Py.IsNumber(a) && Py.IsNumber(b)) return Py.ToDouble(a) - Py.ToDouble(b);
        if (a is TemplateDateTime dt && b is TemplateTimeDelta td) return dt.Add(-td.Value);
        if (a is TemplateDateTime x && b is TemplateDateTime y) return new TemplateTimeDelta(x.Value - y.Value);
        if (a is TemplateTimeDelta p && b is TemplateTimeDelta q) return new TemplateTimeDelta(p.Value - q.Value);
        throw Unsupported("-", a, b);
    }

    private static object? Multiply(RenderContext c, object? a, object? b)
    {
        if (Py.IsInteger(a) && Py.IsInteger(b)) return checked(Py.ToLong(a) * Py.ToLong(b));
        if (Py.IsNumber(a) && Py.IsNumber(b)) return Py.ToDouble(a) * Py.ToDouble(b);
        if (a is string s && Py.IsInteger(b)) return Repeat(c, s, Py.ToLong(b));
        if (b is string t && Py.IsInteger(a)) return Repeat(c, t, Py.ToLong(a));
        if (a is List<object?> l && Py.IsInteger(b)) return RepeatList(c, l, Py.ToLong(b));
        if (b is List<object?> m && Py.IsInteger(a)) return RepeatList(c, m, Py.ToLong(a));
        if (a is string || b is string) throw new TemplateRuntimeError($"can't multiply sequence by non-int of type '{Py.TypeName(a is string ? b : a)}'");
        throw Unsupported("*", a, b);
    }

    private static string Repeat(RenderContext c, string s, long times)
    {
        if (times <= 0 || s.Length == 0) return "";
        c.String(s.Length * Math.Min(times, int.MaxValue));
        var sb = new StringBuilder(s.Length * (int)times);
        for (var i = 0; i < times; i++) sb.Append(s);
        return sb.ToString();
    }

    private static List<object?> RepeatList(RenderContext c, List<object?> l, long times)
    {
        if (times <= 0) return l is TemplateTuple ? new TemplateTuple([]) : [];
        c.Items(l.Count * Math.Min(times, int.MaxValue));
        var items = new List<object?>();
        for (var i = 0; i < times; i++) items.AddRange(l);
        return l is TemplateTuple ? new TemplateTuple([.. items]) : items;
    }

    private static object? Divide(object? a, object? b)
    {
        if (!Py.IsNumber(a) || !Py.IsNumber(b)) throw Unsupported("/", a, b);
        var y = Py.ToDouble(b);
        if (y == 0) throw new TemplateRuntimeError("division by zero");
        return Py.ToDouble(a) / y;
    }

    private static object? FloorDivide(object? a, object? b)
    {
        if (!Py.IsNumber(a) || !Py.IsNumber(b)) throw Unsupported("//", a, b);
        if (Py.IsInteger(a) && Py.IsInteger(b))
        {
            var x = Py.ToLong(a);
            var y = Py.ToLong(b);
            if (y == 0) throw new TemplateRuntimeError("integer division or modulo by zero");
            var q = x / y;
            if ((x % y != 0) && ((x < 0) != (y < 0))) q--;
            return q;
        }
        var d = Py.ToDouble(b);
        if (d == 0) throw new TemplateRuntimeError("float floor division by zero");
        return Math.Floor(Py.ToDouble(a) / d);
    }

    private static object? Modulo(object? a, object? b)
    {
        if (!Py.IsNumber(a) || !Py.IsNumber(b)) throw Unsupported("%", a, b);
        if (Py.IsInteger(a) && Py.IsInteger(b))
        {
            var x = Py.ToLong(a);
            var y = Py.ToLong(b);
            if (y == 0) throw new TemplateRuntimeError("integer division or modulo by zero");
            var r = x % y;
            if (r != 0 && ((r < 0) != (y < 0))) r += y;
            return r;
        }
        var p = Py.ToDouble(a);
        var q = Py.ToDouble(b);
        if (q == 0) throw new TemplateRuntimeError("float modulo");
        var m = p % q;
        if (m != 0 && ((m < 0) != (q < 0))) m += q;
        return m;
    }

    private static object? Power(object? a, object? b)
    {
        if (!Py.IsNumber(a) || !Py.IsNumber(b)) throw Unsupported("** or pow()", a, b);
        if (Py.IsInteger(a) && Py.IsInteger(b) && Py.ToLong(b) >= 0)
        {
            var x = Py.ToLong(a);
            var n = Py.ToLong(b);
            long result = 1;
            for (long i = 0; i < n; i++)
            {
                result = checked(result * x);
                if (result == 0 || (result == 1 && x == 1)) break;
                if (x == -1) { result = n % 2 == 0 ? 1 : -1; break; }
            }
            return result;
        }
        var bas = Py.ToDouble(a);
        var exp = Py.ToDouble(b);
        if (bas == 0 && exp < 0) throw new TemplateRuntimeError("0.0 cannot be raised to a negative power");
        return Math.Pow(bas, exp);
    }
}
