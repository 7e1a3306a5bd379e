using System.Globalization;
using System.Net;
using Grpc.Core;
using Integration.Admin.V1;
using Integration.Edge.Tests.Webhooks;
using Integration.Ingestion.V1;
using static Integration.Edge.Tests.SegmentSync.SegmentSyncClient;
using static Integration.Edge.Tests.Webhooks.Payloads;

namespace Integration.Edge.Tests.SegmentSync;

/// <summary>Heap's segment sync through the edge into ingestion and back out of GetUser, against real Redis.</summary>
[Collection(InboundCollection.Name)]
public sealed class SegmentSyncTests(InboundPipeline pipeline)
{
    private readonly HttpClient _http = pipeline.Edge.CreateHttpClient();

    private async Task<User> GetUserAsync(string ws, string customerId) =>
        await pipeline.IngestionApi.GetUserAsync(new GetUserRequest { WorkspaceId = ws, CustomerId = customerId }, deadline: DateTime.UtcNow.AddSeconds(60));

    private async Task<bool> IsMemberAsync(string ws, string customerId, long segmentId = SegmentId) =>
        (await GetUserAsync(ws, customerId)).HeapSegments.Any(s => s.SegmentId == segmentId);

    private async Task<(string Ws, string Config, string Secret)> SetUpAsync(IdentifierKind kind = IdentifierKind.Email)
    {
        var ws = WorkspaceId();
        var config = NewConfigName();
        return (ws, config, await SegmentSyncClient.SetUpAsync(pipeline, ws, config, kind));
    }

