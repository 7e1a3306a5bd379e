using System.Text.RegularExpressions;
using Grpc.Core;
using Integration.Campaigns.Templates;
using Integration.Templates;
using Integration.Campaigns.V1;
using Integration.Domain.Segments;

namespace Integration.Campaigns.Model;

/// <summary>Validation of campaign definitions. Every failure names the field (and for templates, the position).</summary>
internal static partial class CampaignRules
{
    public const int MaxSteps = 5;
    public const int MaxHeaders = 30;
    public static readonly TimeSpan MaxDelay = TimeSpan.FromDays(90);
    private static readonly string[] Methods = ["GET", "POST", "PUT", "DELETE"];
    private static readonly string[] ForbiddenHeaders = ["host", "content-length", "transfer-encoding", "connection", "upgrade", "te", "trailer"];

    [GeneratedRegex("^[A-Za-z0-9_.:-]{1,128}$")]
    private static partial Regex IdPattern();

    [GeneratedRegex("^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,128}$")]
    private static partial Regex HeaderNamePattern();

    [GeneratedRegex("^([01][0-9]|2[0-3]):[0-5][0-9]$")]
    private static partial Regex TimeOfDayPattern();

    public static RpcException Invalid(string message) => new(new Status(StatusCode.InvalidArgument, message));

    /// <summary>A workspace or campaign id: short, and without characters that would break a Redis key's hash tag.</summary>
    public static void RequireId(string value, string field)
    {
        if (string.IsNullOrEmpty(value))
        {
            throw Invalid($"{field}: required.");
        }
        if (!IdPattern().IsMatch(value))
        {
            throw Invalid($"{field}: 1-128 characters of letters, digits, '_', '.', ':' or '-'.");
        }
    }

    /// <summary>Checks a definition and compiles its templates; throws InvalidArgument naming the field.</summary>
    public static CompiledCampaign Validate(CampaignSpec? spec)
    {
        if (spec is null)
        {
            throw Invalid("spec: required.");
        }
        if (string.IsNullOrWhiteSpace(spec.Name) || spec.Name.Length > 200)
        {
            throw Invalid("spec.name: required, at most 200 characters.");
        }
        if (SegmentRules.Validate(spec.Audience, "spec.audience") is { } audienceProblem)
        {
            throw Invalid(audienceProblem);
        }
        ValidateDelivery(spec);
        ValidateOptions(spec.Options);
        if (Goals.ConversionTracker.Problem(spec.ConversionGoals) is { } goalsProblem)
        {
            throw Invalid(goalsProblem);
        }
        if (spec.Steps.Count is 0 or > MaxSteps)
        {
            throw Invalid($"spec.steps: 1 to {MaxSteps} request steps.");
        }
        var compiled = Compile(spec);
        ValidateBulkBatching(spec);
        return compiled;
    }

    /// <summary>
    /// Bulk batching only makes sense where a run sends one Heap track event per user: One Time and Periodic
    /// runs whose steps all POST JSON to a literal <c>/api/track</c> URL.
    /// </summary>
    private static void ValidateBulkBatching(CampaignSpec spec)
    {
        if (spec.Options is not { BatchHeapBulk: true })
        {
            return;
        }
        if (spec.DeliveryCase is not (CampaignSpec.DeliveryOneofCase.OneTime or CampaignSpec.DeliveryOneofCase.Periodic))
        {
            throw Invalid("spec.options.batch_heap_bulk: only for One Time and Periodic campaigns.");
        }
        for (var i = 0; i < spec.Steps.Count; i++)
        {
            var step = spec.Steps[i];
            var literal = !step.Url.Contains("{{", StringComparison.Ordinal) && !step.Url.Contains("{%", StringComparison.Ordinal);
            var trackUrl = literal && Uri.TryCreate(step.Url, UriKind.Absolute, out var uri)
                && string.Equals(uri.AbsolutePath.TrimEnd('/'), "/api/track", StringComparison.OrdinalIgnoreCase);
            if (!string.Equals(step.Method, "POST", StringComparison.OrdinalIgnoreCase) || step.BodyFormat != BodyFormat.Json || !trackUrl)
            {
                throw Invalid($"spec.options.batch_heap_bulk: every step must POST a JSON body to a Heap track URL " +
                    $"(literal, path /api/track); spec.steps[{i}] does not.");
            }
        }
    }

