using System.Net;

namespace Integration.HeapEmulator.Tests;

public sealed class ValidationTests(ValidationTests.SharedEmulator shared) : IClassFixture<ValidationTests.SharedEmulator>
{
    /// <summary>One emulator for every validation case: a rejected request changes nothing but the stats.</summary>
    public sealed class SharedEmulator : IAsyncLifetime
    {
        public HeapEmulatorFactory Factory { get; } = new();

        public Task InitializeAsync() => Task.CompletedTask;

        public Task DisposeAsync() => Factory.DisposeAsync().AsTask();
    }

    private readonly HeapEmulatorFactory _emulator = shared.Factory;

    private static readonly string LongEvent = new('e', 1025);
    private static readonly string LongIdentity = new('i', 256);
    private static readonly string LongValue = new('v', 1024);
    private static readonly string LongName = new('n', 1024);
    private static readonly string HalfValue = new('h', 600);

    public static TheoryData<string, string> InvalidTrackBodies => new()
    {
        { """{"identity":"a","event":"E"}""", "app_id is required." },
        { """{"app_id":42,"identity":"a","event":"E"}""", "app_id must be a non-empty string." },
        { """{"app_id":"","identity":"a","event":"E"}""", "app_id must be a non-empty string." },
        { """{"app_id":"no-such-app","identity":"a","event":"E"}""", "app_id 'no-such-app' is not a known Heap app" },
        { """{"app_id":"test-app","identity":"a"}""", "event is required." },
        { """{"app_id":"test-app","identity":"a","event":""}""", "event must be a non-empty string." },
        { """{"app_id":"test-app","identity":"a","event":["E"]}""", "event must be a non-empty string." },
        { $$"""{"app_id":"test-app","identity":"a","event":"{{LongEvent}}"}""", "event has 1025 characters; at most 1024 are allowed." },
        { """{"app_id":"test-app","event":"E"}""", "exactly one of identity or user_id is required." },
        { """{"app_id":"test-app","identity":"a","user_id":12,"event":"E"}""", "identity and user_id were both given" },
        { $$"""{"app_id":"test-app","identity":"{{LongIdentity}}","event":"E"}""", "identity has 256 characters; at most 255 are allowed." },
        { """{"app_id":"test-app","identity":"","event":"E"}""", "identity must be a non-empty string." },
        { """{"app_id":"test-app","identity":true,"event":"E"}""", "identity must be a non-empty string." },
        { """{"app_id":"test-app","user_id":"abc","event":"E"}""", "user_id must be an integer" },
        { """{"app_id":"test-app","user_id":1.5,"event":"E"}""", "user_id must be an integer" },
        { """{"app_id":"test-app","identity":"a","event":"E","properties":"plan=gold"}""", "properties must be an object" },
        { """{"app_id":"test-app","identity":"a","event":"E","properties":{"plan":{"tier":"gold"}}}""", "properties.plan is an object; a property value must be a number or a string" },
        { """{"app_id":"test-app","identity":"a","event":"E","properties":{"vip":true}}""", "properties.vip is a boolean" },
        { """{"app_id":"test-app","identity":"a","event":"E","properties":{"gone":null}}""", "properties.gone is null" },
        { $$$"""{"app_id":"test-app","identity":"a","event":"E","properties":{"note":"{{{LongValue}}}"}}""", "properties.note has 1024 characters; a string value must have fewer than 1024." },
        { $$$"""{"app_id":"test-app","identity":"a","event":"E","properties":{"{{{LongName}}}":"x"}}""", "a property name must have 1 to 1023 characters." },
        { """{"app_id":"test-app","identity":"a","event":"E","properties":{"tags":["a",{"b":1}]}}""", "properties.tags is an array with an object item" },
        { $$$"""{"app_id":"test-app","identity":"a","event":"E","properties":{"tags":["{{{HalfValue}}}","{{{HalfValue}}}"]}}""", "properties.tags joined with '||' has 1202 characters" },
        { """{"app_id":"test-app","identity":"a","event":"E","timestamp":"yesterday"}""", "timestamp must be an ISO 8601 string" },
        { """{"app_id":"test-app","identity":"a","event":"E","timestamp":1714566600000}""", "timestamp must be an ISO 8601 string" },
        { """{"app_id":"test-app","identity":"a","event":"E","timestamp":"2025-13-45T00:00:00Z"}""", "timestamp must be an ISO 8601 string" },
        { """{"app_id":"test-app","identity":"a","event":"E","timestamp":"03/01/2025"}""", "timestamp must be an ISO 8601 string" },
        { """{"app_id":"test-app","identity":"a","event":"E","idempotency_key":7}""", "idempotency_key must be a non-empty string." },
        { """{"app_id":"test-app","events":{"identity":"a","event":"E"}}""", "events must be an array." },
        { """{"app_id":"test-app","events":[]}""", "events must contain at least one item." },
        { """{"app_id":"test-app","events":[1]}""", "events[0] must be an object." },
        { """{"app_id":"test-app","events":[{"identity":"a","event":"E"},{"identity":"b"}]}""", "events[1]: event is required." },
        { """{"app_id":"test-app","events":[{"identity":"a","event":"E","properties":{"x":[[1]]}}]}""", "events[0]: properties.x is an array with an array item" },
        { """{"app_id":"test-app","identity":"a","event":"E","events":[{"identity":"a","event":"E"}]}""", "not both" },
        { """[{"app_id":"test-app","identity":"a","event":"E"}]""", "The body must be a JSON object." },
        { """{"app_id":"test-app","identity":"a","event":"E" """, "The body is not valid JSON" },
        { """{"app_id":"test-app",,}""", "The body is not valid JSON" },
        { "", "The body is empty" },
    };

