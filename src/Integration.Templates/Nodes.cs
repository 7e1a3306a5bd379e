namespace Integration.Templates;

/// <summary>A statement of the compiled template.</summary>
internal abstract class Node(int line, int column)
{
    public int Line { get; } = line;

    public int Column { get; } = column;

    public abstract void Render(RenderContext c);

    public TemplateRenderException Fail(string message) => new(message, Line, Column);

    // Limits and runtime errors raised outside any expression get this statement's position.
    protected void Step(RenderContext c)
    {
        try
        {
            c.Step();
        }
        catch (TemplateRuntimeError e)
        {
            throw Fail(e.Message);
        }
    }
}

internal sealed class Body(Node[] nodes, int line, int column) : Node(line, column)
{
    public Node[] Nodes { get; } = nodes;

    public override void Render(RenderContext c)
    {
        foreach (var node in Nodes)
        {
            node.Render(c);
        }
    }
}

internal sealed class TextNode(string text, int line, int column) : Node(line, column)
{
    public string Text { get; } = text;

    public override void Render(RenderContext c)
    {
        try
        {
            c.Write(Text);
        }
        catch (TemplateRuntimeError e)
        {
            throw Fail(e.Message);
        }
    }
}

internal sealed class OutputNode(Expr expr, int line, int column) : Node(line, column)
{
    public Expr Expr { get; } = expr;

    public override void Render(RenderContext c)
    {
        var value = Expr.Eval(c);
        try
        {
            switch (value)
            {
                case Markup m:
                    c.Write(m.Value);
                    return;
                case Undefined u:
                    c.NoteMissing(u);
                    return;
            }
            var text = Py.Str(value);
            c.Write(c.Escape is null ? text : c.Escape(text));
        }
        catch (TemplateRuntimeError e)
        {
            throw Expr.Fail(e.Message);
        }
    }
}

internal sealed class IfNode((Expr Test, Node Body)[] branches, Node? otherwise, int line, int column) : Node(line, column)
{
    public override void Render(RenderContext c)
    {
        Step(c);
        foreach (var (test, body) in branches)
        {
            if (Py.Truthy(test.Value(c)))
            {
                body.Render(c);
                return;
            }
        }
        otherwise?.Render(c);
    }
}

/// <summary>An assignment target: a name, a tuple of targets, or <c>ns.attr</c>.</summary>
internal abstract class Target(int line, int column)
{
    public int Line { get; } = line;

    public int Column { get; } = column;

    public abstract void Assign(RenderContext c, object? value);

    public abstract IEnumerable<string> Names { get; }
}

internal sealed class NameTarget(string name, int line, int column) : Target(line, column)
{
    public string Name { get; } = name;

    public override IEnumerable<string> Names => [Name];

    public override void Assign(RenderContext c, object? value) => c.Scope.Set(Name, value);
}

internal sealed class TupleTarget(Target[] items, int line, int column) : Target(line, column)
{
    public override IEnumerable<string> Names => items.SelectMany(i => i.Names);

    public override void Assign(RenderContext c, object? value)
    {
        if (value is Markup m) value = m.Value;
        List<object?> values;
        try
        {
            values = Py.Iterate(value);
        }
        catch (TemplateRuntimeError)
        {
            throw new TemplateRenderException($"cannot unpack non-iterable {Py.TypeName(value)} object", Line, Column);
        }
        if (values.Count != items.Length)
        {
            throw new TemplateRenderException(values.Count > items.Length
                ? $"too many values to unpack (expected {items.Length})"
                : $"not enough values to unpack (expected {items.Length}, got {values.Count})", Line, Column);
        }
        for (var i = 0; i < items.Length; i++)
        {
            items[i].Assign(c, values[i]);
        }
    }
}

internal sealed class NamespaceTarget(string name, string attribute, int line, int column) : Target(line, column)
{
    public string Name { get; } = name;

    public override IEnumerable<string> Names => [];

    public override void Assign(RenderContext c, object? value)
    {
        if (c.Lookup(Name) is not Namespace ns)
        {
            throw new TemplateRenderException("cannot assign attribute on non-namespace object", Line, Column);
        }
        ns.Values[attribute] = value;
    }
}

internal sealed class SetNode(Target target, Expr value, int line, int column) : Node(line, column)
{
    public override void Render(RenderContext c)
    {
        Step(c);
        target.Assign(c, value.Eval(c));
    }
}

