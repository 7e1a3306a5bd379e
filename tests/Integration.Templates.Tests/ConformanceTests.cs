using System.Text.Json;

namespace Integration.Templates.Tests;

/// <summary>
/// Every case of the corpus in Conformance/*.json, whose expected output (or error kind) Jinja2 3.1 produced
/// (Conformance/generate.py regenerates it).
/// </summary>
public sealed class ConformanceTests
{
    private static readonly string Folder = Path.Combine(AppContext.BaseDirectory, "Conformance");

    private static readonly Lazy<(IReadOnlyDictionary<string, object?> Context, DateTimeOffset Now)> Shared = new(() =>
    {
        using var document = JsonDocument.Parse(File.ReadAllText(Path.Combine(Folder, "context.json")));
        var context = (TemplateDictAccess)Convert(document.RootElement.GetProperty("context"))!;
        return (context.Values, DateTimeOffset.Parse(document.RootElement.GetProperty("now").GetString()!, System.Globalization.CultureInfo.InvariantCulture));
    });

    private static readonly Lazy<Dictionary<string, JsonElement>> Cases = new(() =>
    {
        var cases = new Dictionary<string, JsonElement>(StringComparer.Ordinal);
        foreach (var file in Directory.GetFiles(Folder, "*.json").Where(f => !f.EndsWith("context.json", StringComparison.Ordinal)))
        {
            using var document = JsonDocument.Parse(File.ReadAllText(file));
            foreach (var c in document.RootElement.GetProperty("cases").EnumerateArray())
            {
                cases[c.GetProperty("name").GetString()!] = c.Clone();
            }
        }
        return cases;
    });

    public static TheoryData<string> Names()
    {
        var data = new TheoryData<string>();
        foreach (var name in Cases.Value.Keys.Order(StringComparer.Ordinal))
        {
            data.Add(name);
        }
        return data;
    }

    [Fact]
    public void TheCorpusHasAtLeastThreeHundredCasesIncludingErrors()
    {
        Assert.True(Cases.Value.Count >= 300, $"{Cases.Value.Count} cases");
        Assert.Contains(Cases.Value.Values, c => c.TryGetProperty("error", out var e) && e.GetString() == "syntax");
        Assert.Contains(Cases.Value.Values, c => c.TryGetProperty("error", out var e) && e.GetString() == "render");
    }

    [Theory]
    [MemberData(nameof(Names))]
    public void RendersLikeJinja2(string name)
    {
        var c = Cases.Value[name];
        var source = c.GetProperty("template").GetString()!;
        var settings = new RenderSettings { Now = Shared.Value.Now };
        if (c.TryGetProperty("error", out var error))
        {
            if (error.GetString() == "syntax")
            {
                var ex = Assert.Throws<TemplateSyntaxException>(() => JinjaTemplate.Compile(source));
                Assert.True(ex.Line >= 1 && ex.Column >= 1);
                return;
            }
            var template = JinjaTemplate.Compile(source);
            Assert.Throws<TemplateRenderException>(() => template.Render(Shared.Value.Context, settings));
            return;
        }
        var result = JinjaTemplate.Compile(source).Render(Shared.Value.Context, settings);
        Assert.Equal(c.GetProperty("expected").GetString(), result.Text);
    }

    private sealed record TemplateDictAccess(Dictionary<string, object?> Values);

    // JSON as Python's json.loads reads it: 42 is an int, 42.0 a float.
    private static object? Convert(JsonElement e) => e.ValueKind switch
    {
        JsonValueKind.String => e.GetString(),
        JsonValueKind.Number when e.GetRawText().IndexOfAny(['.', 'e', 'E']) < 0 => e.GetInt64(),
        JsonValueKind.Number => e.GetDouble(),
        JsonValueKind.True => true,
        JsonValueKind.False => false,
        JsonValueKind.Null => null,
        JsonValueKind.Array => e.EnumerateArray().Select(x => JinjaTemplate.FromPlain(Unwrap(Convert(x)))).ToList(),
        _ => new TemplateDictAccess(e.EnumerateObject().ToDictionary(p => p.Name, p => JinjaTemplate.FromPlain(Unwrap(Convert(p.Value))))),
    };

    private static object? Unwrap(object? v) => v is TemplateDictAccess d ? (IReadOnlyDictionary<string, object?>)d.Values : v;
}