    private async Task SendOkAsync(string config, string secret, System.Text.Json.Nodes.JsonObject body)
    {
        var response = await _http.SendAsync(Signed(config, secret, body));
        Assert.True(response.StatusCode == HttpStatusCode.OK, await response.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task ASyncPagePutsItsUsersInTheSegmentWithItsNameAndSince()
    {
        var (ws, config, secret) = await SetUpAsync();
        var before = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();

        var response = await _http.SendAsync(Signed(config, secret, Sync("t1", 1, 1, add: ["User1@Email.com", "user2@email.com"])));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("success", (await ReadJsonAsync(response)).GetProperty("status").GetString());
        var user = await GetUserAsync(ws, "user1@email.com");
        var segment = Assert.Single(user.HeapSegments);
        Assert.Equal(SegmentId, segment.SegmentId);
        Assert.Equal("Free Customers", segment.Name);
        Assert.InRange(segment.SinceMs, before, DateTimeOffset.UtcNow.ToUnixTimeMilliseconds());
        Assert.True(await IsMemberAsync(ws, "user2@email.com"));
    }

    [Fact]
    public async Task ASyncCreatesTheProfilesOfUsersItAddsWithTheIdentifierAsTheirEmail()
    {
        var (ws, config, secret) = await SetUpAsync();
        var body = Sync("t1", 1, 1, add: ["new@example.com"]);
        body["data"]!["add"]![0]!["plan"] = "free";

        await SendOkAsync(config, secret, body);

        var user = await GetUserAsync(ws, "new@example.com");
        Assert.Equal("new@example.com", user.Attributes["email"].StringValue);
        Assert.Equal("free", user.Attributes["plan"].StringValue);
    }

    [Fact]
    public async Task ASyncNeverOverwritesWhatAUserWebhookWrote()
    {
        var ws = WorkspaceId();
        var config = NewConfigName();
        var key = await pipeline.CreateWorkspaceAsync(ws, configName: config);
        var secret = (await pipeline.AdminApi.SetSyncSecretAsync(new SetSyncSecretRequest { WorkspaceId = ws, ConfigName = config },
            pipeline.AdminHeaders, deadline: DateTime.UtcNow.AddSeconds(60))).SyncSecret;
        Assert.Equal(HttpStatusCode.OK, (await _http.SendAsync(InboundPipeline.Webhook("user", ws, key, User().ToJsonString(), configName: config))).StatusCode);
        var body = Sync("t1", 1, 1, add: ["alice@example.com"]);
        body["data"]!["add"]![0]!["plan"] = "free";

        await SendOkAsync(config, secret, body);

        var user = await GetUserAsync(ws, "alice@example.com");
        Assert.Equal("trial", user.Attributes["plan"].StringValue);
        Assert.Equal(DateTimeOffset.Parse("2026-11-01T10:00:00Z", CultureInfo.InvariantCulture).ToUnixTimeMilliseconds(), user.UpdatedAtMs);
        Assert.Single(user.HeapSegments);
    }

    [Fact]
    public async Task ASyncPageRemovesTheUsersItListsInRemove()
    {
        var (ws, config, secret) = await SetUpAsync();
        await SendOkAsync(config, secret, Sync("t1", 1, 1, add: ["a@example.com", "b@example.com"]));

        await SendOkAsync(config, secret, Sync("t2", 1, 1, remove: ["a@example.com"]));

        Assert.False(await IsMemberAsync(ws, "a@example.com"));
        Assert.True(await IsMemberAsync(ws, "b@example.com"));
    }

    [Fact]
    public async Task PagesArrivingOutOfOrderAreAllApplied()
    {
        var (ws, config, secret) = await SetUpAsync();

        await SendOkAsync(config, secret, Sync("t1", 3, 3, add: ["c@example.com"]));
        await SendOkAsync(config, secret, Sync("t1", 1, 3, add: ["a@example.com"]));
        await SendOkAsync(config, secret, Sync("t1", 2, 3, add: ["b@example.com"]));

        foreach (var user in new[] { "a@example.com", "b@example.com", "c@example.com" })
        {
            Assert.True(await IsMemberAsync(ws, user), user);
        }
    }

    [Fact]
    public async Task APageSentTwiceIsAppliedOnce()
    {
        var (ws, config, secret) = await SetUpAsync();
        var page1 = Sync("t1", 1, 2, add: ["a@example.com"]);
        await SendOkAsync(config, secret, page1);
        var since = (await GetUserAsync(ws, "a@example.com")).HeapSegments.Single().SinceMs;
        await SendOkAsync(config, secret, Sync("t1", 2, 2, remove: ["a@example.com"]));

        // Heap retries page 1 (signed anew): acknowledged, and it does not undo page 2.
        await Task.Delay(5);
        await SendOkAsync(config, secret, page1);

        Assert.False(await IsMemberAsync(ws, "a@example.com"));
        await SendOkAsync(config, secret, Sync("t2", 1, 1, add: ["a@example.com"]));
        Assert.NotEqual(since, (await GetUserAsync(ws, "a@example.com")).HeapSegments.Single().SinceMs);
    }

    [Fact]
    public async Task AUserAlreadyInTheSegmentKeepsTheSinceOfWhenTheyJoined()
    {
        var (ws, config, secret) = await SetUpAsync();
        await SendOkAsync(config, secret, Sync("t1", 1, 1, add: ["a@example.com"]));
        var since = (await GetUserAsync(ws, "a@example.com")).HeapSegments.Single().SinceMs;
        await Task.Delay(20);

        await SendOkAsync(config, secret, Sync("t2", 1, 1, add: ["a@example.com"], segmentName: "Free Customers (renamed)"));

        var segment = (await GetUserAsync(ws, "a@example.com")).HeapSegments.Single();
        Assert.Equal(since, segment.SinceMs);
        Assert.Equal("Free Customers (renamed)", segment.Name);
    }

    [Fact]
    public async Task ALatePageOfAnOlderSyncNeverBringsBackAUserANewerSyncRemoved()
    {
        var (ws, config, secret) = await SetUpAsync();
        await SendOkAsync(config, secret, Sync("old", 1, 2, add: ["a@example.com"]));
        await SendOkAsync(config, secret, Sync("new", 1, 1, remove: ["a@example.com"]));

        // The older sync's second page arrives only now (Heap retried it), and adds the user again.
        await SendOkAsync(config, secret, Sync("old", 2, 2, add: ["a@example.com", "b@example.com"], segmentName: "Old Name"));

        var user = await GetUserAsync(ws, "a@example.com");
        Assert.Empty(user.HeapSegments);
        Assert.True(await IsMemberAsync(ws, "b@example.com"));
        Assert.Equal("Free Customers", (await GetUserAsync(ws, "b@example.com")).HeapSegments.Single().Name);
    }

    [Fact]
    public async Task ADrainRemovesEveryMemberAndALatePageOfAnEarlierSyncDoesNotBringThemBack()
    {
        var (ws, config, secret) = await SetUpAsync();
        await SendOkAsync(config, secret, Sync("t1", 1, 2, add: ["a@example.com", "b@example.com"]));
        await SendOkAsync(config, secret, Sync("other", 1, 1, add: ["a@example.com"], segmentId: 42));

        await SendOkAsync(config, secret, Drain());
        await SendOkAsync(config, secret, Sync("t1", 2, 2, add: ["c@example.com"]));

        Assert.False(await IsMemberAsync(ws, "a@example.com"));
        Assert.False(await IsMemberAsync(ws, "b@example.com"));
        // The late page is superseded as a whole: it does not even create its users' profiles.
        await Assert.ThrowsAsync<RpcException>(() => GetUserAsync(ws, "c@example.com"));
        Assert.True(await IsMemberAsync(ws, "a@example.com", segmentId: 42));
        await SendOkAsync(config, secret, Sync("after", 1, 1, add: ["b@example.com"]));
        Assert.True(await IsMemberAsync(ws, "b@example.com"));
    }

    [Fact]
    public async Task AReplayedDrainWithinTheSignatureWindowIsAppliedOnce()
    {
        var (ws, config, secret) = await SetUpAsync();
        var drain = Drain().ToJsonString();
        var signature = Sign(secret, drain);
        Assert.Equal(HttpStatusCode.OK, (await _http.SendAsync(Request(config, drain, signature))).StatusCode);
        await SendOkAsync(config, secret, Sync("t1", 1, 1, add: ["a@example.com"]));

        var replay = await _http.SendAsync(Request(config, drain, signature));

        Assert.Equal(HttpStatusCode.OK, replay.StatusCode);
        Assert.True(await IsMemberAsync(ws, "a@example.com"));
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("ts:,hmac:")]
    [InlineData("hmac:0000")]
    [InlineData("ts:abc,hmac:00")]
    [InlineData("ts:1700000000,hmac:zz")]
    [InlineData("ts:1700000000,hmac:00,extra:1")]
    [InlineData("Bearer abc")]
    public async Task RefusesAMissingOrMalformedHeapHashWith401(string? header)
    {
        var (_, config, _) = await SetUpAsync();

        var response = await _http.SendAsync(Request(config, Sync("t1", 1, 1, add: ["a@example.com"]).ToJsonString(), header));

        await StatusTableTests.AssertFailAsync(response, HttpStatusCode.Unauthorized, "Heap-Hash");
    }

    [Fact]
    public async Task RefusesAWrongHmacWith401()
    {
        var (ws, config, _) = await SetUpAsync();
        var body = Sync("t1", 1, 1, add: ["a@example.com"]).ToJsonString();

        var response = await _http.SendAsync(Request(config, body, Sign("not-the-sync-secret", body)));

        var fail = await StatusTableTests.AssertFailAsync(response, HttpStatusCode.Unauthorized, "Heap-Hash");
        Assert.Contains("does not match", fail.GetProperty("error").GetProperty("message").GetString(), StringComparison.Ordinal);
        await Assert.ThrowsAsync<RpcException>(() => GetUserAsync(ws, "a@example.com"));
    }

    [Fact]
    public async Task RefusesABodyChangedAfterSigningWith401()
    {
        var (_, config, secret) = await SetUpAsync();
        var signed = Sync("t1", 1, 1, add: ["a@example.com"]).ToJsonString();
        var tampered = signed.Replace("a@example.com", "mallory@example.com", StringComparison.Ordinal);

        var response = await _http.SendAsync(Request(config, tampered, Sign(secret, signed)));

        await StatusTableTests.AssertFailAsync(response, HttpStatusCode.Unauthorized, "Heap-Hash");
    }

    [Fact]
    public async Task RefusesASignatureOlderThanSixtySecondsWith401()
    {
        var (_, config, secret) = await SetUpAsync();
        var body = Sync("t1", 1, 1, add: ["a@example.com"]).ToJsonString();
        var old = DateTimeOffset.UtcNow.AddSeconds(-61).ToUnixTimeMilliseconds().ToString(CultureInfo.InvariantCulture);

        var response = await _http.SendAsync(Request(config, body, Sign(secret, body, old)));

        var fail = await StatusTableTests.AssertFailAsync(response, HttpStatusCode.Unauthorized, "Heap-Hash");
        Assert.Contains("older than 60 s", fail.GetProperty("error").GetProperty("message").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task RefusesASignatureDatedMoreThanAFewSecondsAheadWith401()
    {
        var (_, config, secret) = await SetUpAsync();
        var body = Sync("t1", 1, 1, add: ["a@example.com"]).ToJsonString();
        var ahead = DateTimeOffset.UtcNow.AddSeconds(30).ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture);

        var response = await _http.SendAsync(Request(config, body, Sign(secret, body, ahead)));

        await StatusTableTests.AssertFailAsync(response, HttpStatusCode.Unauthorized, "Heap-Hash");
    }

    [Theory]
    [InlineData(false, false)]
    [InlineData(false, true)]
    [InlineData(true, false)]
    [InlineData(true, true)]
    public async Task AcceptsTheTimestampInSecondsOrMillisecondsAndTheDigestInHexOrBase64(bool seconds, bool base64)
    {
        var (ws, config, secret) = await SetUpAsync();
        var body = Sync("t1", 1, 1, add: ["a@example.com"]).ToJsonString();
        var now = DateTimeOffset.UtcNow;
        var ts = (seconds ? now.ToUnixTimeSeconds() : now.ToUnixTimeMilliseconds()).ToString(CultureInfo.InvariantCulture);

        var response = await _http.SendAsync(Request(config, body, Sign(secret, body, ts, base64)));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.True(await IsMemberAsync(ws, "a@example.com"));
    }

    [Fact]
    public async Task AnswersAnUnknownConfigWith404()
    {
        var body = Sync("t1", 1, 1, add: ["a@example.com"]).ToJsonString();

        var response = await _http.SendAsync(Request("no-such-config", body, Sign("whatever-secret-1", body)));

        await StatusTableTests.AssertFailAsync(response, HttpStatusCode.NotFound, "configName");
    }

    [Fact]
    public async Task AnswersAConfigWithoutASyncSecretWith404()
    {
        var ws = WorkspaceId();
        var config = NewConfigName();
        await pipeline.CreateWorkspaceAsync(ws, configName: config);
        var body = Sync("t1", 1, 1, add: ["a@example.com"]).ToJsonString();

        var response = await _http.SendAsync(Request(config, body, Sign("whatever-secret-1", body)));

        await StatusTableTests.AssertFailAsync(response, HttpStatusCode.NotFound, "configName");
    }

    [Fact]
    public async Task RefusesAMissingConfigNameWith400()
    {
        var body = Sync("t1", 1, 1, add: ["a@example.com"]).ToJsonString();

        var response = await _http.SendAsync(Request("", body, Sign("whatever-secret-1", body), path: "/v1/partner/heap-analytics/segments"));

        await StatusTableTests.AssertFailAsync(response, HttpStatusCode.BadRequest, "configName");
    }

    [Fact]
    public async Task ARotatedSecretReplacesTheOldOneWithinTheCacheTime()
    {
        var (ws, config, oldSecret) = await SetUpAsync();
        var rotated = await pipeline.AdminApi.SetSyncSecretAsync(new SetSyncSecretRequest { WorkspaceId = ws, ConfigName = config },
            pipeline.AdminHeaders, deadline: DateTime.UtcNow.AddSeconds(60));
        Assert.NotEqual(oldSecret, rotated.SyncSecret);
        await Task.Delay(TimeSpan.FromSeconds(1.2));

        var old = await _http.SendAsync(Signed(config, oldSecret, Sync("t1", 1, 1, add: ["a@example.com"])));
        var fresh = await _http.SendAsync(Signed(config, rotated.SyncSecret, Sync("t1", 1, 1, add: ["a@example.com"])));

        Assert.Equal(HttpStatusCode.Unauthorized, old.StatusCode);
        Assert.Equal(HttpStatusCode.OK, fresh.StatusCode);
    }

    [Fact]
    public async Task RefusesABodyOverThePageCapWith413()
    {
        var (_, config, secret) = await SetUpAsync();
        var users = Enumerable.Range(0, 40_000).Select(i => $"user{i:D6}@example.com").ToArray();
        var body = Sync("t1", 1, 1, add: users).ToJsonString();
        Assert.True(body.Length > 1024 * 1024);

        var response = await _http.SendAsync(Request(config, body, Sign(secret, body)));

        await StatusTableTests.AssertFailAsync(response, HttpStatusCode.RequestEntityTooLarge, "body");
    }

    [Fact]
    public async Task RefusesAPageListingMoreUsersThanTheCapWith413()
    {
        await using var edge = pipeline.CreateEdge(new Dictionary<string, string?> { ["Edge:MaxSegmentPageUsers"] = "3" });
        edge.StartServer();
        using var http = edge.CreateHttpClient();
        var (ws, config, secret) = await SetUpAsync();

        var response = await http.SendAsync(Signed(config, secret, Sync("t1", 1, 1, add: ["a@x.com", "b@x.com"], remove: ["c@x.com", "d@x.com"])));

        var fail = await StatusTableTests.AssertFailAsync(response, HttpStatusCode.RequestEntityTooLarge, "data");
        Assert.Contains("lists 4 users; at most 3", fail.GetProperty("error").GetProperty("message").GetString(), StringComparison.Ordinal);
        await Assert.ThrowsAsync<RpcException>(() => GetUserAsync(ws, "a@x.com"));
    }

    [Fact]
    public async Task RefusesAMalformedSyncWith400NamingEveryField()
    {
        var (_, config, secret) = await SetUpAsync();
        var body = Sync("t1", 1, 1, add: ["a@example.com"]);
        body["action_type"] = "segment.users.explode";
        body["data"]!["segment"]!["id"] = "not-a-number";
        body["data"]!["sync_info"]!["page_number"] = 0;

        var response = await _http.SendAsync(Signed(config, secret, body));

        var fail = await StatusTableTests.AssertFailAsync(response, HttpStatusCode.BadRequest, "action_type");
        var attributes = fail.GetProperty("error").GetProperty("attribute").GetString()!.Split(',');
        Assert.Contains("data.segment.id", attributes);
    }

    [Fact]
    public async Task SkipsAndNamesIdentifiersThatAreNotValidForTheConfigButAppliesTheRest()
    {
        var (ws, config, secret) = await SetUpAsync();

        var response = await _http.SendAsync(Signed(config, secret, Sync("t1", 1, 1, add: ["ok@example.com", "not an email", "unknown"])));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var message = (await ReadJsonAsync(response)).GetProperty("message").GetString()!;
        Assert.Contains("Skipped 2 identifier(s)", message, StringComparison.Ordinal);
        Assert.Contains("data.add[1].id", message, StringComparison.Ordinal);
        Assert.Contains("data.add[2].id", message, StringComparison.Ordinal);
        Assert.True(await IsMemberAsync(ws, "ok@example.com"));
    }

    [Fact]
    public async Task RefusesAPageNoneOfWhoseIdentifiersIsValidForTheConfig()
    {
        var (_, config, secret) = await SetUpAsync(IdentifierKind.Phone);

        var response = await _http.SendAsync(Signed(config, secret, Sync("t1", 1, 1, add: ["a@example.com", "b@example.com"])));

        await StatusTableTests.AssertFailAsync(response, HttpStatusCode.BadRequest, "data.add[0].id");
    }

    [Fact]
    public async Task RefusesANonJsonBodyWith415AfterTheSignatureChecks()
    {
        var (_, config, secret) = await SetUpAsync();
        var body = Sync("t1", 1, 1, add: ["a@example.com"]).ToJsonString();

        var response = await _http.SendAsync(Request(config, body, Sign(secret, body), contentType: "text/plain"));

        await StatusTableTests.AssertFailAsync(response, HttpStatusCode.UnsupportedMediaType, "Content-Type");
    }
}
