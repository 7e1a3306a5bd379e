namespace Integration.Templates;

/// <summary>An expression of the compiled template; evaluation is a walk of this tree.</summary>
internal abstract class Expr(int line, int column)
{
    public int Line { get; } = line;

    public int Column { get; } = column;

    /// <summary>The value, possibly <see cref="Markup"/> (only printing and assignment keep that).</summary>
    public abstract object? Eval(RenderContext c);

    /// <summary>The value as operations see it: text a macro produced is a plain string.</summary>
    public object? Value(RenderContext c)
    {
        var v = Eval(c);
        return v is Markup m ? m.Value : v;
    }

    public TemplateRenderException Fail(string message) => new(message, Line, Column);
}

internal sealed class Const(object? value, int line, int column) : Expr(line, column)
{
    public object? Constant { get; } = value;

    public override object? Eval(RenderContext c) => Constant;
}

internal sealed class NameExpr(string name, int line, int column) : Expr(line, column)
{
    public string Name { get; } = name;

    public override object? Eval(RenderContext c) => c.Lookup(Name);
}

internal sealed class ListExpr(Expr[] items, bool tuple, int line, int column) : Expr(line, column)
{
    public Expr[] Items { get; } = items;

    public override object? Eval(RenderContext c)
    {
        var values = new object?[Items.Length];
        for (var i = 0; i < Items.Length; i++)
        {
            values[i] = Items[i].Value(c);
        }
        c.Items(values.Length);
        return tuple ? new TemplateTuple(values) : new List<object?>(values);
    }
}

internal sealed class DictExpr((Expr Key, Expr Value)[] items, int line, int column) : Expr(line, column)
{
    public override object? Eval(RenderContext c)
    {
        var dict = new TemplateDict(items.Length);
        foreach (var (key, value) in items)
        {
            var k = key.Value(c);
            if (k is null or List<object?> or TemplateDict or Undefined)
            {
                throw key.Fail($"unhashable type: '{Py.TypeName(k)}'");
            }
            dict[k] = value.Value(c);
        }
        c.Items(items.Length);
        return dict;
    }
}

internal sealed class GetAttr(Expr target, string name, int line, int column) : Expr(line, column)
{
    public Expr Target { get; } = target;

    public string Name { get; } = name;

    public override object? Eval(RenderContext c)
    {
        var value = Target.Value(c);
        try
        {
            return Access.Attribute(c, value, Name);
        }
        catch (TemplateRuntimeError e)
        {
            throw Fail(e.Message);
        }
    }
}

internal sealed class GetItem(Expr target, Expr key, int line, int column) : Expr(line, column)
{
    public Expr Target { get; } = target;

    public Expr Key { get; } = key;

    public override object? Eval(RenderContext c)
    {
        var value = Target.Value(c);
        var key = Key.Value(c);
        try
        {
            return Access.Item(c, value, key);
        }
        catch (TemplateRuntimeError e)
        {
            throw Fail(e.Message);
        }
    }
}

internal sealed class SliceExpr(Expr target, Expr? start, Expr? stop, Expr? step, int line, int column) : Expr(line, column)
{
    public override object? Eval(RenderContext c)
    {
        var value = target.Value(c);
        var a = start?.Value(c);
        var b = stop?.Value(c);
        var s = step?.Value(c);
        try
        {
            return Access.Slice(c, value, a, b, s);
        }
        catch (TemplateRuntimeError e)
        {
            throw Fail(e.Message);
        }
    }
}

internal sealed class Unary(string op, Expr operand, int line, int column) : Expr(line, column)
{
    public override object? Eval(RenderContext c)
    {
        var v = operand.Value(c);
        if (op == "not")
        {
            return Py.Box(!Py.Truthy(v));
        }
        try
        {
            return Operators.Unary(op, v);
        }
        catch (TemplateRuntimeError e)
        {
            throw Fail(e.Message);
        }
    }
}

internal sealed class Binary(string op, Expr left, Expr right, int line, int column) : Expr(line, column)
{
    public override object? Eval(RenderContext c)
    {
        switch (op)
        {
            case "and":
            {
                var l = left.Value(c);
                return Py.Truthy(l) ? right.Value(c) : l;
            }
            case "or":
            {
                var l = left.Value(c);
                return Py.Truthy(l) ? l : right.Value(c);
            }
        }
        var a = left.Value(c);
        var b = right.Value(c);
        try
        {
            return Operators.Binary(c, op, a, b);
        }
        catch (TemplateRuntimeError e)
        {
            throw Fail(e.Message);
        }
    }
}

internal sealed class Concat(Expr[] parts, int line, int column) : Expr(line, column)
{
    public override object? Eval(RenderContext c)
    {
        var texts = new string[parts.Length];
        long length = 0;
        for (var i = 0; i < parts.Length; i++)
        {
            texts[i] = Py.Str(parts[i].Value(c));
            length += texts[i].Length;
        }
        try
        {
            c.String(length);
        }
        catch (TemplateRuntimeError e)
        {
            throw Fail(e.Message);
        }
        return string.Concat(texts);
    }
}

