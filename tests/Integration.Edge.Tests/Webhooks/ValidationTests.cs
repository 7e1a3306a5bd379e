using System.Net;
using System.Text.Json.Nodes;
using Integration.Admin.V1;
using static Integration.Edge.Tests.Webhooks.Payloads;

namespace Integration.Edge.Tests.Webhooks;

[Collection(InboundCollection.Name)]
public sealed class ValidationTests(InboundPipeline pipeline)
{
    private readonly HttpClient _http = pipeline.Edge.CreateHttpClient();

    private async Task<HttpResponseMessage> SendAsync(string module, JsonNode body, IdentifierKind kind = IdentifierKind.Email)
    {
        var ws = WorkspaceId();
        var key = await pipeline.CreateWorkspaceAsync(ws, kind);
        return await _http.SendAsync(InboundPipeline.Webhook(module, ws, key, body.ToJsonString()));
    }

    private static async Task<string[]> AttributesOf400Async(HttpResponseMessage response)
    {
        var body = await StatusTableTests.AssertFailAsync(response, HttpStatusCode.BadRequest, attribute: null);
        return body.GetProperty("error").GetProperty("attribute").GetString()!.Split(',');
    }

    [Fact]
    public async Task ListsEveryMissingRequiredKeyInOne400()
    {
        var response = await SendAsync("user", new JsonObject { ["user_attributes"] = new JsonObject() });

        var attributes = await AttributesOf400Async(response);
        Assert.Equal(new[] { "customer_id", "email", "first_name", "last_name", "phone", "updated_at" }, attributes.Order());
        var body = await ReadJsonAsync(response);
        Assert.Equal(6, body.GetProperty("error").GetProperty("errors").GetArrayLength());
    }

    [Fact]
    public async Task AcceptsEmptyStandardValuesButNotAnEmptyCustomerId()
    {
        var ok = User();
        ok["first_name"] = ""; ok["last_name"] = null; ok["email"] = ""; ok["phone"] = "";
        Assert.Equal(HttpStatusCode.OK, (await SendAsync("user", ok)).StatusCode);

        var empty = User();
        empty["customer_id"] = "";
        Assert.Equal(["customer_id"], await AttributesOf400Async(await SendAsync("user", empty)));
    }

    [Theory]
    [InlineData("unknown")]
    [InlineData("NULL")]
    [InlineData("0")]
    [InlineData("guest")]
    [InlineData("none")]
    [InlineData("-1")]
    public async Task RejectsPlaceholderCustomerIds(string placeholder)
    {
        var body = User(customerId: placeholder);

        Assert.Equal(["customer_id"], await AttributesOf400Async(await SendAsync("user", body, IdentifierKind.ExternalId)));
    }

    [Fact]
    public async Task RejectsAnEventWithoutEventName()
    {
        var body = Event();
        body["event_attributes"]!.AsObject().Remove("event_name");

        Assert.Equal(["event_attributes.event_name"], await AttributesOf400Async(await SendAsync("events", body)));
    }

    [Fact]
    public async Task RejectsAnEventWithoutEventAttributes()
    {
        var body = Event();
        body.Remove("event_attributes");

        Assert.Equal(["event_attributes"], await AttributesOf400Async(await SendAsync("events", body)));
    }

    [Fact]
    public async Task RejectsNestingDeeperThanOneLevel()
    {
        var body = User();
        body["user_attributes"]!["address"] = new JsonObject { ["city"] = "Paris" };

        Assert.Equal(["user_attributes.address"], await AttributesOf400Async(await SendAsync("user", body)));
    }

    [Fact]
    public async Task RejectsNestedObjectsOutsideTheAttributeObjects()
    {
        var body = User();
        body["extra"] = new JsonObject { ["a"] = 1 };

        Assert.Equal(["extra"], await AttributesOf400Async(await SendAsync("user", body)));
    }

    [Fact]
    public async Task RejectsArrays()
    {
        var body = Event();
        body["event_attributes"]!["items"] = new JsonArray(1, 2);

        Assert.Equal(["event_attributes.items"], await AttributesOf400Async(await SendAsync("events", body)));
    }