    /// <summary>Compiles the templates of an already validated definition.</summary>
    public static CompiledCampaign Compile(CampaignSpec spec) =>
        new(spec.Steps.Select((step, i) => CompileStep(step, $"spec.steps[{i}]", i)).ToList());

    private static CompiledStep CompileStep(RequestStep step, string field, int index)
    {
        var method = step.Method.ToUpperInvariant();
        if (!Methods.Contains(method))
        {
            throw Invalid($"{field}.method: one of GET, POST, PUT, DELETE.");
        }
        if (step.DelayMs < 0 || step.DelayMs > MaxDelay.TotalMilliseconds)
        {
            throw Invalid($"{field}.delay_ms: between 0 and {MaxDelay.TotalDays} days.");
        }

        var host = LiteralHost(step.Url, $"{field}.url");
        var url = CompileTemplate(step.Url, $"{field}.url");

        if (step.Headers.Count > MaxHeaders)
        {
            throw Invalid($"{field}.headers: at most {MaxHeaders}.");
        }
        var headers = new List<(string, JinjaTemplate)>();
        for (var h = 0; h < step.Headers.Count; h++)
        {
            var header = step.Headers[h];
            if (!HeaderNamePattern().IsMatch(header.Name))
            {
                throw Invalid($"{field}.headers[{h}].name: not a valid header name.");
            }
            if (ForbiddenHeaders.Contains(header.Name.ToLowerInvariant()))
            {
                throw Invalid($"{field}.headers[{h}].name: '{header.Name}' is set by the sender.");
            }
            headers.Add((header.Name, CompileTemplate(header.Value, $"{field}.headers[{h}].value")));
        }

        JinjaTemplate? body = null;
        if (step.BodyFormat == BodyFormat.None)
        {
            if (step.Body.Length > 0)
            {
                throw Invalid($"{field}.body: set body_format for a body.");
            }
        }
        else if (!Enum.IsDefined(step.BodyFormat))
        {
            throw Invalid($"{field}.body_format: unknown format.");
        }
        else
        {
            if (method == "GET")
            {
                throw Invalid($"{field}.body: a GET request has no body.");
            }
            body = CompileTemplate(step.Body, $"{field}.body");
        }
        return new CompiledStep(index, method, url, host, headers, step.BodyFormat, body, step.DelayMs);
    }

    private static JinjaTemplate CompileTemplate(string source, string field) =>
        TemplateEngine.TryCompile(source, out var template, out var error)
            ? template!
            : throw Invalid($"{field}: template error: {error}.");

    /// <summary>The URL's host, which must be literal: a template may not choose where a request goes.</summary>
    public static string LiteralHost(string url, string field)
    {
        var schemeEnd = url.IndexOf("://", StringComparison.Ordinal);
        if (schemeEnd < 0)
        {
            throw Invalid($"{field}: an absolute http or https URL.");
        }
        var authorityEnd = url.IndexOfAny(['/', '?', '#'], schemeEnd + 3);
        var prefix = authorityEnd < 0 ? url : url[..authorityEnd];
        if (prefix.Contains("{{", StringComparison.Ordinal) || prefix.Contains("{%", StringComparison.Ordinal))
        {
            throw Invalid($"{field}: the scheme and host must be literal, not a template.");
        }
        if (!Uri.TryCreate(prefix, UriKind.Absolute, out var uri) || (uri.Scheme != Uri.UriSchemeHttp && uri.Scheme != Uri.UriSchemeHttps)
            || string.IsNullOrEmpty(uri.Host) || uri.UserInfo.Length > 0)
        {
            throw Invalid($"{field}: an absolute http or https URL without credentials.");
        }
        return uri.IdnHost;
    }