internal sealed class SetBlockNode(Target target, Node body, FilterExpr[] filters, int line, int column) : Node(line, column)
{
    public override void Render(RenderContext c)
    {
        Step(c);
        var text = c.Capture(body, new Scope(c.Scope));
        object? value = new Markup(text);
        foreach (var filter in filters)
        {
            value = filter.Apply(c, value);
        }
        target.Assign(c, value);
    }
}

internal sealed class WithNode((Target Target, Expr Value)[] assignments, Node body, int line, int column) : Node(line, column)
{
    public override void Render(RenderContext c)
    {
        Step(c);
        var scope = new Scope(c.Scope);
        var values = assignments.Select(a => a.Value.Eval(c)).ToArray();
        var previous = c.Scope;
        c.Scope = scope;
        try
        {
            for (var i = 0; i < values.Length; i++)
            {
                assignments[i].Target.Assign(c, values[i]);
            }
            body.Render(c);
        }
        finally
        {
            c.Scope = previous;
        }
    }
}

internal sealed class FilterBlockNode(Node body, FilterExpr[] filters, int line, int column) : Node(line, column)
{
    public override void Render(RenderContext c)
    {
        Step(c);
        object? value = c.Capture(body, new Scope(c.Scope));
        foreach (var filter in filters)
        {
            value = filter.Apply(c, value);
        }
        try
        {
            c.Write(value is Markup m ? m.Value : Py.Str(value));
        }
        catch (TemplateRuntimeError e)
        {
            throw Fail(e.Message);
        }
    }
}

internal sealed class ForNode(Target target, Expr iterable, Expr? condition, Node body, Node? otherwise, bool recursive, int line, int column)
    : Node(line, column)
{
    public override void Render(RenderContext c)
    {
        Step(c);
        Loop(c, iterable.Value(c), 0);
    }

    public void Loop(RenderContext c, object? source, int depth)
    {
        List<object?> items;
        try
        {
            items = Py.Iterate(source);
        }
        catch (TemplateRuntimeError e)
        {
            throw iterable.Fail(e.Message);
        }
        if (depth >= c.Limits.MaxRecursionDepth)
        {
            throw Fail($"recursion deeper than {c.Limits.MaxRecursionDepth} levels");
        }
        var outer = c.Scope;
        if (condition is not null)
        {
            var kept = new List<object?>();
            foreach (var item in items)
            {
                var probe = new Scope(outer);
                c.Scope = probe;
                try
                {
                    target.Assign(c, item);
                    Count(c);
                    if (Py.Truthy(condition.Value(c)))
                    {
                        kept.Add(item);
                    }
                }
                finally
                {
                    c.Scope = outer;
                }
            }
            items = kept;
        }
        else
        {
            // The loop walks a snapshot, as Python iterates a list it is not changing.
            items = [.. items];
        }
        var loop = new LoopContext(items, depth, recursive ? this : null);
        try
        {
            for (var i = 0; i < items.Count; i++)
            {
                Count(c);
                loop.Index0 = i;
                var scope = new Scope(outer);
                c.Scope = scope;
                scope.Set("loop", loop);
                target.Assign(c, items[i]);
                body.Render(c);
                c.Scope = outer;
            }
        }
        finally
        {
            c.Scope = outer;
        }
        if (items.Count == 0)
        {
            otherwise?.Render(c);
        }
    }

    private void Count(RenderContext c)
    {
        try
        {
            c.Iteration();
        }
        catch (TemplateRuntimeError e)
        {
            throw Fail(e.Message);
        }
    }
}

/// <summary>The <c>loop</c> variable of a for loop.</summary>
internal sealed class LoopContext(List<object?> items, int depth0, ForNode? recursive)
{
    private object? _lastChanged = Undefined.Plain;
    private bool _changedCalled;

    public List<object?> Items { get; } = items;

    public int Index0 { get; set; }

    public int Depth0 { get; } = depth0;

    public ForNode? Recursive { get; } = recursive;

    public object? Attribute(string name) => name switch
    {
        "index" => Py.Box(Index0 + 1L),
        "index0" => Py.Box(Index0),
        "revindex" => Py.Box(Items.Count - Index0),
        "revindex0" => Py.Box(Items.Count - Index0 - 1L),
        "first" => Py.Box(Index0 == 0),
        "last" => Py.Box(Index0 == Items.Count - 1),
        "length" => Py.Box(Items.Count),
        "depth" => Py.Box(Depth0 + 1L),
        "depth0" => Py.Box(Depth0),
        "previtem" => Index0 > 0 ? Items[Index0 - 1] : Undefined.Named("there is no previous item"),
        "nextitem" => Index0 + 1 < Items.Count ? Items[Index0 + 1] : Undefined.Named("there is no next item"),
        "cycle" or "changed" => new BoundMethod(this, name),
        _ => Undefined.NoAttribute(this, name),
    };

