using System.Text.Json;
using Grpc.Core;
using Integration.Campaigns.Model;
using Integration.Campaigns.Sending;
using Integration.Campaigns.Templates;
using Integration.Campaigns.V1;
using Integration.Common.V1;
using Integration.Ingestion.V1;
using static Integration.Campaigns.Tests.Support.CampaignsFixture;

namespace Integration.Campaigns.Tests;

public sealed class TemplateTests
{
    private static readonly DateTimeOffset Now = new(2026, 3, 1, 12, 0, 0, TimeSpan.Zero);

    private static TemplateModel Model(
        Dictionary<string, AttributeValue>? user = null,
        Dictionary<string, AttributeValue>? eventAttributes = null,
        IEnumerable<EventStats>? events = null,
        Dictionary<string, AttributeValue>? business = null) => new(
        "cust-1",
        user ?? new Dictionary<string, AttributeValue> { ["first_name"] = Value("Ada"), ["email"] = Value("ada@example.com") },
        (events ?? []).ToList(),
        eventAttributes ?? new Dictionary<string, AttributeValue>(),
        business ?? new Dictionary<string, AttributeValue>(),
        "camp-1",
        "Campaign",
        Now);

    private static Task<TemplateOutput> RenderAsync(string source, TemplateModel model, TemplateFormat format = TemplateFormat.Raw)
    {
        Assert.True(TemplateEngine.TryCompile(source, out var template, out var error), error);
        return Task.FromResult(TemplateEngine.Render(template!, model, format));
    }

    [Fact]
    public async Task RendersMoEngageUserAttributesUnderTheirMoEngageAndHeapNames()
    {
        var output = await RenderAsync("{{UserAttribute['First Name']}} {{UserAttribute['first_name']}} {{UserAttribute['Email (Standard)']}} {{UserAttribute['ID']}}", Model());

        Assert.True(output.Ok);
        Assert.Equal("Ada Ada ada@example.com cust-1", output.Text);
    }

    [Fact]
    public async Task JinjaStyleDefaultFilterAppliesToMissingValues()
    {
        var output = await RenderAsync("Hi {{UserAttribute['Last Name']|default('there')}} {{ EventAttribute['x'] | default(\"-\") }}", Model());

        Assert.True(output.Ok);
        Assert.Equal("Hi there -", output.Text);
    }

    [Fact]
    public async Task APrintedNullWithoutDefaultIsReportedSoTheUserIsSkipped()
    {
        var output = await RenderAsync("Order {{EventAttribute['order_id']}}", Model());

        Assert.False(output.Ok);
        Assert.Equal(["EventAttribute['order_id']"], output.MissingValues);
    }

    [Fact]
    public async Task AMissingValueInAConditionIsNotASkip()
    {
        var output = await RenderAsync("{% if UserAttribute['vip'] %}VIP{% else %}regular{% endif %}", Model());

        Assert.True(output.Ok);
        Assert.Equal("regular", output.Text);
    }

    [Theory]
    [InlineData(2, "10%")]
    [InlineData(6, "20%")]
    [InlineData(25, "30%")]
    public async Task TieredOffersFollowTheUsersSessionCount(long sessions, string offer)
    {
        const string source = "{% if UserEvent['Session Started'].count > 20 %}30%{% elif UserEvent['Session Started'].count > 5 %}20%{% else %}10%{% endif %}";
        var model = Model(events: [new EventStats { EventName = "Session Started", Count = sessions, FirstTimeMs = 1, LastTimeMs = 2 }]);

        var output = await RenderAsync(source, model);

        Assert.Equal(offer, output.Text);
    }

    [Fact]
    public async Task UsageStatsExposeCountsAndFirstAndLastTimes()
    {
        var model = Model(events: [new EventStats { EventName = "Login", Count = 3, FirstTimeMs = 0, LastTimeMs = 86_400_000 }]);

        var output = await RenderAsync("{{UserEvent['Login'].count}} {{UserEvent['Login'].first_time}} {{UserEvent['Login'].last_time_ms}} {{UserEvent['Never'].count}}", model);

        Assert.Equal("3 1970-01-01T00:00:00.000Z 86400000 0", output.Text);
    }

    [Fact]
    public async Task HeapSegmentsListTheSegmentsTheUserIsInWithIdNameAndSince()
    {
        var model = Model() with
        {
            HeapSegments =
            [
                new HeapSegmentMembership { SegmentId = 1338065, Name = "Cart abandoners", SinceMs = 86_400_000 },
                new HeapSegmentMembership { SegmentId = 7, Name = "Free Customers", SinceMs = 0 },
            ],
        };
        const string source = "{% if 'Cart abandoners' in HeapSegments | map(attribute='name') %}cart{% endif %}"
            + "|{{ 'VIP' in HeapSegments | map(attribute='name') }}|{{ HeapSegments | map(attribute='id') | join(',') }}"
            + "|{{ HeapSegments[0].since }}|{{ HeapSegments | length }}";

        var output = await RenderAsync(source, model);
        var none = await RenderAsync("{{ HeapSegments | length }}{% for s in HeapSegments %}x{% endfor %}", Model());

        Assert.True(output.Ok, output.Error);
        Assert.Equal("cart|False|1338065,7|1970-01-02T00:00:00.000Z|2", output.Text);
        Assert.Equal("0", none.Text);
    }

