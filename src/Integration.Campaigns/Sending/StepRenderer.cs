using System.Text.Json;
using Integration.Campaigns.Model;
using Integration.Campaigns.Templates;
using Integration.Campaigns.V1;
using Integration.Common.V1;
using Integration.Ingestion.V1;

namespace Integration.Campaigns.Sending;

/// <summary>One request step rendered for one user. Header values include secrets: redact before showing.</summary>
internal sealed record RenderedStep(
    int StepIndex,
    string Method,
    string Url,
    IReadOnlyList<KeyValuePair<string, string>> Headers,
    string? Body,
    string? ContentType,
    long DelayMs);

/// <summary>What triggered a send, as templates see it.</summary>
internal sealed record SendTrigger(
    string TriggerId,
    IReadOnlyDictionary<string, AttributeValue> EventAttributes,
    IReadOnlyDictionary<string, AttributeValue> BusinessEventAttributes,
    string? TraceParent)
{
    public static readonly IReadOnlyDictionary<string, AttributeValue> None = new Dictionary<string, AttributeValue>();
}

internal static class StepRenderer
{
    public static TemplateModel Model(Campaign campaign, User user, SendTrigger trigger, DateTimeOffset now) => new(
        user.CustomerId,
        user.Attributes,
        user.Events,
        trigger.EventAttributes,
        trigger.BusinessEventAttributes,
        campaign.CampaignId,
        campaign.Spec.Name,
        now)
    {
        HeapSegments = user.HeapSegments,
    };

    /// <summary>Renders a step; the skip reason says why the user gets nothing (null values without a default, invalid output).</summary>
    public static Task<(RenderedStep? Step, string? SkipReason)> RenderAsync(CompiledStep step, TemplateModel model) =>
        Task.FromResult(Render(step, model));

    private static (RenderedStep? Step, string? SkipReason) Render(CompiledStep step, TemplateModel model)
    {
        var url = TemplateEngine.Render(step.Url, model, TemplateFormat.UrlEncoded);
        if (Problem(url, "url") is { } urlProblem)
        {
            return (null, urlProblem);
        }
        if (!Uri.TryCreate(url.Text.Trim(), UriKind.Absolute, out var uri) || !string.Equals(uri.IdnHost, step.Host, StringComparison.OrdinalIgnoreCase))
        {
            return (null, "url: the rendered URL is not valid");
        }

        var headers = new List<KeyValuePair<string, string>>();
        string? contentType = null;
        foreach (var (name, template) in step.Headers)
        {
            var value = TemplateEngine.Render(template, model, TemplateFormat.Raw);
            if (Problem(value, $"header {name}") is { } headerProblem)
            {
                return (null, headerProblem);
            }
            // A value can never start a second header or a body.
            var clean = value.Text.Replace("\r", "", StringComparison.Ordinal).Replace("\n", "", StringComparison.Ordinal).Trim();
            if (name.Equals("Content-Type", StringComparison.OrdinalIgnoreCase))
            {
                contentType = clean;
            }
            else
            {
                headers.Add(new(name, clean));
            }
        }

        string? body = null;
        if (step.Body is not null)
        {
            var format = step.Format switch
            {
                BodyFormat.Json => TemplateFormat.Json,
                BodyFormat.Form => TemplateFormat.UrlEncoded,
                _ => TemplateFormat.Raw,
            };
            var rendered = TemplateEngine.Render(step.Body, model, format);
            if (Problem(rendered, "body") is { } bodyProblem)
            {
                return (null, bodyProblem);
            }
            body = rendered.Text;
            if (step.Format == BodyFormat.Json && !IsJson(body))
            {
                return (null, "body: the rendered body is not valid JSON");
            }
            contentType ??= step.Format switch
            {
                BodyFormat.Json => "application/json",
                BodyFormat.Form => "application/x-www-form-urlencoded",
                _ => "text/plain; charset=utf-8",
            };
        }
        return (new RenderedStep(step.Index, step.Method, uri.AbsoluteUri, headers, body, contentType, step.DelayMs), null);
    }

    private static string? Problem(TemplateOutput output, string field) =>
        output.Error is not null ? $"{field}: {output.Error}"
        : output.MissingValues.Count > 0 ? $"{string.Join(", ", output.MissingValues)} is null and has no default"
        : null;

    private static bool IsJson(string text)
    {
        try
        {
            using var _ = JsonDocument.Parse(text);
            return true;
        }
        catch (JsonException)
        {
            return false;
        }
    }
}