    public object? Cycle(Arguments args)
    {
        if (args.Positional.Length == 0)
        {
            throw new TemplateRuntimeError("no items for cycling given");
        }
        return args.Positional[Index0 % args.Positional.Length];
    }

    public bool Changed(Arguments args)
    {
        object? value = new TemplateTuple(args.Positional);
        if (_changedCalled && Py.Eq(value, _lastChanged))
        {
            return false;
        }
        _changedCalled = true;
        _lastChanged = value;
        return true;
    }
}

/// <summary>A macro (or the body of a call block, as <c>caller</c>).</summary>
internal sealed class Macro(string name, string[] parameters, Expr?[] defaults, Node body, Scope closure, bool catchVarargs, bool catchKwargs, bool usesCaller)
{
    public string Name { get; } = name;

    public object? Call(RenderContext c, Arguments args, Macro? caller)
    {
        if (c.Depth >= c.Limits.MaxRecursionDepth)
        {
            throw new TemplateRuntimeError($"macro calls nested deeper than {c.Limits.MaxRecursionDepth} levels");
        }
        var scope = new Scope(closure);
        var positional = args.Positional;
        if (positional.Length > parameters.Length && !catchVarargs)
        {
            throw new TemplateRuntimeError($"macro '{Name}' takes not more than {parameters.Length} argument(s)");
        }
        var previous = c.Scope;
        c.Scope = scope;
        try
        {
            for (var i = 0; i < parameters.Length; i++)
            {
                object? value;
                var found = false;
                value = null;
                foreach (var (key, v) in args.Named)
                {
                    if (key == parameters[i])
                    {
                        if (i < positional.Length)
                        {
                            throw new TemplateRuntimeError($"macro '{Name}' got multiple values for argument '{key}'");
                        }
                        value = v;
                        found = true;
                    }
                }
                if (!found)
                {
                    value = i < positional.Length ? positional[i]
                        : defaults[i] is { } fallback ? fallback.Eval(c)
                        : Undefined.Named($"parameter '{parameters[i]}' was not provided");
                }
                scope.Set(parameters[i], value);
            }
            var extraKwargs = new TemplateDict();
            foreach (var (key, v) in args.Named)
            {
                if (!parameters.Contains(key))
                {
                    if (key == "caller" && usesCaller)
                    {
                        scope.Set("caller", v);
                        continue;
                    }
                    if (!catchKwargs)
                    {
                        throw new TemplateRuntimeError($"macro '{Name}' takes no keyword argument '{key}'");
                    }
                    extraKwargs[key] = v;
                }
            }
            if (catchVarargs)
            {
                scope.Set("varargs", new TemplateTuple(positional.Length > parameters.Length ? positional[parameters.Length..] : []));
            }
            if (catchKwargs)
            {
                scope.Set("kwargs", extraKwargs);
            }
            if (caller is not null)
            {
                scope.Set("caller", caller);
            }
            else if (usesCaller && !args.Named.Any(n => n.Key == "caller"))
            {
                scope.Set("caller", Undefined.Named("No caller defined"));
            }
        }
        finally
        {
            c.Scope = previous;
        }
        c.Depth++;
        try
        {
            return new Markup(c.Capture(body, scope));
        }
        finally
        {
            c.Depth--;
        }
    }
}

internal sealed class MacroNode(string name, string[] parameters, Expr?[] defaults, Node body, bool varargs, bool kwargs, bool caller, int line, int column)
    : Node(line, column)
{
    public override void Render(RenderContext c) =>
        c.Scope.Set(name, new Macro(name, parameters, defaults, body, c.Scope, varargs, kwargs, caller));
}

internal sealed class CallBlockNode(CallExpr call, string[] parameters, Expr?[] defaults, Node body, bool varargs, bool kwargs, int line, int column)
    : Node(line, column)
{
    public override void Render(RenderContext c)
    {
        Step(c);
        var caller = new Macro("caller", parameters, defaults, body, c.Scope, varargs, kwargs, false);
        var value = call.Invoke(c, caller);
        try
        {
            c.Write(value is Markup m ? m.Value : Py.Str(value));
        }
        catch (TemplateRuntimeError e)
        {
            throw Fail(e.Message);
        }
    }
}
