using System.Globalization;
using System.Text.Encodings.Web;
using Fluid;
using Fluid.Values;
using Integration.Campaigns.Templates;
using Integration.Common.V1;
using Integration.Ingestion.V1;

namespace TemplateBench.Fluid;

/// <summary>Campaigns' template path before the Jinja engine (Fluid + MoEngageSyntax), kept here only to compare speed.</summary>
internal static partial class FluidTemplateEngine
{
    public const int MaxTemplateLength = 64 * 1024;
    public const int MaxOutputLength = 1024 * 1024;

    /// <summary>Heap's standard keys under the names MoEngage users write.</summary>
    public static readonly IReadOnlyDictionary<string, string> StandardNames = new Dictionary<string, string>
    {
        ["first_name"] = "First Name",
        ["last_name"] = "Last Name",
        ["email"] = "Email (Standard)",
        ["phone"] = "Mobile Number (Standard)",
    };

    private static readonly FluidParser Parser = new();

    // Templates come from API callers: nothing may reach the file system or other templates.
    [System.Text.RegularExpressions.GeneratedRegex(@"\{%-?\s*(include|render|layout|renderbody|section)\b")]
    private static partial System.Text.RegularExpressions.Regex ForbiddenTags();

    private static readonly TemplateOptions Options = CreateOptions();

    private static TemplateOptions CreateOptions()
    {
        var options = new TemplateOptions
        {
            MaxSteps = 50_000,
            MaxRecursion = 16,
            CultureInfo = CultureInfo.InvariantCulture,
            TimeZone = TimeZoneInfo.Utc,
        };
        return options;
    }

    /// <summary>Compiles a template; on failure the error says where (line and column).</summary>
    public static bool TryCompile(string source, out IFluidTemplate? template, out string? error)
    {
        template = null;
        if (source.Length > MaxTemplateLength)
        {
            error = $"longer than {MaxTemplateLength} characters";
            return false;
        }
        if (ForbiddenTags().Match(source) is { Success: true } forbidden)
        {
            error = $"the '{forbidden.Groups[1].Value}' tag is not allowed at {Position(source, forbidden.Index)}";
            return false;
        }
        if (!Parser.TryParse(MoEngageSyntax.ToLiquid(source), out var parsed, out var parseError))
        {
            // Fluid appends the whole source after "Source:"; the position is what a person needs.
            var cut = parseError.IndexOf("\nSource:", StringComparison.Ordinal);
            error = (cut >= 0 ? parseError[..cut] : parseError).Trim();
            return false;
        }
        template = parsed;
        error = null;
        return true;
    }

    public static async ValueTask<TemplateOutput> RenderAsync(IFluidTemplate template, TemplateModel model, TemplateFormat format)
    {
        var missing = new MissingValues();
        var context = new TemplateContext(Options) { Now = () => model.Now };
        foreach (var (name, value) in Globals(model, missing))
        {
            context.SetValue(name, value);
        }
        TextEncoder encoder = format switch
        {
            TemplateFormat.Json => JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
            TemplateFormat.UrlEncoded => UrlEncoder.Default,
            _ => NullEncoder.Default,
        };
        string text;
        try
        {
            text = await template.RenderAsync(context, encoder);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            return new TemplateOutput("", [], $"the template could not be rendered ({ex.Message})");
        }
        if (text.Length > MaxOutputLength)
        {
            return new TemplateOutput("", [], $"the rendered text is longer than {MaxOutputLength} characters");
        }
        return new TemplateOutput(text, missing.Names.Distinct().ToList(), null);
    }

    private static string Position(string source, int index)
    {
        var line = 1 + source.AsSpan(0, index).Count('\n');
        var column = index - source.LastIndexOf('\n', Math.Max(0, index - 1)) ;
        return $"({line}:{(line == 1 ? index + 1 : column)})";
    }

    private static IEnumerable<(string Name, FluidValue Value)> Globals(TemplateModel model, MissingValues missing)
    {
        var user = new Dictionary<string, FluidValue>(StringComparer.OrdinalIgnoreCase);
        foreach (var (key, value) in model.UserAttributes)
        {
            if (value.KindCase == AttributeValue.KindOneofCase.None)
            {
                continue;
            }
            user[key] = BagValue.From(value);
            if (StandardNames.TryGetValue(key, out var moEngageName))
            {
                user[moEngageName] = user[key];
            }
        }
        user.TryAdd("ID", StringValue.Create(model.CustomerId));
        user.TryAdd("customer_id", StringValue.Create(model.CustomerId));

        var userBag = new BagValue("UserAttribute", user, missing);
        var eventBag = new BagValue("EventAttribute", ToValues(model.EventAttributes), missing);
        var businessBag = new BagValue("BusinessEventAttribute", ToValues(model.BusinessEventAttributes), missing);
        var stats = model.UserEvents.ToDictionary(e => e.EventName, e => (FluidValue)StatsValue(e, missing), StringComparer.Ordinal);
        var usage = new BagValue("UserEvent", stats, missing, name => StatsValue(new EventStats { EventName = name }, missing));
        var campaign = new BagValue("Campaign", new Dictionary<string, FluidValue>
        {
            ["id"] = StringValue.Create(model.CampaignId),
            ["name"] = StringValue.Create(model.CampaignName),
        }, missing);

        yield return ("UserAttribute", userBag);
        yield return ("EventAttribute", eventBag);
        yield return ("BusinessEventAttribute", businessBag);
        yield return ("BusinessEvent", businessBag);
        yield return ("UserEvent", usage);
        yield return ("Campaign", campaign);
        yield return ("CustomerId", StringValue.Create(model.CustomerId));
    }

    private static Dictionary<string, FluidValue> ToValues(IReadOnlyDictionary<string, AttributeValue> attributes) =>
        attributes.Where(a => a.Value.KindCase != AttributeValue.KindOneofCase.None)
            .ToDictionary(a => a.Key, a => BagValue.From(a.Value), StringComparer.OrdinalIgnoreCase);

    private static BagValue StatsValue(EventStats stats, MissingValues missing)
    {
        var values = new Dictionary<string, FluidValue>(StringComparer.OrdinalIgnoreCase)
        {
            ["count"] = NumberValue.Create(stats.Count),
        };
        if (stats.Count > 0)
        {
            values["first_time_ms"] = NumberValue.Create(stats.FirstTimeMs);
            values["last_time_ms"] = NumberValue.Create(stats.LastTimeMs);
            values["first_time"] = StringValue.Create(Iso(stats.FirstTimeMs));
            values["last_time"] = StringValue.Create(Iso(stats.LastTimeMs));
        }
        return new BagValue($"UserEvent['{stats.EventName}']", values, missing);
    }

    private static string Iso(long ms) =>
        DateTimeOffset.FromUnixTimeMilliseconds(ms).ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture);
}

