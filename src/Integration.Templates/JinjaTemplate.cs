using System.Collections.Concurrent;
using System.Globalization;

namespace Integration.Templates;

/// <summary>A name a template reads without assigning it (a root the host must provide), and where it is first read.</summary>
public sealed record NameUse(string Name, int Line, int Column);

/// <summary>What one render produced.</summary>
/// <param name="Text">The rendered text.</param>
/// <param name="PrintedMissing">Names of missing host values (<see cref="Undefined.Missing"/>) that were printed.</param>
public sealed record RenderResult(string Text, IReadOnlyList<string> PrintedMissing);

/// <summary>How one render runs.</summary>
public sealed record RenderSettings
{
    public static readonly RenderSettings Default = new();

    /// <summary>Applied to every printed value (not to the template's own text), e.g. JSON-string escaping.</summary>
    public Func<string, string>? Escape { get; init; }

    public TemplateLimits Limits { get; init; } = TemplateLimits.Default;

    /// <summary>What <c>now()</c> returns.</summary>
    public DateTimeOffset Now { get; init; } = DateTimeOffset.UnixEpoch;
}

/// <summary>
/// A compiled Jinja template (Jinja2 3.1's syntax and semantics for message templates). Compile once, render
/// many times from any thread; rendering touches only the values given to it.
/// </summary>
public sealed class JinjaTemplate
{
    public const int MaxSourceLength = 256 * 1024;

    private static readonly ConcurrentDictionary<string, JinjaTemplate> Cache = new(StringComparer.Ordinal);
    private const int MaxCached = 4096;

    private readonly Body _body;

    private JinjaTemplate(string source, Body body, IReadOnlyList<NameUse> freeNames)
    {
        Source = source;
        _body = body;
        FreeNames = freeNames;
    }

    public string Source { get; }

    /// <summary>Names the template reads but never assigns and that are not global functions, in order of first use.</summary>
    public IReadOnlyList<NameUse> FreeNames { get; }

    /// <summary>Compiles a template; a syntax error, an unknown filter, test or tag throws with its line and column.</summary>
    public static JinjaTemplate Compile(string source)
    {
        ArgumentNullException.ThrowIfNull(source);
        if (source.Length > MaxSourceLength)
        {
            throw new TemplateSyntaxException($"the template is longer than {MaxSourceLength} characters", 1, 1);
        }
        var normalized = source.Replace("\r\n", "\n", StringComparison.Ordinal).Replace('\r', '\n');
        if (normalized.EndsWith('\n'))
        {
            // Jinja2's keep_trailing_newline=False.
            normalized = normalized[..^1];
        }
        var map = new SourceMap(normalized);
        var (body, parser) = Parser.Parse(normalized, map);
        var free = new List<NameUse>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var (name, line, column) in parser.References)
        {
            if (!parser.Declared.Contains(name) && !Globals.Functions.ContainsKey(name) && seen.Add(name))
            {
                free.Add(new NameUse(name, line, column));
            }
        }
        return new JinjaTemplate(source, body, free);
    }

    /// <summary>Compiles once per distinct source (bounded cache), so hot paths never parse.</summary>
    public static JinjaTemplate CompileCached(string source)
    {
        if (Cache.TryGetValue(source, out var template))
        {
            return template;
        }
        template = Compile(source);
        if (Cache.Count >= MaxCached)
        {
            Cache.Clear();
        }
        return Cache.GetOrAdd(source, template);
    }

    /// <summary>Renders with the given root values (strings, numbers, booleans, null, lists, dictionaries, <see cref="ITemplateObject"/>).</summary>
    public RenderResult Render(IReadOnlyDictionary<string, object?> roots, RenderSettings? settings = null)
    {
        settings ??= RenderSettings.Default;
        var context = new RenderContext(settings.Limits, roots, settings.Escape, settings.Now);
        context.Out.EnsureCapacity(Math.Min(Source.Length + 64, settings.Limits.MaxOutputLength));
        try
        {
            _body.Render(context);
        }
        catch (TemplateRuntimeError e)
        {
            throw new TemplateRenderException(e.Message, _body.Line, _body.Column);
        }
        catch (InsufficientExecutionStackException)
        {
            throw new TemplateRenderException("the template nests too deeply", _body.Line, _body.Column);
        }
        return new RenderResult(context.Out.ToString(), context.Missing ?? (IReadOnlyList<string>)[]);
    }

    /// <summary>Turns plain .NET values (JSON-like: dictionaries, lists, numbers) into template values.</summary>
    public static object? FromPlain(object? value) => value switch
    {
        null or string or bool or long or double or ITemplateObject or Undefined or TemplateDict => value,
        int i => (long)i,
        float f => (double)f,
        decimal m => (double)m,
        IReadOnlyDictionary<string, object?> d => ToDict(d),
        System.Collections.IEnumerable e => e.Cast<object?>().Select(FromPlain).ToList(),
        _ => Convert.ToString(value, CultureInfo.InvariantCulture),
    };

    private static TemplateDict ToDict(IReadOnlyDictionary<string, object?> d)
    {
        var dict = new TemplateDict(d.Count);
        foreach (var (k, v) in d)
        {
            dict[k] = FromPlain(v);
        }
        return dict;
    }
}
