namespace Integration.Templates;

/// <summary>Jinja2's built-in tests (<c>x is defined</c>, <c>n is divisibleby 3</c>, …).</summary>
internal static class Tests
{
    public static readonly Dictionary<string, TestFunction> All = new(StringComparer.Ordinal)
    {
        ["boolean"] = (c, v, a) => v is bool,
        ["callable"] = (c, v, a) => v is Macro or GlobalFunction or BoundMethod or Joiner || v is LoopContext { Recursive: not null },
        ["defined"] = (c, v, a) => v is not Undefined,
        ["undefined"] = (c, v, a) => v is Undefined,
        ["divisibleby"] = (c, v, a) =>
        {
            var n = Arg(a, "num");
            if (Py.IsInteger(v) && Py.IsInteger(n))
            {
                var d = Py.ToLong(n);
                if (d == 0) throw new TemplateRuntimeError("integer division or modulo by zero");
                return Py.ToLong(v) % d == 0;
            }
            return Py.Truthy(Operators.Binary(c, "%", v, n)) == false;
        },
        ["eq"] = (c, v, a) => Py.Eq(v, Arg(a, "other")),
        ["equalto"] = (c, v, a) => Py.Eq(v, Arg(a, "other")),
        ["=="] = (c, v, a) => Py.Eq(v, Arg(a, "other")),
        ["ne"] = (c, v, a) => !Py.Eq(v, Arg(a, "other")),
        ["!="] = (c, v, a) => !Py.Eq(v, Arg(a, "other")),
        ["lt"] = (c, v, a) => Py.Compare(v, Arg(a, "other"), "<") < 0,
        ["lessthan"] = (c, v, a) => Py.Compare(v, Arg(a, "other"), "<") < 0,
        ["<"] = (c, v, a) => Py.Compare(v, Arg(a, "other"), "<") < 0,
        ["le"] = (c, v, a) => Py.Compare(v, Arg(a, "other"), "<=") <= 0,
        ["<="] = (c, v, a) => Py.Compare(v, Arg(a, "other"), "<=") <= 0,
        ["gt"] = (c, v, a) => Py.Compare(v, Arg(a, "other"), ">") > 0,
        ["greaterthan"] = (c, v, a) => Py.Compare(v, Arg(a, "other"), ">") > 0,
        [">"] = (c, v, a) => Py.Compare(v, Arg(a, "other"), ">") > 0,
        ["ge"] = (c, v, a) => Py.Compare(v, Arg(a, "other"), ">=") >= 0,
        [">="] = (c, v, a) => Py.Compare(v, Arg(a, "other"), ">=") >= 0,
        ["in"] = (c, v, a) => Py.Contains(Arg(a, "seq"), v),
        ["escaped"] = (c, v, a) => v is Markup,
        ["even"] = (c, v, a) => Py.ToLong(Integer(v)) % 2 == 0,
        ["odd"] = (c, v, a) => Py.ToLong(Integer(v)) % 2 != 0,
        ["false"] = (c, v, a) => v is false,
        ["true"] = (c, v, a) => v is true,
        ["none"] = (c, v, a) => v is null,
        ["integer"] = (c, v, a) => v is long,
        ["float"] = (c, v, a) => v is double,
        ["number"] = (c, v, a) => Py.IsNumber(v),
        ["string"] = (c, v, a) => v is string or Markup,
        ["mapping"] = (c, v, a) => v is TemplateDict or ITemplateObject,
        ["iterable"] = (c, v, a) => v is string or List<object?> or TemplateDict or ITemplateObject or Undefined or Markup,
        ["sequence"] = (c, v, a) => v is string or List<object?> or TemplateDict or ITemplateObject or Markup,
        ["sameas"] = (c, v, a) => Arg(a, "other") is var o && (ReferenceEquals(v, o) || (v is null or bool && Py.Eq(v, o) && (o is null or bool))
            || (v is long x && o is long y && x == y && x is >= -5 and <= 256)),
        ["lower"] = (c, v, a) => Py.Str(v) is var s && s.Any(char.IsLetter) && !s.Any(char.IsUpper),
        ["upper"] = (c, v, a) => Py.Str(v) is var s && s.Any(char.IsLetter) && !s.Any(char.IsLower),
        ["filter"] = (c, v, a) => v is string name && Filters.All.ContainsKey(name),
        ["test"] = (c, v, a) => v is string name && All!.ContainsKey(name),
    };

    private static object? Arg(Arguments a, string name) =>
        a.Has(0, name) ? a.Get(0, name) : throw new TemplateRuntimeError($"missing required argument '{name}'");

    private static object? Integer(object? v) => v is Undefined u ? throw new TemplateRuntimeError(u.Message) : v is double d ? (long)d : v;
}
