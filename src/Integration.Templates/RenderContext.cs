using System.Text;

namespace Integration.Templates;

/// <summary>Variables of one scope (the template, a loop iteration, a macro call, a with block).</summary>
internal sealed class Scope(Scope? parent)
{
    // Scopes hold a handful of names (a loop's target and `loop`): arrays searched in order beat a dictionary.
    private string[]? _names;
    private object?[]? _values;
    private int _count;

    public Scope? Parent { get; } = parent;

    public void Set(string name, object? value)
    {
        for (var i = 0; i < _count; i++)
        {
            if (string.Equals(_names![i], name, StringComparison.Ordinal))
            {
                _values![i] = value;
                return;
            }
        }
        if (_names is null)
        {
            _names = new string[4];
            _values = new object?[4];
        }
        else if (_count == _names.Length)
        {
            Array.Resize(ref _names, _count * 2);
            Array.Resize(ref _values, _count * 2);
        }
        _names[_count] = name;
        _values![_count++] = value;
    }

    public bool TryGet(string name, out object? value)
    {
        for (var scope = this; scope is not null; scope = scope.Parent)
        {
            for (var i = 0; i < scope._count; i++)
            {
                if (string.Equals(scope._names![i], name, StringComparison.Ordinal))
                {
                    value = scope._values![i];
                    return true;
                }
            }
        }
        value = null;
        return false;
    }
}

/// <summary>The state of one render: output, scopes and the budget of steps, iterations, depth and memory.</summary>
internal sealed class RenderContext(TemplateLimits limits, IReadOnlyDictionary<string, object?> roots, Func<string, string>? escape, DateTimeOffset now)
{
    private int _steps;
    private int _iterations;
    private long _allocated;

    public TemplateLimits Limits { get; } = limits;

    public IReadOnlyDictionary<string, object?> Roots { get; } = roots;

    public Func<string, string>? Escape { get; set; } = escape;

    public DateTimeOffset Now { get; } = now;

    public StringBuilder Out { get; set; } = new(256);

    public Scope Scope { get; set; } = new(null);

    public int Depth { get; set; }

    public List<string>? Missing { get; private set; }

    public void Step()
    {
        if (++_steps > Limits.MaxSteps)
        {
            throw new TemplateRuntimeError($"the template ran more than {Limits.MaxSteps} steps");
        }
    }

    public void Iteration()
    {
        if (++_iterations > Limits.MaxLoopIterations)
        {
            throw new TemplateRuntimeError($"the template ran more than {Limits.MaxLoopIterations} loop iterations");
        }
        Step();
    }

    /// <summary>Called before a string of this many characters is built.</summary>
    public void String(long length)
    {
        if (length > Limits.MaxStringLength)
        {
            throw new TemplateRuntimeError($"a string would be longer than {Limits.MaxStringLength} characters");
        }
        Allocate(length);
    }

    /// <summary>Called before this many characters or list items are allocated.</summary>
    public void Allocate(long units)
    {
        _allocated += units;
        if (_allocated > Limits.MaxAllocated)
        {
            throw new TemplateRuntimeError($"the template allocated more than {Limits.MaxAllocated} characters and items");
        }
    }

    /// <summary>Called before this many list or dict items are allocated (each costs a reference and more).</summary>
    public void Items(long count) => Allocate(count * 4);

    public void Write(string text)
    {
        if (Out.Length + text.Length > Limits.MaxOutputLength)
        {
            throw new TemplateRuntimeError($"the output would be longer than {Limits.MaxOutputLength} characters");
        }
        Out.Append(text);
    }

    public void NoteMissing(Undefined undefined)
    {
        if (undefined.Tracked && undefined.Name is not null)
        {
            Missing ??= [];
            if (!Missing.Contains(undefined.Name))
            {
                Missing.Add(undefined.Name);
            }
        }
    }

    public object? Lookup(string name)
    {
        if (Scope.TryGet(name, out var value))
        {
            return value;
        }
        if (Roots.TryGetValue(name, out value))
        {
            return value;
        }
        if (Globals.Functions.TryGetValue(name, out var function))
        {
            return function;
        }
        return Undefined.Named(name);
    }

    /// <summary>Renders into a fresh buffer (macro calls, block set, filter blocks) and returns the text.</summary>
    public string Capture(Node body, Scope scope)
    {
        var previousOut = Out;
        var previousScope = Scope;
        Out = new StringBuilder();
        Scope = scope;
        try
        {
            body.Render(this);
            return Out.ToString();
        }
        finally
        {
            Out = previousOut;
            Scope = previousScope;
        }
    }
}

/// <summary>Evaluated arguments of a filter, test or call: positional, then keyword.</summary>
internal sealed class Arguments(object?[] positional, KeyValuePair<string, object?>[] named)
{
    public static readonly Arguments None = new([], []);

    public object?[] Positional { get; } = positional;

    public KeyValuePair<string, object?>[] Named { get; } = named;

    /// <summary>Python's binding: the argument at this position or with this name, else the default.</summary>
    public object? Get(int index, string name, object? fallback = null)
    {
        foreach (var (key, value) in Named)
        {
            if (key == name)
            {
                if (index < Positional.Length)
                {
                    throw new TemplateRuntimeError($"got multiple values for argument '{name}'");
                }
                return value;
            }
        }
        return index < Positional.Length ? Positional[index] : fallback;
    }

    public bool Has(int index, string name) => index < Positional.Length || Named.Any(n => n.Key == name);

    /// <summary>Refuses arguments the callee does not take.</summary>
    public Arguments Expect(string callee, params string[] names)
    {
        if (Positional.Length > names.Length)
        {
            throw new TemplateRuntimeError($"{callee}() takes at most {names.Length} arguments ({Positional.Length} given)");
        }
        foreach (var (key, _) in Named)
        {
            if (!names.Contains(key))
            {
                throw new TemplateRuntimeError($"{callee}() got an unexpected keyword argument '{key}'");
            }
        }
        return this;
    }
}