    private static void ValidateDelivery(CampaignSpec spec)
    {
        switch (spec.DeliveryCase)
        {
            case CampaignSpec.DeliveryOneofCase.OneTime:
                if (spec.OneTime.SendAtMs < 0)
                {
                    throw Invalid("spec.one_time.send_at_ms: must not be negative.");
                }
                if (spec.OneTime.TimeZone.Length > 0 && Recurrence.FindZone(spec.OneTime.TimeZone) is null)
                {
                    throw Invalid($"spec.one_time.time_zone: '{spec.OneTime.TimeZone}' is not a known IANA time zone.");
                }
                if (spec.OneTime.UserTimeZone is { } oneTimeZones)
                {
                    if (spec.OneTime.SendAtMs == 0)
                    {
                        throw Invalid("spec.one_time.send_at_ms: required with user_time_zone (its local time in time_zone is when each user receives the campaign).");
                    }
                    ValidateUserTimeZone(oneTimeZones, "spec.one_time.user_time_zone");
                }
                break;
            case CampaignSpec.DeliveryOneofCase.Periodic:
                ValidatePeriodic(spec.Periodic);
                break;
            case CampaignSpec.DeliveryOneofCase.EventTriggered:
                var trigger = spec.EventTriggered;
                if (string.IsNullOrWhiteSpace(trigger.EventName))
                {
                    throw Invalid("spec.event_triggered.event_name: required.");
                }
                if (trigger.ExitEventName == trigger.EventName)
                {
                    throw Invalid("spec.event_triggered.exit_event_name: must differ from the trigger event.");
                }
                if (trigger.MaxEventAgeMs != 0
                    && (trigger.MaxEventAgeMs < TriggerFreshness.MinMaxEventAge.TotalMilliseconds || trigger.MaxEventAgeMs > TriggerFreshness.MaxMaxEventAge.TotalMilliseconds))
                {
                    throw Invalid($"spec.event_triggered.max_event_age_ms: between {TriggerFreshness.MinMaxEventAge.TotalMilliseconds:0} (1 minute) and " +
                        $"{TriggerFreshness.MaxMaxEventAge.TotalMilliseconds:0} (30 days); 0: 1 hour.");
                }
                for (var i = 0; i < trigger.EventFilters.Count; i++)
                {
                    if (AttributeRules.Problem(trigger.EventFilters[i], $"spec.event_triggered.event_filters[{i}]") is { } problem)
                    {
                        throw Invalid(problem);
                    }
                }
                break;
            case CampaignSpec.DeliveryOneofCase.BusinessEvent:
                if (string.IsNullOrWhiteSpace(spec.BusinessEvent.BusinessEventName))
                {
                    throw Invalid("spec.business_event.business_event_name: required.");
                }
                break;
            default:
                throw Invalid("spec.delivery: set one of one_time, periodic, event_triggered, business_event.");
        }
    }

    private static void ValidateUserTimeZone(UserTimeZoneDelivery zones, string field)
    {
        if (!Enum.IsDefined(zones.PassedTimeZoneAction))
        {
            throw Invalid($"{field}.passed_time_zone_action: PASSED_TIME_ZONE_ACTION_SEND_AT_CAMPAIGN_TIME (default) or PASSED_TIME_ZONE_ACTION_SKIP.");
        }
    }

    private static void ValidatePeriodic(PeriodicDelivery p)
    {
        const string field = "spec.periodic";
        if (p.Frequency == Frequency.Unspecified || !Enum.IsDefined(p.Frequency))
        {
            throw Invalid($"{field}.frequency: FREQUENCY_DAILY, FREQUENCY_WEEKLY or FREQUENCY_MONTHLY.");
        }
        if (p.Every is < 0 or > 365)
        {
            throw Invalid($"{field}.every: between 1 and 365 (0 means 1).");
        }
        if (p.DaysOfWeek.Any(d => d is < 0 or > 6))
        {
            throw Invalid($"{field}.days_of_week: 0 (Sunday) to 6 (Saturday).");
        }
        if (p.DaysOfMonth.Any(d => d is < 1 or > 31))
        {
            throw Invalid($"{field}.days_of_month: 1 to 31.");
        }
        if (!TimeOfDayPattern().IsMatch(p.TimeOfDay))
        {
            throw Invalid($"{field}.time_of_day: \"HH:mm\", 24-hour.");
        }
        if (p.TimeZone.Length > 0 && Recurrence.FindZone(p.TimeZone) is null)
        {
            throw Invalid($"{field}.time_zone: '{p.TimeZone}' is not a known IANA time zone.");
        }
        if (p.StartMs < 0 || p.EndAtMs < 0 || p.MaxOccurrences < 0)
        {
            throw Invalid($"{field}: start_ms, end_at_ms and max_occurrences must not be negative.");
        }
        if (p.EndAtMs > 0 && p.EndAtMs < p.StartMs)
        {
            throw Invalid($"{field}.end_at_ms: must not be before start_ms.");
        }
        if (p.UserTimeZone is { } zones)
        {
            ValidateUserTimeZone(zones, $"{field}.user_time_zone");
        }
    }

