using System.Diagnostics;
using System.Globalization;
using Integration.Campaigns.Templates;
using Integration.Common.V1;
using Integration.Ingestion.V1;
using TemplateBench.Fluid;

// Renders a typical campaign body (a dozen attributes, a conditional, a loop) on one thread, first with the Jinja
// engine campaigns use, then with the Fluid path it replaced, and prints renders per second side by side.
//   dotnet bench/TemplateBench/bin/Release/net10.0/TemplateBench.dll --seconds 5 --target 100000
var seconds = Argument("--seconds", 5.0);
var target = Argument("--target", 100_000.0);

const string JinjaBody = """
{"app_id":"heap-demo-app","identity":"{{UserAttribute['ID']}}","event":"Weekly Digest","properties":{"first_name":"{{UserAttribute['First Name']}}","last_name":"{{UserAttribute['Last Name']|default('')}}","email":"{{UserAttribute['Email (Standard)']}}","plan":"{{UserAttribute['plan']}}","city":"{{UserAttribute['city']|default('unknown')}}","country":"{{UserAttribute['country']}}","company":"{{UserAttribute['company']}}","role":"{{UserAttribute['role']}}","language":"{{UserAttribute['language']}}","sessions":{{UserEvent['Session Started'].count}},"last_seen":"{{UserEvent['Session Started'].last_time}}","order_id":"{{EventAttribute['order_id']}}","campaign":"{{Campaign.name}}","offer":"{% if UserEvent['Session Started'].count >= 10 %}30%{% elif UserEvent['Session Started'].count >= 3 %}15%{% else %}5%{% endif %}","interests":[{% for t in UserAttribute['interests'].split(',') %}"{{ t }}"{% if not loop.last %},{% endif %}{% endfor %}]}}
""";
const string LiquidBody = """
{"app_id":"heap-demo-app","identity":"{{UserAttribute['ID']}}","event":"Weekly Digest","properties":{"first_name":"{{UserAttribute['First Name']}}","last_name":"{{UserAttribute['Last Name']|default('')}}","email":"{{UserAttribute['Email (Standard)']}}","plan":"{{UserAttribute['plan']}}","city":"{{UserAttribute['city']|default('unknown')}}","country":"{{UserAttribute['country']}}","company":"{{UserAttribute['company']}}","role":"{{UserAttribute['role']}}","language":"{{UserAttribute['language']}}","sessions":{{UserEvent['Session Started'].count}},"last_seen":"{{UserEvent['Session Started'].last_time}}","order_id":"{{EventAttribute['order_id']}}","campaign":"{{Campaign.name}}","offer":"{% if UserEvent['Session Started'].count >= 10 %}30%{% elif UserEvent['Session Started'].count >= 3 %}15%{% else %}5%{% endif %}","interests":[{% assign interests = UserAttribute['interests'] | split: ',' %}{% for t in interests %}"{{ t }}"{% unless forloop.last %},{% endunless %}{% endfor %}]}}
""";

static AttributeValue S(string s) => new() { StringValue = s };
var model = new TemplateModel(
    "ada@example.com",
    new Dictionary<string, AttributeValue>
    {
        ["first_name"] = S("Ada"), ["last_name"] = S("Lovelace"), ["email"] = S("ada@example.com"), ["plan"] = S("pro"),
        ["city"] = S("London"), ["country"] = S("UK"), ["company"] = S("Analytical Engines"), ["role"] = S("Mathematician"),
        ["language"] = S("en"), ["interests"] = S("math,poetry,engines"),
    },
    [new EventStats { EventName = "Session Started", Count = 7, FirstTimeMs = 1_760_000_000_000, LastTimeMs = 1_767_000_000_000 }],
    new Dictionary<string, AttributeValue> { ["order_id"] = S("o-1001") },
    new Dictionary<string, AttributeValue>(),
    "camp-1",
    "Weekly digest",
    DateTimeOffset.UnixEpoch);

