namespace Integration.Templates;

/// <summary>
/// A read-only object the host gives a template (e.g. a user's attributes). Templates can look up its items
/// (<c>x['key']</c> or <c>x.key</c>) and iterate its keys; nothing else of the .NET object is reachable.
/// </summary>
public interface ITemplateObject
{
    /// <summary>The value of a key; a missing key may give <see cref="Undefined.Missing"/> so that printing it is noticed.</summary>
    object? Get(string key);

    /// <summary>The keys, in a stable order.</summary>
    IEnumerable<string> Keys { get; }
}

/// <summary>
/// Jinja's undefined value: empty when printed, false in a test, an error in arithmetic or when its attributes
/// are read. <see cref="Tracked"/> ones (a missing attribute of a host object) are reported when printed.
/// </summary>
public sealed class Undefined
{
    internal static readonly Undefined Plain = new(null, false, "value is undefined");

    private Undefined(string? name, bool tracked, string message)
    {
        Name = name;
        Tracked = tracked;
        Message = message;
    }

    /// <summary>The expression that was not there, e.g. <c>UserAttribute['city']</c>.</summary>
    public string? Name { get; }

    /// <summary>Printing it is recorded in <see cref="RenderResult.PrintedMissing"/>.</summary>
    public bool Tracked { get; }

    internal string Message { get; }

    /// <summary>A missing value of a host object whose printing the host wants to know about.</summary>
    public static Undefined Missing(string name) => new(name, true, $"'{name}' is undefined");

    internal static Undefined Named(string name) => new(name, false, $"'{name}' is undefined");

    internal static Undefined NoAttribute(object? owner, string attribute) =>
        new(attribute, false, $"'{Py.TypeName(owner)} object' has no attribute '{attribute}'");

    public override string ToString() => "";
}

/// <summary>Text a macro, a call block or a block set produced: printed as is, without the output's escaping.</summary>
internal sealed class Markup(string value)
{
    public string Value { get; } = value;

    public override string ToString() => Value;
}

/// <summary>A dictionary built by a template (<c>{'a': 1}</c>, <c>dict()</c>), with Python's key equality.</summary>
internal sealed class TemplateDict : Dictionary<object, object?>
{
    public TemplateDict() : base(PyEquality.Instance)
    {
    }

    public TemplateDict(int capacity) : base(capacity, PyEquality.Instance)
    {
    }
}

/// <summary><c>namespace()</c>: the one object a template may assign attributes on.</summary>
internal sealed class Namespace
{
    public readonly Dictionary<string, object?> Values = new(StringComparer.Ordinal);
}

/// <summary>A method of a value, looked up by name and bound to it (<c>'abc'.upper</c>, <c>d.items</c>).</summary>
internal sealed record BoundMethod(object Target, string Name);

/// <summary>A global function (<c>range</c>, <c>dict</c>, …).</summary>
internal sealed record GlobalFunction(string Name, Func<RenderContext, Arguments, object?> Invoke);

/// <summary><c>cycler(…)</c>.</summary>
internal sealed class Cycler(object?[] items)
{
    public object?[] Items { get; } = items;

    public int Position { get; set; }

    public object? Current => Items[Position];
}

/// <summary><c>joiner(sep)</c>: an empty string the first time, the separator after.</summary>
internal sealed class Joiner(string separator)
{
    public string Separator { get; } = separator;

    public bool Used { get; set; }
}

/// <summary>Python's tuple: a fixed sequence, printed with parentheses.</summary>
internal class TemplateTuple(object?[] items) : List<object?>(items)
{
}

/// <summary>Equality and hashing with Python's rules: 1 == 1.0 == True, lists by items, strings ordinal.</summary>
internal sealed class PyEquality : IEqualityComparer<object>
{
    public static readonly PyEquality Instance = new();

    public new bool Equals(object? x, object? y) => Py.Eq(x, y);

    public int GetHashCode(object obj) => obj switch
    {
        bool b => b ? 1 : 0,
        long l => l.GetHashCode(),
        double d when d == Math.Floor(d) && Math.Abs(d) < 9e18 => ((long)d).GetHashCode(),
        double d => d.GetHashCode(),
        string s => s.GetHashCode(StringComparison.Ordinal),
        _ => obj.GetHashCode(),
    };
}