    public static TheoryData<string, string> InvalidUserBodies => new()
    {
        { """{"identity":"a","properties":{"plan":"gold"}}""", "app_id is required." },
        { """{"app_id":"no-such-app","identity":"a","properties":{"plan":"gold"}}""", "app_id 'no-such-app' is not a known Heap app" },
        { """{"app_id":"test-app","identity":"a"}""", "properties is required." },
        { """{"app_id":"test-app","properties":{"plan":"gold"}}""", "exactly one of identity or user_id is required." },
        { $$$"""{"app_id":"test-app","identity":"{{{LongIdentity}}}","properties":{"plan":"gold"}}""", "identity has 256 characters" },
        { """{"app_id":"test-app","identity":"a","properties":{"vip":false}}""", "properties.vip is a boolean" },
        { """{"app_id":"test-app","users":[]}""", "users must contain at least one item." },
        { """{"app_id":"test-app","users":"alice"}""", "users must be an array." },
        { """{"app_id":"test-app","users":[{"identity":"a","properties":{"p":1}},{"properties":{"p":1}}]}""", "users[1]: exactly one of identity or user_id is required." },
        { """not json""", "The body is not valid JSON" },
    };

    [Theory]
    [MemberData(nameof(InvalidTrackBodies))]
    public async Task RejectsAnInvalidTrackRequestNamingTheProblem(string body, string expected)
    {
        using var http = _emulator.CreateHttpClient();

        var response = await http.PostJsonAsync("/api/track", body);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Contains(expected, await response.ErrorAsync());
    }

    [Theory]
    [MemberData(nameof(InvalidUserBodies))]
    public async Task RejectsAnInvalidUserPropertiesRequestNamingTheProblem(string body, string expected)
    {
        using var http = _emulator.CreateHttpClient();

        var response = await http.PostJsonAsync("/api/add_user_properties", body);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Contains(expected, await response.ErrorAsync());
    }

    [Fact]
    public async Task NamesEveryProblemInOneAnswer()
    {
        using var http = _emulator.CreateHttpClient();

        var response = await http.PostJsonAsync("/api/track", """
            {"app_id":"test-app","events":[
              {"identity":"a","timestamp":"soon"},
              {"identity":"b","event":"E","properties":{"vip":true}}
            ]}
            """);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var error = await response.ErrorAsync();
        Assert.Contains("events[0]: event is required.", error);
        Assert.Contains("events[0]: timestamp must be an ISO 8601 string", error);
        Assert.Contains("events[1]: properties.vip is a boolean", error);
    }

    [Fact]
    public async Task RejectsABulkTrackRequestOfMoreThanAThousandEvents()
    {
        using var http = _emulator.CreateHttpClient();

        var response = await http.TrackBulkAsync(Enumerable.Range(0, 1001).Select(i => $"over-{i}"));

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Contains("events has 1001 items; a bulk request takes at most 1000.", await response.ErrorAsync());
    }

    [Fact]
    public async Task RejectsABulkUserRequestOfMoreThanAThousandUsers()
    {
        using var http = _emulator.CreateHttpClient();
        var users = string.Join(",", Enumerable.Range(0, 1001).Select(i => $$$"""{"identity":"u{{{i}}}","properties":{"p":1}}"""));

        var response = await http.PostJsonAsync("/api/add_user_properties", $$"""{"app_id":"test-app","users":[{{users}}]}""");

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Contains("users has 1001 items; a bulk request takes at most 1000.", await response.ErrorAsync());
    }

    [Theory]
    [InlineData("identity")]
    [InlineData("property name")]
    public async Task RejectsInvalidUtf8(string where)
    {
        using var http = _emulator.CreateHttpClient();
        var text = where == "identity"
            ? """{"app_id":"test-app","identity":"#","event":"E"}"""
            : """{"app_id":"test-app","identity":"a","event":"E","properties":{"#":1}}""";
        var bytes = System.Text.Encoding.UTF8.GetBytes(text).Select(b => b == (byte)'#' ? (byte)0xFF : b).ToArray();

        var response = await http.PostAsync("/api/track", new ByteArrayContent(bytes));

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Contains("not valid", await response.ErrorAsync());
    }

    [Fact]
    public async Task RejectsABodyOverOneMegabyteWith413()
    {
        using var http = _emulator.CreateHttpClient();
        var padding = new string('x', 1024 * 1024);

        var response = await http.PostJsonAsync("/api/track", $$"""{"app_id":"test-app","identity":"a","event":"E","padding":"{{padding}}"}""");

        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, response.StatusCode);
        Assert.Contains("larger than 1048576 bytes", await response.ErrorAsync());
    }

    [Fact]
    public async Task RecordsNothingFromARejectedBulkRequest()
    {
        using var http = _emulator.CreateHttpClient();

        var response = await http.PostJsonAsync("/api/track", """
            {"app_id":"test-app","events":[
              {"identity":"never-recorded","event":"Good"},
              {"identity":"never-recorded","event":"Bad","timestamp":"later"}
            ]}
            """);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal(0, (await http.GetEventsAsync("?identity=never-recorded")).Count);
    }
}
