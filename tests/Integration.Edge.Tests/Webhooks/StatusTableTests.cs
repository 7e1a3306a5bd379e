using System.Net;
using System.Net.Http.Headers;
using System.Text;
using Integration.Admin.V1;
using static Integration.Edge.Tests.Webhooks.Payloads;

namespace Integration.Edge.Tests.Webhooks;

[Collection(InboundCollection.Name)]
public sealed class StatusTableTests(InboundPipeline pipeline)
{
    private readonly HttpClient _http = pipeline.Edge.CreateHttpClient();

    [Fact]
    public async Task AcceptsAUserWebhookWithMoEngagesSuccessBody()
    {
        var ws = WorkspaceId();
        var key = await pipeline.CreateWorkspaceAsync(ws);

        var response = await _http.SendAsync(InboundPipeline.Webhook("user", ws, key, User().ToJsonString()));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var body = await ReadJsonAsync(response);
        Assert.Equal("success", body.GetProperty("status").GetString());
        Assert.Equal("Your request has been accepted and will be processed soon.", body.GetProperty("message").GetString());
        Assert.False(string.IsNullOrEmpty(body.GetProperty("request_id").GetString()));
        Assert.Equal("500", response.Headers.GetValues("X-RateLimit-Limit").Single());
    }

    [Theory]
    [InlineData("/v1/partner/heap-analytics/events/?configName=heap")]
    [InlineData("/v1/partner/heap-analytics/events?configName=heap")]
    public async Task AcceptsAnEventWebhookWithOrWithoutTheTrailingSlash(string path)
    {
        var ws = WorkspaceId();
        var key = await pipeline.CreateWorkspaceAsync(ws);

        var response = await _http.SendAsync(InboundPipeline.Webhook("events", ws, key, Event().ToJsonString(), path: path));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    [Fact]
    public async Task RejectsMalformedJsonWith400()
    {
        var ws = WorkspaceId();
        var key = await pipeline.CreateWorkspaceAsync(ws);

        var response = await _http.SendAsync(InboundPipeline.Webhook("user", ws, key, "{\"customer_id\": \"a@b.co\", "));

        await AssertFailAsync(response, HttpStatusCode.BadRequest, "body");
    }

    [Fact]
    public async Task RejectsAnUnknownModuleWith400()
    {
        var ws = WorkspaceId();
        var key = await pipeline.CreateWorkspaceAsync(ws);

        var response = await _http.SendAsync(InboundPipeline.Webhook("orders", ws, key, User().ToJsonString()));

        await AssertFailAsync(response, HttpStatusCode.BadRequest, "module");
    }

    [Theory]
    [InlineData("GET", "/v1/partner/heap-analytics/events/?configName=heap")]
    [InlineData("PUT", "/v1/partner/heap-analytics/user?configName=heap")]
    [InlineData("DELETE", "/v1/partner/heap-analytics/segments/?configName=heap")]
    [InlineData("PATCH", "/v1/partner/heap-analytics/orders/")]
    public async Task AnswersAWebhookUrlCalledWithAnotherMethodThanPostWith405InMoEngagesShape(string method, string path)
    {
        var response = await _http.SendAsync(new HttpRequestMessage(new HttpMethod(method), path));

        var body = await AssertFailAsync(response, HttpStatusCode.MethodNotAllowed, "method");
        Assert.Contains("POST", body.GetProperty("error").GetProperty("message").GetString(), StringComparison.Ordinal);
        Assert.Equal("POST", Assert.Single(response.Content.Headers.Allow));
    }

    [Theory]
    [InlineData("/")]
    [InlineData("/v1/partner/heap-analytics")]
    [InlineData("/v1/partner/heap-analytics/events/extra?configName=heap")]
    [InlineData("/v1/partner/moengage/events/")]
    public async Task AnswersAPathThatIsNoWebhookWith404InMoEngagesShapeNamingTheWebhookPaths(string path)
    {
        var response = await _http.PostAsync(path, new StringContent("{}", Encoding.UTF8, "application/json"));

        var body = await AssertFailAsync(response, HttpStatusCode.NotFound, "path");
        Assert.Contains("/v1/partner/heap-analytics/", body.GetProperty("error").GetProperty("message").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task RejectsAModuleTheConfigDoesNotEnable()
    {
        var ws = WorkspaceId();
        var key = await pipeline.CreateWorkspaceAsync(ws, modules: [SyncModule.Users]);

        var response = await _http.SendAsync(InboundPipeline.Webhook("events", ws, key, Event().ToJsonString()));

        await AssertFailAsync(response, HttpStatusCode.BadRequest, "module");
    }

    [Fact]
    public async Task RejectsAMissingAuthorizationHeaderWith401()
    {
        var request = InboundPipeline.Webhook("user", "whoever", "x", User().ToJsonString());
        request.Headers.Authorization = null;

        var response = await _http.SendAsync(request);

        await AssertFailAsync(response, HttpStatusCode.Unauthorized, "Authorization");
    }

    [Theory]
    [InlineData("Bearer abc")]
    [InlineData("Basic !!!notbase64")]
    [InlineData("Basic bm9jb2xvbg==")] // "nocolon"
    public async Task RejectsMalformedAuthorizationWith401(string header)
    {
        var request = InboundPipeline.Webhook("user", "whoever", "x", User().ToJsonString());
        request.Headers.Remove("Authorization");
        request.Headers.TryAddWithoutValidation("Authorization", header);

        var response = await _http.SendAsync(request);

        await AssertFailAsync(response, HttpStatusCode.Unauthorized, "Authorization");
    }

    [Fact]
    public async Task RejectsAWrongDataApiKeyWith401()
    {
        var ws = WorkspaceId();
        await pipeline.CreateWorkspaceAsync(ws);

        var response = await _http.SendAsync(InboundPipeline.Webhook("user", ws, "not-the-key", User().ToJsonString()));

        await AssertFailAsync(response, HttpStatusCode.Unauthorized, "Authorization");
    }

    [Fact]
    public async Task RejectsAnUnknownWorkspaceWith401()
    {
        var response = await _http.SendAsync(InboundPipeline.Webhook("user", WorkspaceId(), "some-key-123", User().ToJsonString()));

        await AssertFailAsync(response, HttpStatusCode.Unauthorized, "Authorization");
    }

    [Fact]
    public async Task RejectsAKeyWithAnExtraSpaceWith401()
    {
        var ws = WorkspaceId();
        var key = await pipeline.CreateWorkspaceAsync(ws);

        var response = await _http.SendAsync(InboundPipeline.Webhook("user", ws, key + " ", User().ToJsonString()));

        var body = await AssertFailAsync(response, HttpStatusCode.Unauthorized, "Authorization");
        Assert.Contains("spaces", body.GetProperty("error").GetProperty("message").GetString());
    }

    [Fact]
    public async Task RejectsAnUnknownConfigNameWith404()
    {
        var ws = WorkspaceId();
        var key = await pipeline.CreateWorkspaceAsync(ws);

        var response = await _http.SendAsync(InboundPipeline.Webhook("user", ws, key, User().ToJsonString(), configName: "nope"));

        await AssertFailAsync(response, HttpStatusCode.NotFound, "configName");
    }

    [Fact]
    public async Task RejectsABodyOver128KbWith413FromItsContentLength()
    {
        var ws = WorkspaceId();
        var key = await pipeline.CreateWorkspaceAsync(ws);
        var big = User();
        big["user_attributes"]!["padding"] = new string('x', 130 * 1024);

        var response = await _http.SendAsync(InboundPipeline.Webhook("user", ws, key, big.ToJsonString()));

        await AssertFailAsync(response, HttpStatusCode.RequestEntityTooLarge, "body");
    }

    [Fact]
    public async Task RejectsAChunkedBodyOver128KbWith413()
    {
        var ws = WorkspaceId();
        var key = await pipeline.CreateWorkspaceAsync(ws);
        var request = InboundPipeline.Webhook("user", ws, key, "");
        request.Content = new StreamContent(new EndlessJsonStream(200 * 1024));
        request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        request.Headers.TransferEncodingChunked = true;

        var response = await _http.SendAsync(request);

        await AssertFailAsync(response, HttpStatusCode.RequestEntityTooLarge, "body");
    }

    [Fact]
    public async Task RejectsANonJsonContentTypeWith415()
    {
        var ws = WorkspaceId();
        var key = await pipeline.CreateWorkspaceAsync(ws);
        var request = InboundPipeline.Webhook("user", ws, key, "");
        request.Content = new StringContent("customer_id=a", Encoding.UTF8, "application/x-www-form-urlencoded");

        var response = await _http.SendAsync(request);

        await AssertFailAsync(response, HttpStatusCode.UnsupportedMediaType, "Content-Type");
    }

    [Fact]
    public async Task RejectsRequestsBeyondTheWorkspaceRateWith429AndRetryAfter()
    {
        var ws = WorkspaceId();
        var key = await pipeline.CreateWorkspaceAsync(ws, rateLimit: 2);

        var statuses = new List<HttpStatusCode>();
        HttpResponseMessage? limited = null;
        for (var i = 0; i < 10 && limited is null; i++)
        {
            var response = await _http.SendAsync(InboundPipeline.Webhook("user", ws, key, User().ToJsonString()));
            statuses.Add(response.StatusCode);
            if (response.StatusCode == HttpStatusCode.TooManyRequests)
            {
                limited = response;
            }
        }

        Assert.NotNull(limited);
        await AssertFailAsync(limited, HttpStatusCode.TooManyRequests, attribute: null);
        Assert.True(int.Parse(limited.Headers.GetValues("Retry-After").Single()) >= 1);
        Assert.Equal("2", limited.Headers.GetValues("X-RateLimit-Limit").Single());
        Assert.Equal("0", limited.Headers.GetValues("X-RateLimit-Remaining").Single());
        Assert.True(limited.Headers.Contains("X-RateLimit-Reset"));
    }

    [Fact]
    public async Task UnauthenticatedFloodsNeverSpendTheWorkspaceBudget()
    {
        var ws = WorkspaceId();
        var key = await pipeline.CreateWorkspaceAsync(ws, rateLimit: 2);

        for (var i = 0; i < 20; i++)
        {
            var bad = await _http.SendAsync(InboundPipeline.Webhook("user", ws, "wrong-key-123", User().ToJsonString()));
            Assert.Equal(HttpStatusCode.Unauthorized, bad.StatusCode);
        }
        var good = await _http.SendAsync(InboundPipeline.Webhook("user", ws, key, User().ToJsonString()));

        Assert.Equal(HttpStatusCode.OK, good.StatusCode);
    }

    internal static async Task<System.Text.Json.JsonElement> AssertFailAsync(HttpResponseMessage response, HttpStatusCode status, string? attribute)
    {
        Assert.Equal(status, response.StatusCode);
        var body = await ReadJsonAsync(response);
        Assert.Equal("fail", body.GetProperty("status").GetString());
        var error = body.GetProperty("error");
        Assert.False(string.IsNullOrEmpty(error.GetProperty("type").GetString()));
        Assert.False(string.IsNullOrEmpty(error.GetProperty("message").GetString()));
        Assert.False(string.IsNullOrEmpty(error.GetProperty("request_id").GetString()));
        if (attribute is not null)
        {
            Assert.Contains(attribute, error.GetProperty("attribute").GetString()!.Split(','));
        }
        return body;
    }

    /// <summary>A JSON body of unknown length (sent chunked), larger than the cap.</summary>
    private sealed class EndlessJsonStream(int length) : Stream
    {
        private int _position;
        public override int Read(byte[] buffer, int offset, int count)
        {
            var n = Math.Min(count, length - _position);
            for (var i = 0; i < n; i++)
            {
                buffer[offset + i] = _position + i == 0 ? (byte)'[' : (byte)' ';
            }
            _position += n;
            return n;
        }
        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => _position; set => throw new NotSupportedException(); }
        public override void Flush() { }
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}