internal sealed class Compare(Expr first, (string Op, Expr Operand)[] rest, int line, int column) : Expr(line, column)
{
    public override object? Eval(RenderContext c)
    {
        var left = first.Value(c);
        try
        {
            foreach (var (op, operand) in rest)
            {
                var right = operand.Value(c);
                if (!Operators.Compare(op, left, right))
                {
                    return Py.False;
                }
                left = right;
            }
            return Py.True;
        }
        catch (TemplateRuntimeError e)
        {
            throw Fail(e.Message);
        }
    }
}

internal sealed class CondExpr(Expr test, Expr then, Expr? otherwise, int line, int column) : Expr(line, column)
{
    public override object? Eval(RenderContext c) =>
        Py.Truthy(test.Value(c)) ? then.Eval(c) : otherwise is null ? Undefined.Plain : otherwise.Eval(c);
}

/// <summary>Call arguments as written: positional, keyword, <c>*args</c>, <c>**kwargs</c>.</summary>
internal sealed class CallArgs(Expr[] positional, (string Name, Expr Value)[] named, Expr? star, Expr? doubleStar)
{
    public static readonly CallArgs Empty = new([], [], null, null);

    public Expr[] Positional { get; } = positional;

    public (string Name, Expr Value)[] Named { get; } = named;

    public IEnumerable<Expr> All => Positional.Concat(Named.Select(n => n.Value)).Concat(new[] { star, doubleStar }.OfType<Expr>());

    // Arguments that are all literals (|default(''), |round(2)) are evaluated once.
    private readonly Arguments? _constant = star is null && doubleStar is null && positional.All(p => p is Const) && named.All(n => n.Value is Const)
        ? (positional.Length == 0 && named.Length == 0 ? Arguments.None
            : new Arguments(positional.Select(p => ((Const)p).Constant).ToArray(), named.Select(n => new KeyValuePair<string, object?>(n.Name, ((Const)n.Value).Constant)).ToArray()))
        : null;

    public Arguments Eval(RenderContext c)
    {
        if (_constant is not null)
        {
            return _constant;
        }
        var positional = new List<object?>(Positional.Length);
        foreach (var p in Positional)
        {
            positional.Add(p.Value(c));
        }
        if (star is not null)
        {
            positional.AddRange(Py.Iterate(star.Value(c)));
        }
        var named = new List<KeyValuePair<string, object?>>(Named.Length);
        foreach (var (name, value) in Named)
        {
            named.Add(new(name, value.Value(c)));
        }
        if (doubleStar is not null)
        {
            if (doubleStar.Value(c) is not TemplateDict kwargs)
            {
                throw doubleStar.Fail("argument after ** must be a mapping");
            }
            foreach (var (key, value) in kwargs)
            {
                named.Add(new(Py.Str(key), value));
            }
        }
        return new Arguments([.. positional], [.. named]);
    }
}

internal sealed class FilterExpr(Expr? target, string name, FilterFunction function, CallArgs args, int line, int column) : Expr(line, column)
{
    public string Name { get; } = name;

    public CallArgs Args { get; } = args;

    public Expr? Target { get; } = target;

    public override object? Eval(RenderContext c) => Apply(c, Target!.Eval(c));

    public object? Apply(RenderContext c, object? value)
    {
        if (value is Markup m && Name is not ("safe" or "escape" or "e" or "string"))
        {
            value = m.Value;
        }
        var arguments = Args.Eval(c);
        try
        {
            c.Step();
            return function(c, value, arguments);
        }
        catch (TemplateRuntimeError e)
        {
            throw Fail(e.Message);
        }
    }
}

internal sealed class TestExpr(Expr target, string name, TestFunction function, CallArgs args, bool negate, int line, int column) : Expr(line, column)
{
    public string Name { get; } = name;

    public override object? Eval(RenderContext c)
    {
        var value = Name == "escaped" ? target.Eval(c) : target.Value(c);
        var arguments = args.Eval(c);
        try
        {
            return Py.Box(function(c, value, arguments) != negate);
        }
        catch (TemplateRuntimeError e)
        {
            throw Fail(e.Message);
        }
    }
}

internal sealed class CallExpr(Expr callee, CallArgs args, int line, int column) : Expr(line, column)
{
    public Expr Callee { get; } = callee;

    public CallArgs Args { get; } = args;

    public override object? Eval(RenderContext c) => Invoke(c, null);

    /// <summary>Calls the callee; a call block passes its body as <c>caller</c>.</summary>
    public object? Invoke(RenderContext c, Macro? caller)
    {
        var function = Callee.Value(c);
        var arguments = Args.Eval(c);
        try
        {
            c.Step();
            return Calls.Invoke(c, function, arguments, caller);
        }
        catch (TemplateRuntimeError e)
        {
            throw Fail(e.Message);
        }
    }
}