    [Fact]
    public async Task JsonBodiesEscapeInsertedValuesSoTheyStayValidJson()
    {
        var hostile = "Ada\", \"admin\": true, \"x\": \"\\\n</script>";
        var model = Model(user: new() { ["first_name"] = Value(hostile) });

        var output = await RenderAsync("{\"name\":\"{{UserAttribute['First Name']}}\"}", model, TemplateFormat.Json);

        using var document = JsonDocument.Parse(output.Text);
        Assert.Equal(hostile, document.RootElement.GetProperty("name").GetString());
        Assert.Single(document.RootElement.EnumerateObject());
    }

    [Fact]
    public async Task FormBodiesUrlEncodeInsertedValues()
    {
        var model = Model(user: new() { ["first_name"] = Value("A&b=c d") });

        var output = await RenderAsync("name={{UserAttribute['First Name']}}&x=1", model, TemplateFormat.UrlEncoded);

        var form = System.Web.HttpUtility.ParseQueryString(output.Text);
        Assert.Equal("A&b=c d", form["name"]);
        Assert.Equal("1", form["x"]);
    }

    [Fact]
    public async Task BusinessEventAttributesAreAvailable()
    {
        var model = Model(business: new() { ["sale"] = Value("Spring") });

        var output = await RenderAsync("{{BusinessEventAttribute['sale']}}", model);

        Assert.Equal("Spring", output.Text);
    }

    [Fact]
    public void ABrokenTemplateReportsItsLineAndColumn()
    {
        Assert.False(TemplateEngine.TryCompile("line one\n  {{ UserAttribute['x' }}", out _, out var error));

        Assert.Contains("(2:", error);
    }

    [Fact]
    public async Task AHostileLoopIsStoppedByTheStepLimit()
    {
        var output = await RenderAsync("{% for i in range(10000) %}{% for j in range(10000) %}x{% endfor %}{% endfor %}", Model());

        Assert.Contains("loop iterations", output.Error);
    }

    [Fact]
    public async Task TheDoublingTemplateIsASkipWithAClearErrorWithinOneHundredMilliseconds()
    {
        const string doubling = "{% set ns = namespace(s=UserAttribute['First Name']) %}{% for i in range(40) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}{{ ns.s }}";
        await RenderAsync(doubling, Model());
        // The fastest of five runs: the bound is about the engine, not about how loaded the shared machine is.
        var fastest = long.MaxValue;
        var allocated = 0L;
        TemplateOutput? output = null;
        for (var run = 0; run < 5; run++)
        {
            var allocatedBefore = GC.GetAllocatedBytesForCurrentThread();
            var clock = System.Diagnostics.Stopwatch.StartNew();
            output = await RenderAsync(doubling, Model());
            clock.Stop();
            fastest = Math.Min(fastest, clock.ElapsedMilliseconds);
            allocated = Math.Max(allocated, GC.GetAllocatedBytesForCurrentThread() - allocatedBefore);
        }

        Assert.Contains("longer than", output!.Error);
        Assert.True(fastest < 100, $"took {fastest} ms");
        Assert.True(allocated < 64L * 1024 * 1024, $"allocated {allocated / 1024 / 1024} MiB");
    }

    [Theory]
    [InlineData("{{ UserAttribute['First Name']|upper }} {{ UserAttribute['First Name']|lower }}", "ADA ada")]
    [InlineData("{{ 'ada lovelace'|title }}|{{ '  x  '|trim }}|", "Ada Lovelace|x|")]
    [InlineData("{{ UserAttribute['First Name']|length }} {{ 'a b c'|wordcount }}", "3 3")]
    [InlineData("{{ 42.5|int }} {{ 20.0|round }} {{ 2.5|round }} {{ 7 / 2 }} {{ 7 // 2 }}", "42 20.0 2.0 3.5 3")]
    [InlineData("{{ 'the quick brown fox jumps over'|truncate(20) }}", "the quick brown...")]
    [InlineData("a{# a comment #}b", "ab")]
    [InlineData("{% if '' %}yes{% else %}no{% endif %}", "no")]
    [InlineData("{% set n = UserEvent['Login'].count + 2 %}{{ n * 3 }} {{ n ~ '!' }} {{ 10 % 4 }}", "6 2! 2")]
    [InlineData("{{ not false }} {{ 'd' in UserAttribute['First Name'] }} {{ UserAttribute['nope'] is defined }}", "True True False")]
    [InlineData("{% for i in range(3) %}{{ loop.index }}{% endfor %} {{ 'y' if UserEvent['Login'].count else 'n' }}", "123 n")]
    [InlineData("{{ UserAttribute['First Name'][1:] }} {{ [3, 1, 2]|sort|join(',') }}", "da 1,2,3")]
    [InlineData("{% macro hi(n) %}Hi {{ n }}{% endmacro %}{{ hi(UserAttribute['First Name']) }}", "Hi Ada")]
    [InlineData("{{ now('Asia/Kolkata')|strftime('%Y-%m-%d %H:%M') }} {{ (now() + timedelta(days=3)).day }}", "2026-03-01 17:30 4")]
    public async Task JinjaBehavesLikeJinja2(string source, string expected)
    {
        var output = await RenderAsync(source, Model());

        Assert.True(output.Ok, output.Error);
        Assert.Equal(expected, output.Text);
    }