    [Fact]
    public async Task RejectsWrongTypesAndNamesThemAll()
    {
        var body = User();
        body["customer_id"] = true;
        body["updated_at"] = "yesterday";
        body["user_attributes"] = "not an object";

        var attributes = await AttributesOf400Async(await SendAsync("user", body));

        Assert.Equal(new[] { "customer_id", "updated_at", "user_attributes" }.Order(), attributes.Order());
    }

    [Theory]
    [InlineData("2026-11-01T10:00:00Z")]
    [InlineData("2026-11-01T10:00:00.123+02:00")]
    [InlineData("2026-11-01")]
    [InlineData(1761991200)]
    [InlineData(1761991200123)]
    [InlineData("1761991200")]
    public async Task AcceptsIso8601AndEpochTimestamps(object updatedAt)
    {
        Assert.Equal(HttpStatusCode.OK, (await SendAsync("user", User(updatedAt: updatedAt))).StatusCode);
    }

    [Theory]
    [InlineData("not a date")]
    [InlineData("")]
    [InlineData(-5)]
    [InlineData("31/12/2026")]
    public async Task RejectsTimestampsThatAreNotIso8601OrEpoch(object updatedAt)
    {
        Assert.Equal(["updated_at"], await AttributesOf400Async(await SendAsync("user", User(updatedAt: updatedAt))));
    }

    [Fact]
    public async Task RejectsEventsDatedInTheFutureBeyondTheSkew()
    {
        var body = Event();
        body["event_attributes"]!["event_time"] = DateTimeOffset.UtcNow.AddHours(1).ToString("O");

        Assert.Equal(["event_attributes.event_time"], await AttributesOf400Async(await SendAsync("events", body)));
    }

    [Fact]
    public async Task AcceptsEventsWithinTheClockSkew()
    {
        var body = Event();
        body["event_attributes"]!["event_time"] = DateTimeOffset.UtcNow.AddSeconds(30).ToUnixTimeMilliseconds();

        Assert.Equal(HttpStatusCode.OK, (await SendAsync("events", body)).StatusCode);
    }

    [Theory]
    [InlineData("not-an-email")]
    [InlineData("a@b")]
    [InlineData("two@@example.com")]
    public async Task RejectsCustomerIdsThatAreNotEmailsForAnEmailConfig(string customerId)
    {
        Assert.Equal(["customer_id"], await AttributesOf400Async(await SendAsync("user", User(customerId: customerId))));
    }

    [Theory]
    [InlineData("4155550100")]
    [InlineData("+1 (415) abc")]
    public async Task RejectsPhonesWithoutACountryCodeForAPhoneConfig(string customerId)
    {
        Assert.Equal(["customer_id"], await AttributesOf400Async(await SendAsync("user", User(customerId: customerId), IdentifierKind.Phone)));
    }

    [Fact]
    public async Task RejectsAnInvalidUtf8Body()
    {
        var ws = WorkspaceId();
        var key = await pipeline.CreateWorkspaceAsync(ws);
        var request = InboundPipeline.Webhook("user", ws, key, "");
        var bytes = System.Text.Encoding.UTF8.GetBytes(User().ToJsonString().Replace("Alice", "AL\u00ffCE"));
        var index = Array.IndexOf(bytes, (byte)0xC3);
        bytes[index] = 0xFF; // not valid UTF-8
        request.Content = new ByteArrayContent(bytes);
        request.Content.Headers.ContentType = new("application/json");

        var response = await _http.SendAsync(request);

        await StatusTableTests.AssertFailAsync(response, HttpStatusCode.BadRequest, "body");
    }

    [Fact]
    public async Task RejectsAJsonDocumentThatIsNotAnObject()
    {
        Assert.Equal(["body"], await AttributesOf400Async(await SendAsync("user", new JsonArray(1, 2, 3))));
    }

    [Fact]
    public async Task RejectsDeeplyNestedJsonWithout500()
    {
        var ws = WorkspaceId();
        var key = await pipeline.CreateWorkspaceAsync(ws);
        var deep = new string('[', 5000) + new string(']', 5000);

        var response = await _http.SendAsync(InboundPipeline.Webhook("user", ws, key, deep));

        await StatusTableTests.AssertFailAsync(response, HttpStatusCode.BadRequest, "body");
    }
}