    private static void ValidateOptions(CampaignOptions? options)
    {
        if (options is null)
        {
            return;
        }
        if (options.TimeoutMs is < 0 or > 60_000)
        {
            throw Invalid("spec.options.timeout_ms: between 1 and 60000 (0: 5000).");
        }
        if (options.MaxAttempts is < 0 or > 50)
        {
            throw Invalid("spec.options.max_attempts: between 1 and 50 (0: 8).");
        }
        if (options.IdempotencyHeader.Length > 0 && !HeaderNamePattern().IsMatch(options.IdempotencyHeader))
        {
            throw Invalid("spec.options.idempotency_header: not a valid header name.");
        }
        if (options.DedupAttribute.Length > 200)
        {
            throw Invalid("spec.options.dedup_attribute: at most 200 characters.");
        }
        if (options.FrequencyCap is not null)
        {
            if (options.FrequencyCapExempt)
            {
                throw Invalid("spec.options.frequency_cap: set frequency_cap or frequency_cap_exempt, not both.");
            }
            ValidateFrequencyCap(options.FrequencyCap, "spec.options.frequency_cap");
        }
        if (options.QuietHours is { } quiet)
        {
            ValidateQuietHours(quiet, "spec.options.quiet_hours");
        }
    }

    public const int MaxFrequencyCap = 1000;

    /// <summary>A cap: each window 0 (no limit) to <see cref="MaxFrequencyCap"/>, at least one of them set.</summary>
    public static void ValidateFrequencyCap(FrequencyCap cap, string field)
    {
        foreach (var (name, value) in new[] { ("per_hour", cap.PerHour), ("per_day", cap.PerDay), ("per_week", cap.PerWeek) })
        {
            if (value is < 0 or > MaxFrequencyCap)
            {
                throw Invalid($"{field}.{name}: 0 (no limit) to {MaxFrequencyCap}.");
            }
        }
        if (cap.PerHour == 0 && cap.PerDay == 0 && cap.PerWeek == 0)
        {
            throw Invalid($"{field}: set per_hour, per_day or per_week (to send without a cap, use frequency_cap_exempt or clear the cap).");
        }
    }

    private static void ValidateQuietHours(QuietHours quiet, string field)
    {
        if (!TimeOfDayPattern().IsMatch(quiet.Start))
        {
            throw Invalid($"{field}.start: \"HH:mm\", 24-hour.");
        }
        if (!TimeOfDayPattern().IsMatch(quiet.End))
        {
            throw Invalid($"{field}.end: \"HH:mm\", 24-hour.");
        }
        if (quiet.Start == quiet.End)
        {
            throw Invalid($"{field}.end: must differ from start.");
        }
        if (!Enum.IsDefined(quiet.Zone))
        {
            throw Invalid($"{field}.zone: QUIET_HOURS_ZONE_WORKSPACE or QUIET_HOURS_ZONE_USER.");
        }
        if (!Enum.IsDefined(quiet.Action))
        {
            throw Invalid($"{field}.action: QUIET_HOURS_ACTION_HOLD or QUIET_HOURS_ACTION_DROP.");
        }
    }

    /// <summary>A workspace's campaign settings; throws InvalidArgument naming the field.</summary>
    public static void ValidateSettings(WorkspaceSettings? settings)
    {
        if (settings is null)
        {
            throw Invalid("settings: required.");
        }
        RequireId(settings.WorkspaceId, "settings.workspace_id");
        if (settings.FrequencyCap is not null)
        {
            ValidateFrequencyCap(settings.FrequencyCap, "settings.frequency_cap");
        }
        if (settings.TimeZone.Length > 0 && Recurrence.FindZone(settings.TimeZone) is null)
        {
            throw Invalid($"settings.time_zone: '{settings.TimeZone}' is not a known IANA time zone.");
        }
        if (settings.TimeZoneAttribute.Length > 200)
        {
            throw Invalid("settings.time_zone_attribute: at most 200 characters.");
        }
    }
}