if (!TemplateEngine.TryCompile(JinjaBody.Trim(), out var jinja, out var jinjaError)) throw new InvalidOperationException(jinjaError);
if (!FluidTemplateEngine.TryCompile(LiquidBody.Trim(), out var fluid, out var fluidError)) throw new InvalidOperationException(fluidError);
var jinjaText = TemplateEngine.Render(jinja!, model, TemplateFormat.Json).Text;
var fluidText = (await FluidTemplateEngine.RenderAsync(fluid!, model, TemplateFormat.Json)).Text;

// The engines take turns in short rounds, so that a busy machine slows both alike.
Func<ValueTask> jinjaRender = () => { TemplateEngine.Render(jinja!, model, TemplateFormat.Json); return ValueTask.CompletedTask; };
Func<ValueTask> fluidRender = async () => await FluidTemplateEngine.RenderAsync(fluid!, model, TemplateFormat.Json);
await Measure(jinjaRender, 0.5);
await Measure(fluidRender, 0.5);
var rounds = Math.Max(1, (int)Math.Round(seconds / 0.5));
(double Seconds, long Count, long Bytes) jinjaTotal = default, fluidTotal = default;
for (var round = 0; round < rounds; round++)
{
    jinjaTotal = Add(jinjaTotal, await Measure(jinjaRender, 0.5));
    fluidTotal = Add(fluidTotal, await Measure(fluidRender, 0.5));
}
var jinjaResult = (PerSecond: jinjaTotal.Count / jinjaTotal.Seconds, Bytes: jinjaTotal.Bytes / (double)jinjaTotal.Count);
var fluidResult = (PerSecond: fluidTotal.Count / fluidTotal.Seconds, Bytes: fluidTotal.Bytes / (double)fluidTotal.Count);

Console.WriteLine($"template bench: one thread, {seconds:0.#} s per engine in alternating 0.5 s rounds, {Environment.ProcessorCount} cores, load average {LoadAverage()}");
Console.WriteLine($"body: {jinjaText.Length} characters, 13 attributes, an if/elif/else, a loop over 3 items; same output from both: {(jinjaText == fluidText ? "yes" : "NO")}");
Console.WriteLine();
Console.WriteLine($"{"engine",-34} {"renders/s",12} {"µs/render",10} {"bytes/render",13}");
Print("jinja (Integration.Templates)", jinjaResult);
Print("fluid (before, Fluid + rewrite)", fluidResult);
Console.WriteLine();
var met = jinjaResult.PerSecond >= target;
Console.WriteLine($"target jinja >= {target:N0} renders/s: {(met ? "met" : "MISSED")} ({jinjaResult.PerSecond / fluidResult.PerSecond:0.00}x fluid)");
return met ? 0 : 1;

static (double, long, long) Add((double Seconds, long Count, long Bytes) a, (double Seconds, long Count, long Bytes) b) =>
    (a.Seconds + b.Seconds, a.Count + b.Count, a.Bytes + b.Bytes);

static async Task<(double Seconds, long Count, long Bytes)> Measure(Func<ValueTask> render, double seconds)
{
    var before = GC.GetAllocatedBytesForCurrentThread();
    var clock = Stopwatch.StartNew();
    long count = 0;
    while (clock.Elapsed.TotalSeconds < seconds)
    {
        for (var i = 0; i < 500; i++) await render();
        count += 500;
    }
    clock.Stop();
    return (clock.Elapsed.TotalSeconds, count, GC.GetAllocatedBytesForCurrentThread() - before);
}

static void Print(string name, (double PerSecond, double Bytes) r) =>
    Console.WriteLine($"{name,-34} {r.PerSecond,12:N0} {1e6 / r.PerSecond,10:0.00} {r.Bytes,13:N0}");

static string LoadAverage() => File.Exists("/proc/loadavg") ? string.Join(' ', File.ReadAllText("/proc/loadavg").Split(' ').Take(3)) : "n/a";

double Argument(string name, double fallback)
{
    var i = Array.IndexOf(args, name);
    return i >= 0 && i + 1 < args.Length ? double.Parse(args[i + 1], CultureInfo.InvariantCulture) : fallback;
}