    [Theory]
    [InlineData("{\"a\":\"{{ UserAttribute['x']|shout }}\"}", "No filter named 'shout'.", "(1:29)")]
    [InlineData("{% if UserAttribute['x'] is shouting %}{% endif %}", "No test named 'shouting'.", "(1:29)")]
    [InlineData("{{ frobnicate(1) }}", "unknown name 'frobnicate'", "(1:4)")]
    [InlineData("line one\n{{ user.name }}", "unknown name 'user'", "(2:4)")]
    [InlineData("{{ UserAttribute['x'] }", "unexpected", "(1:")]
    public void UnknownFiltersTestsFunctionsAndNamesAreRefusedAtSaveTimeWithTheirPosition(string body, string problem, string position)
    {
        var ex = Assert.Throws<RpcException>(() => CampaignRules.Validate(Spec(body: body)));

        Assert.Equal(StatusCode.InvalidArgument, ex.StatusCode);
        Assert.StartsWith("spec.steps[0].body: template error:", ex.Status.Detail);
        Assert.Contains(problem, ex.Status.Detail);
        Assert.Contains(position, ex.Status.Detail);
    }

    [Theory]
    [InlineData("{% include 'appsettings.json' %}")]
    [InlineData("a\n{%- render 'x' %}")]
    public void TemplatesCannotIncludeFiles(string source)
    {
        Assert.False(TemplateEngine.TryCompile(source, out _, out var error));

        Assert.Contains("not allowed", error);
    }

    [Fact]
    public async Task HeadersLoseLineBreaksSoAValueCannotAddAHeader()
    {
        var spec = Spec(headers: [("X-Name", "{{UserAttribute['First Name']}}")]);
        var compiled = CampaignRules.Validate(spec);
        var model = Model(user: new() { ["first_name"] = Value("Ada\r\nX-Admin: 1") });

        var (step, skip) = await StepRenderer.RenderAsync(compiled.Steps[0], model);

        Assert.Null(skip);
        Assert.Equal("AdaX-Admin: 1", Assert.Single(step!.Headers).Value);
    }

    [Fact]
    public async Task AJsonBodyThatRendersInvalidIsASkipNotASend()
    {
        var compiled = CampaignRules.Validate(Spec(body: "{\"n\": {{UserAttribute['First Name']}} }"));

        var (step, skip) = await StepRenderer.RenderAsync(compiled.Steps[0], Model());

        Assert.Null(step);
        Assert.Contains("not valid JSON", skip);
    }

    [Fact]
    public void SaveTimeValidationNamesTheFieldAndPositionOfABrokenTemplate()
    {
        var ex = Assert.Throws<RpcException>(() => CampaignRules.Validate(Spec(body: "{\"a\":\"{% if x %}\"}")));

        Assert.Equal(StatusCode.InvalidArgument, ex.StatusCode);
        Assert.StartsWith("spec.steps[0].body: template error:", ex.Status.Detail);
        Assert.Matches(@"\(\d+:\d+\)", ex.Status.Detail);
    }

    [Fact]
    public void TheUrlHostMustNotBeATemplate()
    {
        var spec = Spec();
        spec.Steps[0].Url = "https://{{UserAttribute['host']}}/api/track";

        var ex = Assert.Throws<RpcException>(() => CampaignRules.Validate(spec));

        Assert.StartsWith("spec.steps[0].url:", ex.Status.Detail);
    }

    internal static CampaignSpec Spec(string body = "{\"a\":1}", (string, string)[]? headers = null)
    {
        var step = new RequestStep { Method = "POST", Url = "https://heap.example.com/api/track", BodyFormat = BodyFormat.Json, Body = body };
        foreach (var (name, value) in headers ?? [])
        {
            step.Headers.Add(new Header { Name = name, Value = value });
        }
        var spec = new CampaignSpec { Name = "t", BusinessEvent = new BusinessEventDelivery { BusinessEventName = "sale" } };
        spec.Steps.Add(step);
        return spec;
    }
}
