using System.Globalization;
using System.Text.Encodings.Web;
using Integration.Common.V1;
using Integration.Ingestion.V1;
using Integration.Templates;

namespace Integration.Campaigns.Templates;

/// <summary>How values printed into a template are escaped.</summary>
internal enum TemplateFormat
{
    /// <summary>Inside a JSON document: values are JSON-string escaped.</summary>
    Json,
    /// <summary>A form body or a URL: values are percent-encoded.</summary>
    UrlEncoded,
    /// <summary>Verbatim (raw bodies, headers — headers lose CR and LF afterwards).</summary>
    Raw,
}

/// <summary>What a template can see about one user and what triggered the send.</summary>
internal sealed record TemplateModel(
    string CustomerId,
    IReadOnlyDictionary<string, AttributeValue> UserAttributes,
    IReadOnlyList<EventStats> UserEvents,
    IReadOnlyDictionary<string, AttributeValue> EventAttributes,
    IReadOnlyDictionary<string, AttributeValue> BusinessEventAttributes,
    string CampaignId,
    string CampaignName,
    DateTimeOffset Now)
{
    /// <summary>The Heap segments the user is in (Heap's segment sync), as ingestion's GetUser answers them.</summary>
    public IReadOnlyList<HeapSegmentMembership> HeapSegments { get; init; } = [];
}

/// <summary>The outcome of rendering one template: the text, or the names of null values printed without a default.</summary>
internal sealed record TemplateOutput(string Text, IReadOnlyList<string> MissingValues, string? Error)
{
    public bool Ok => MissingValues.Count == 0 && Error is null;
}

/// <summary>
/// MoEngage's personalisation language (Jinja, checked against Jinja2 3.1) on <see cref="JinjaTemplate"/>, with
/// MoEngage's rules on top: the roots below are the only names a template may read, a printed null without a
/// default skips the user, and printed values are escaped for the body format.
/// </summary>
internal static class TemplateEngine
{
    public const int MaxTemplateLength = 64 * 1024;
    public const int MaxOutputLength = 1024 * 1024;

    /// <summary>Heap's standard keys under the names MoEngage users write.</summary>
    public static readonly IReadOnlyDictionary<string, string> StandardNames = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase)
    {
        ["First Name"] = "first_name",
        ["Last Name"] = "last_name",
        ["Email (Standard)"] = "email",
        ["Mobile Number (Standard)"] = "phone",
    };

    /// <summary>The names a template can read (everything else is refused at save time).</summary>
    public static readonly IReadOnlySet<string> Roots = new HashSet<string>(StringComparer.Ordinal)
    {
        "UserAttribute", "EventAttribute", "BusinessEventAttribute", "BusinessEvent", "UserEvent", "HeapSegments", "Campaign", "CustomerId",
    };

    private static readonly TemplateLimits Limits = TemplateLimits.Default with { MaxOutputLength = MaxOutputLength };
    private static readonly Func<string, string> JsonEscape = JavaScriptEncoder.UnsafeRelaxedJsonEscaping.Encode;
    private static readonly Func<string, string> UrlEscape = UrlEncoder.Default.Encode;

    /// <summary>Compiles a template; on failure the error says what and where (line and column).</summary>
    public static bool TryCompile(string source, out JinjaTemplate? template, out string? error)
    {
        template = null;
        if (source.Length > MaxTemplateLength)
        {
            error = $"longer than {MaxTemplateLength} characters";
            return false;
        }
        try
        {
            var compiled = JinjaTemplate.CompileCached(source);
            if (compiled.FreeNames.FirstOrDefault(n => !Roots.Contains(n.Name)) is { } unknown)
            {
                error = $"unknown name '{unknown.Name}' (a template can read {string.Join(", ", Roots)}) at ({unknown.Line}:{unknown.Column})";
                return false;
            }
            template = compiled;
            error = null;
            return true;
        }
        catch (TemplateSyntaxException ex)
        {
            error = ex.Message;
            return false;
        }
    }

    public static TemplateOutput Render(JinjaTemplate template, TemplateModel model, TemplateFormat format)
    {
        var settings = new RenderSettings
        {
            Escape = format switch
            {
                TemplateFormat.Json => JsonEscape,
                TemplateFormat.UrlEncoded => UrlEscape,
                _ => null,
            },
            Limits = Limits,
            Now = model.Now,
        };
        try
        {
            var result = template.Render(new TemplateRoots(model), settings);
            return new TemplateOutput(result.Text, result.PrintedMissing, null);
        }
        catch (TemplateRenderException ex)
        {
            return new TemplateOutput("", [], $"the template could not be rendered ({ex.Message})");
        }
    }

    internal static string Iso(long ms) =>
        DateTimeOffset.FromUnixTimeMilliseconds(ms).ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture);
}
