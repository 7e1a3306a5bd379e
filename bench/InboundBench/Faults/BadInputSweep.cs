using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using InboundBench.Infra;

namespace InboundBench.Faults;

/// <summary>
/// Bad input of every kind at the edge (webhooks and Heap's segment sync), repeated: each answer must be a 4xx in MoEngage's
/// error shape, the edge must stay up and its memory flat. Valid payloads full of unicode are sent too: they must be accepted (200).
/// </summary>
internal static class BadInputSweep
{
    private static readonly int Rounds = int.TryParse(Environment.GetEnvironmentVariable("BAD_INPUT_ROUNDS"), out var r) ? r : 12;
    private const double MaxGrowthMb = 64;

    private sealed record Case(string Name, Func<Workspace, HttpRequestMessage> Build, bool Valid = false);

    public static async Task<ScenarioResult> RunAsync()
    {
        await using var stack = await InboundStack.StartAsync();
        var workspace = (await stack.ProvisionAsync("fb", 1, 100_000))[0];
        // The segment-sync cases are signed with this config's sync secret (or deliberately not).
        await new Integration.Admin.V1.Admin.AdminClient(stack.Channel).SetSyncSecretAsync(
            new Integration.Admin.V1.SetSyncSecretRequest { WorkspaceId = workspace.Id, ConfigName = InboundStack.ConfigName, SyncSecret = SyncSecret },
            new Grpc.Core.Metadata { { "authorization", $"Bearer {InboundStack.AdminToken}" } }, deadline: DateTime.UtcNow.AddSeconds(30));
        using var http = new HttpClient { BaseAddress = stack.EdgeAddress, Timeout = TimeSpan.FromSeconds(30) };
        var cases = Cases().ToList();
        var notes = new List<string>();
        var caseCount = cases.Count + 1;
        var failures = new Dictionary<string, string>(StringComparer.Ordinal);
        var statuses = new SortedDictionary<int, int>();
        long acked = 0, unexpectedAcks = 0, answers = 0;
        double rssAfterFirst = 0;

        for (var round = 0; round < Rounds; round++)
        {
            foreach (var c in cases)
            {
                var (status, problem) = await SendAsync(http, c, workspace, round);
                answers++;
                statuses[status] = statuses.GetValueOrDefault(status) + 1;
                if (status == 200)
                {
                    acked++;
                    if (!c.Valid)
                    {
                        unexpectedAcks++;
                    }
                }
                if (problem is not null)
                {
                    failures.TryAdd(c.Name, problem);
                }
            }
            if (round == 0)
            {
                rssAfterFirst = Machine.Memory(stack.Edge.Pid).CurrentMb;
            }
        }

        // HttpClient gives up on a chunked upload the server stops reading, so this one goes over a raw socket that reads the
        // answer while it writes.
        for (var round = 0; round < Rounds; round++)
        {
            var (status, problem) = await ChunkedTenMegabytesAsync(stack.EdgePort, workspace);
            answers++;
            statuses[status] = statuses.GetValueOrDefault(status) + 1;
            if (problem is not null)
            {
                failures.TryAdd("10 MB chunked", problem);
            }
        }

        foreach (var problem in await BadTokensAsync(stack, workspace))
        {
            failures.TryAdd("gRPC tokens", problem);
        }

        var (peak, rssEnd) = Machine.Memory(stack.Edge.Pid);
        var alive = !stack.Edge.HasExited && (await http.GetAsync("/health")).StatusCode == HttpStatusCode.OK;
        notes.Add($"{caseCount} cases x {Rounds} rounds = {answers} requests; statuses {string.Join(", ", statuses.Select(s => $"{(s.Key == 0 ? "none" : s.Key)} x{s.Value}"))}");
        notes.Add($"edge RSS after round 1 {rssAfterFirst:0} MB, after round {Rounds} {rssEnd:0} MB (peak {peak:0} MB); edge {(alive ? "up and healthy" : "NOT healthy")}");
        foreach (var (name, problem) in failures)
        {
            notes.Add($"case '{name}': {problem}");
        }
        var passed = failures.Count == 0 && alive && rssEnd - rssAfterFirst <= MaxGrowthMb && unexpectedAcks == 0;
        // Refused bodies are never stored; the one valid unicode body, sent every round, is stored exactly once.
        await using var redis = await StackExchange.Redis.ConnectionMultiplexer.ConnectAsync(stack.RedisConnectionString);
        var entries = new List<string>();
        foreach (var stream in Integration.Domain.EventStream.Keys(workspace.Id))
        {
            var read = await redis.GetDatabase().StreamRangeAsync(stream);
            await Integration.Domain.EventStream.LoadDictionariesAsync(redis.GetDatabase(), read);
            entries.AddRange(read.Select(e => Integration.Domain.EventStream.Decode((byte[])e[Integration.Domain.EventStream.Field]!)!.EventId));
        }
        var distinct = entries.Distinct().Count();
        notes.Add($"the valid unicode body was acked {acked} times and is stored {entries.Count} time(s)");
        var ledger = new LedgerCounts(answers, acked, distinct, acked > 0 && distinct == 0 ? 1 : 0, entries.Count - distinct, 0);
        passed &= ledger.Lost == 0 && ledger.Duplicated == 0 && distinct == 1;
        return new ScenarioResult("bad-input", ledger, passed, notes);
    }

    /// <summary>
    /// Bad and foreign credentials on ingestion's gRPC API: malformed, unknown and revoked tokens are UNAUTHENTICATED, a
    /// workspace token used on another workspace is PERMISSION_DENIED, and nothing is ever answered OK, INTERNAL or UNKNOWN.
    /// </summary>
    private static async Task<List<string>> BadTokensAsync(InboundStack stack, Workspace workspace)
    {
        var admin = new Integration.Admin.V1.Admin.AdminClient(stack.Channel);
        var adminAuth = new Grpc.Core.Metadata { { "authorization", $"Bearer {InboundStack.AdminToken}" } };
        var other = (await stack.ProvisionAsync("fbother", 1, 100))[0];
        var own = await admin.CreateWorkspaceTokenAsync(new Integration.Admin.V1.CreateWorkspaceTokenRequest { WorkspaceId = workspace.Id, Name = "sweep" }, adminAuth);
        var revoked = await admin.CreateWorkspaceTokenAsync(new Integration.Admin.V1.CreateWorkspaceTokenRequest { WorkspaceId = workspace.Id, Name = "sweep-revoked" }, adminAuth);
        await admin.RevokeWorkspaceTokenAsync(new Integration.Admin.V1.RevokeWorkspaceTokenRequest { WorkspaceId = workspace.Id, TokenId = revoked.Info.TokenId }, adminAuth);
        (string Name, string? Header, string Target, Grpc.Core.StatusCode Expected)[] cases =
        [
            ("no token", null, workspace.Id, Grpc.Core.StatusCode.Unauthenticated),
            ("empty bearer", "Bearer ", workspace.Id, Grpc.Core.StatusCode.Unauthenticated),
            ("not bearer", $"Basic {InboundStack.AdminToken}", workspace.Id, Grpc.Core.StatusCode.Unauthenticated),
            ("garbage", "Bearer %%%%x", workspace.Id, Grpc.Core.StatusCode.Unauthenticated),
            ("token-shaped garbage", $"Bearer wst.{workspace.Id}.nope.nope", workspace.Id, Grpc.Core.StatusCode.Unauthenticated),
            ("wrong secret", $"Bearer {own.Token[..^4]}AAAA", workspace.Id, Grpc.Core.StatusCode.Unauthenticated),
            ("revoked token", $"Bearer {revoked.Token}", workspace.Id, Grpc.Core.StatusCode.Unauthenticated),
            ("another workspace's token", $"Bearer {own.Token}", other.Id, Grpc.Core.StatusCode.PermissionDenied),
        ];
        var problems = new List<string>();
        foreach (var (name, header, target, expected) in cases)
        {
            var metadata = new Grpc.Core.Metadata();
            if (header is not null)
            {
                metadata.Add("authorization", header);
            }
            try
            {
                await admin.GetWorkspaceAsync(new Integration.Admin.V1.GetWorkspaceRequest { WorkspaceId = target }, metadata, DateTime.UtcNow.AddSeconds(30));
                problems.Add($"{name}: answered OK, expected {expected}");
            }
            catch (Grpc.Core.RpcException ex) when (ex.StatusCode != expected)
            {
                problems.Add($"{name}: answered {ex.StatusCode} ({ex.Status.Detail}), expected {expected}");
            }
            catch (Grpc.Core.RpcException)
            {
            }
        }
        // The token's own workspace works: the refusals above are the rule, not a broken token.
        await admin.GetWorkspaceAsync(new Integration.Admin.V1.GetWorkspaceRequest { WorkspaceId = workspace.Id },
            new Grpc.Core.Metadata { { "authorization", $"Bearer {own.Token}" } }, DateTime.UtcNow.AddSeconds(30));
        return problems;
    }

    private static async Task<(int Status, string? Problem)> SendAsync(HttpClient http, Case c, Workspace workspace, int round)
    {
        try
        {
            using var request = c.Build(workspace);
            using var response = await http.SendAsync(request);
            var status = (int)response.StatusCode;
            var text = await response.Content.ReadAsStringAsync();
            if (c.Valid)
            {
                return status == 200 ? (status, null) : (status, $"expected 200, got {status}: {Excerpt(text)}");
            }
            if (status is < 400 or > 499)
            {
                return (status, $"expected a 4xx, got {status}: {Excerpt(text)}");
            }
            return (status, HasErrorShape(text) ? null : $"{status} without MoEngage's error shape: {Excerpt(text)}");
        }
        catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException or IOException)
        {
            return (0, $"no answer in round {round + 1}: {ex.GetType().Name}: {ex.Message}");
        }
    }

    private static async Task<(int Status, string? Problem)> ChunkedTenMegabytesAsync(int port, Workspace workspace)
    {
        using var client = new System.Net.Sockets.TcpClient();
        await client.ConnectAsync(IPAddress.Loopback, port);
        var stream = client.GetStream();
        var head = $"POST /v1/partner/heap-analytics/events/?configName={InboundStack.ConfigName} HTTP/1.1\r\nHost: 127.0.0.1\r\n" +
            $"Authorization: {workspace.BasicAuthorization}\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n";
        await stream.WriteAsync(Encoding.ASCII.GetBytes(head));
        var answer = new MemoryStream();
        var reader = Task.Run(async () =>
        {
            var buffer = new byte[8192];
            try
            {
                int read;
                while ((read = await stream.ReadAsync(buffer)) > 0)
                {
                    answer.Write(buffer, 0, read);
                }
            }
            catch (IOException)
            {
            }
        });
        var chunk = new byte[64 * 1024];
        chunk.AsSpan().Fill((byte)' ');
        var framed = Encoding.ASCII.GetBytes($"{chunk.Length:x}\r\n").Concat(chunk).Concat("\r\n"u8.ToArray()).ToArray();
        try
        {
            for (var sent = 0; sent < 10 * 1024 * 1024 && !reader.IsCompleted; sent += chunk.Length)
            {
                await stream.WriteAsync(framed);
            }
        }
        catch (IOException)
        {
        }
        await reader.WaitAsync(TimeSpan.FromSeconds(10));
        var text = Encoding.UTF8.GetString(answer.ToArray());
        if (!text.StartsWith("HTTP/1.1 ", StringComparison.Ordinal))
        {
            return (0, "no answer to a 10 MB chunked body");
        }
        var status = int.Parse(text.AsSpan(9, 3), System.Globalization.CultureInfo.InvariantCulture);
        var body = text[(text.IndexOf("\r\n\r\n", StringComparison.Ordinal) + 4)..];
        // The answer may itself be chunked: take the JSON between the first '{' and the last '}'.
        var json = body.IndexOf('{') is var start and >= 0 ? body[start..(body.LastIndexOf('}') + 1)] : "";
        if (status is < 400 or > 499)
        {
            return (status, $"expected a 4xx, got {status}");
        }
        return (status, HasErrorShape(json) ? null : $"{status} without MoEngage's error shape: {Excerpt(json)}");
    }

    private static bool HasErrorShape(string text)
    {
        try
        {
            using var document = JsonDocument.Parse(text);
            var root = document.RootElement;
            return root.GetProperty("status").GetString() == "fail" &&
                root.GetProperty("error").GetProperty("type").GetString() is { Length: > 0 } &&
                root.GetProperty("error").GetProperty("message").GetString() is { Length: > 0 } &&
                root.GetProperty("error").GetProperty("request_id").GetString() is { Length: > 0 };
        }
        catch (Exception ex) when (ex is JsonException or KeyNotFoundException or InvalidOperationException)
        {
            return false;
        }
    }

    private static string Excerpt(string text) => text.Length <= 160 ? text : text[..160] + "…";

    private const string ValidEvent = """{"customer_id":"sweep@example.com","updated_at":"2026-11-01T10:00:00Z","first_name":"Sweep","last_name":"Test","email":"sweep@example.com","phone":"","event_attributes":{"event_name":"Order Completed","order_id":"o-1","amount":42.5}}""";

    private static IEnumerable<Case> Cases()
    {
        // Malformed and truncated JSON.
        foreach (var (name, body) in new[]
        {
            ("empty body", ""), ("not json", "hello"), ("trailing comma", """{"customer_id":"a@b.co",}"""), ("array", "[]"),
            ("string", "\"x\""), ("null", "null"), ("number", "42"), ("two documents", ValidEvent + ValidEvent),
            ("single quotes", "{'customer_id':'a@b.co'}"), ("comment", "/* c */" + ValidEvent), ("NaN", ValidEvent.Replace("42.5", "NaN", StringComparison.Ordinal)),
            ("huge number", ValidEvent.Replace("42.5", "1e400", StringComparison.Ordinal)),
            ("control char in string", ValidEvent.Replace("Sweep", "Sw\u0001eep", StringComparison.Ordinal)),
        })
        {
            yield return Json(name, body);
        }
        foreach (var cut in new[] { 1, 10, 40, 80, 120, ValidEvent.Length / 2, ValidEvent.Length - 2, ValidEvent.Length - 1 })
        {
            yield return Json($"truncated at {cut}", ValidEvent[..cut]);
        }

        // Wrong types and missing fields.
        foreach (var (name, from, to) in new[]
        {
            ("customer_id number", "\"customer_id\":\"sweep@example.com\"", "\"customer_id\":12345"),
            ("customer_id placeholder", "\"customer_id\":\"sweep@example.com\"", "\"customer_id\":\"unknown\""),
            ("updated_at bool", "\"updated_at\":\"2026-11-01T10:00:00Z\"", "\"updated_at\":true"),
            ("updated_at garbage", "\"updated_at\":\"2026-11-01T10:00:00Z\"", "\"updated_at\":\"yesterday\""),
            ("updated_at far future", "\"updated_at\":\"2026-11-01T10:00:00Z\"", "\"updated_at\":\"2999-01-01T00:00:00Z\""),
            ("event_attributes string", "\"event_attributes\":{", "\"event_attributes\":\"x\",\"ignored\":{"),
            ("event_name number", "\"event_name\":\"Order Completed\"", "\"event_name\":7"),
            ("event_name missing", "\"event_name\":\"Order Completed\",", ""),
            ("array attribute", "\"amount\":42.5", "\"amount\":[1,2]"),
            ("nested attribute", "\"amount\":42.5", "\"amount\":{\"a\":1}"),
            ("email missing", "\"email\":\"sweep@example.com\",", ""),
            ("first_name object", "\"first_name\":\"Sweep\"", "\"first_name\":{\"x\":1}"),
        })
        {
            yield return Json(name, ValidEvent.Replace(from, to, StringComparison.Ordinal));
        }
        yield return Json("too many attributes", ValidEvent.Replace("\"amount\":42.5",
            string.Join(",", Enumerable.Range(0, 600).Select(i => $"\"a{i}\":{i}")), StringComparison.Ordinal));

        // Deep nesting.
        yield return Json("deep arrays", new string('[', 100_000) + new string(']', 100_000));
        yield return Json("deep objects", string.Concat(Enumerable.Repeat("{\"a\":", 20_000)) + "1" + new string('}', 20_000));
        yield return Json("deep in attributes", ValidEvent.Replace("\"amount\":42.5",
            "\"amount\":" + string.Concat(Enumerable.Repeat("{\"a\":", 50)) + "1" + new string('}', 50), StringComparison.Ordinal));

        // Bodies over the cap: declared 10 MB, and 10 MB chunked (no length).
        yield return new Case("10 MB with Content-Length", w => Webhook(w, new ByteArrayContent(TenMegabytes())));
        yield return new Case("200 KB chunked", w => Webhook(w, new StreamContent(new UnseekableStream(new byte[200 * 1024]))));

        // Invalid UTF-8.
        foreach (var (name, bytes) in new[]
        {
            ("invalid UTF-8 byte", new byte[] { 0xFF, 0xFE }),
            ("overlong UTF-8", new byte[] { 0xC0, 0xAF }),
            ("truncated UTF-8 sequence", new byte[] { 0xE2, 0x82 }),
            ("UTF-16 surrogate in UTF-8", new byte[] { 0xED, 0xA0, 0x80 }),
        })
        {
            var body = Encoding.UTF8.GetBytes(ValidEvent);
            var at = ValidEvent.IndexOf("Sweep", StringComparison.Ordinal);
            var broken = body[..at].Concat(bytes).Concat(body[at..]).ToArray();
            yield return new Case(name, w => Webhook(w, JsonContent(broken)));
        }
        yield return Json("lone surrogate escape", ValidEvent.Replace("Sweep", "\\ud800", StringComparison.Ordinal));

        // Unicode in every field: valid (accepted) and invalid (refused).
        yield return new Case("unicode everywhere (valid)", w => Webhook(w, JsonContent(Encoding.UTF8.GetBytes(
            """{"customer_id":"zoë.ünïcødé@example.com","updated_at":"2026-11-01T10:00:00Z","first_name":"Zoë 😀","last_name":"Ünïcødé 山田","email":"zoë.ünïcødé@example.com","phone":"","event_attributes":{"event_name":"Käufe abgeschlossen 🛒","订单":"号码-一","emoji 😀":"✓","rtl":"שלום","combining":"e\u0301"}}"""))),
            Valid: true);
        yield return Json("unicode customer_id not an email", ValidEvent.Replace("\"customer_id\":\"sweep@example.com\"", "\"customer_id\":\"山田太郎\"", StringComparison.Ordinal));
        yield return Json("unicode updated_at", ValidEvent.Replace("2026-11-01T10:00:00Z", "２０２６-１１-０１", StringComparison.Ordinal));

        // Credentials.
        yield return new Case("no Authorization", w => Webhook(w, Json(ValidEvent), authorization: null));
        yield return new Case("Bearer scheme", w => Webhook(w, Json(ValidEvent), "Bearer abc"));
        yield return new Case("bad base64", w => Webhook(w, Json(ValidEvent), "Basic !!!not-base64!!!"));
        yield return new Case("base64 without colon", w => Webhook(w, Json(ValidEvent), "Basic " + B64("nocolon")));
        yield return new Case("base64 of invalid UTF-8", w => Webhook(w, Json(ValidEvent), "Basic " + Convert.ToBase64String([0xFF, 0x3A, 0xFE])));
        yield return new Case("empty Basic", w => Webhook(w, Json(ValidEvent), "Basic "));
        yield return new Case("wrong key", w => Webhook(w, Json(ValidEvent), "Basic " + B64($"{w.Id}:wrong-key-123")));
        yield return new Case("unknown workspace", w => Webhook(w, Json(ValidEvent), "Basic " + B64($"NOPE9999:{w.Key}")));
        yield return new Case("key with trailing space", w => Webhook(w, Json(ValidEvent), "Basic " + B64($"{w.Id}:{w.Key} ")));
        yield return new Case("unicode workspace id", w => Webhook(w, Json(ValidEvent), "Basic " + B64($"工作区:{w.Key}")));
        yield return new Case("huge Authorization", w => Webhook(w, Json(ValidEvent), "Basic " + new string('A', 8000)));

        // Routing, content type, config.
        yield return new Case("unknown config", w => Webhook(w, Json(ValidEvent), path: "/v1/partner/heap-analytics/events/?configName=nope"));
        yield return new Case("missing configName", w => Webhook(w, Json(ValidEvent), path: "/v1/partner/heap-analytics/events/"));
        yield return new Case("unicode configName", w => Webhook(w, Json(ValidEvent), path: "/v1/partner/heap-analytics/events/?configName=%E5%B1%B1"));
        yield return new Case("unknown module", w => Webhook(w, Json(ValidEvent), path: "/v1/partner/heap-analytics/orders/?configName=heap"));
        yield return new Case("text/plain", w => Webhook(w, new StringContent(ValidEvent, Encoding.UTF8, "text/plain")));
        yield return new Case("no content type", w => Webhook(w, new ByteArrayContent(Encoding.UTF8.GetBytes(ValidEvent))));

        // Heap's segment sync (signed, no Basic auth): signatures, configs, caps and bodies.
        foreach (var c in SegmentSyncCases())
        {
            yield return c;
        }
    }

    private const string SyncSecret = "sweep-sync-secret-0001";

    private const string ValidSync = """{"id_token":"t","action_type":"segment.users.sync","customer_config":{"fields":[]},"data":{"segment":{"id":1338065,"name":"Free Customers"},"sync_info":{"page_number":1,"total_pages":1,"sync_task_id":"sweep"},"add":[{"id":"sweep@example.com"}],"remove":[]}}""";

    private static IEnumerable<Case> SegmentSyncCases()
    {
        yield return new Case("segments: no Heap-Hash", _ => Segments(ValidSync, heapHash: null));
        yield return new Case("segments: Basic auth instead of Heap-Hash", w => Segments(ValidSync, heapHash: null, authorization: w.BasicAuthorization));
        yield return new Case("segments: malformed Heap-Hash", _ => Segments(ValidSync, heapHash: "ts:yesterday,hmac:???"));
        yield return new Case("segments: huge Heap-Hash", _ => Segments(ValidSync, heapHash: "ts:1," + new string('h', 8000)));
        yield return new Case("segments: wrong HMAC", _ => Segments(ValidSync, HeapHash("not-the-secret", ValidSync)));
        yield return new Case("segments: signature 2 minutes old", _ => Segments(ValidSync, HeapHash(SyncSecret, ValidSync, DateTimeOffset.UtcNow.AddMinutes(-2))));
        yield return new Case("segments: signature 1 minute ahead", _ => Segments(ValidSync, HeapHash(SyncSecret, ValidSync, DateTimeOffset.UtcNow.AddMinutes(1))));
        yield return new Case("segments: body changed after signing", _ => Segments(ValidSync.Replace("sweep@", "mallory@", StringComparison.Ordinal), HeapHash(SyncSecret, ValidSync)));
        yield return new Case("segments: unknown config", _ => Segments(ValidSync, HeapHash(SyncSecret, ValidSync), configName: "nope"));
        yield return new Case("segments: missing configName", _ => Segments(ValidSync, HeapHash(SyncSecret, ValidSync), configName: null));
        yield return new Case("segments: 10 MB with Content-Length", _ => SignedSegments(Encoding.UTF8.GetString(TenMegabytes())));
        yield return new Case("segments: text/plain", _ => Segments(ValidSync, HeapHash(SyncSecret, ValidSync), contentType: "text/plain"));
        foreach (var (name, body) in new[]
        {
            ("not json", "hello"),
            ("truncated", ValidSync[..60]),
            ("array", "[]"),
            ("unknown action", ValidSync.Replace("segment.users.sync", "segment.users.explode", StringComparison.Ordinal)),
            ("segment id text", ValidSync.Replace("1338065", "\"seg\"", StringComparison.Ordinal)),
            ("page 0", ValidSync.Replace("\"page_number\":1", "\"page_number\":0", StringComparison.Ordinal)),
            ("total below page", ValidSync.Replace("\"total_pages\":1", "\"total_pages\":0", StringComparison.Ordinal).Replace("\"page_number\":1", "\"page_number\":2", StringComparison.Ordinal)),
            ("no sync_info", ValidSync.Replace("\"sync_info\":{\"page_number\":1,\"total_pages\":1,\"sync_task_id\":\"sweep\"},", "", StringComparison.Ordinal)),
            ("add not an array", ValidSync.Replace("[{\"id\":\"sweep@example.com\"}]", "{\"id\":\"sweep@example.com\"}", StringComparison.Ordinal)),
            ("user without id", ValidSync.Replace("{\"id\":\"sweep@example.com\"}", "{\"email\":\"sweep@example.com\"}", StringComparison.Ordinal)),
            ("only invalid identifiers", ValidSync.Replace("sweep@example.com", "unknown", StringComparison.Ordinal)),
            ("drain listing users", ValidSync.Replace("segment.users.sync", "segment.users.drain", StringComparison.Ordinal)),
            ("11,000 users", ValidSync.Replace("[{\"id\":\"sweep@example.com\"}]",
                "[" + string.Join(",", Enumerable.Range(0, 11_000).Select(i => $"{{\"id\":\"u{i}@example.com\"}}")) + "]", StringComparison.Ordinal)),
            ("deep nesting", string.Concat(Enumerable.Repeat("{\"a\":", 20_000)) + "1" + new string('}', 20_000)),
        })
        {
            yield return new Case($"segments: {name}", _ => SignedSegments(body));
        }
    }

    private static HttpRequestMessage SignedSegments(string body) => Segments(body, HeapHash(SyncSecret, body));

    private static string HeapHash(string secret, string body, DateTimeOffset? at = null)
    {
        var ts = (at ?? DateTimeOffset.UtcNow).ToUnixTimeMilliseconds().ToString(System.Globalization.CultureInfo.InvariantCulture);
        var digest = System.Security.Cryptography.HMACSHA256.HashData(Encoding.UTF8.GetBytes(secret), Encoding.UTF8.GetBytes(ts + body));
        return $"ts:{ts},hmac:{Convert.ToHexStringLower(digest)}";
    }

    private static HttpRequestMessage Segments(string body, string? heapHash, string? configName = InboundStack.ConfigName,
        string contentType = "application/json", string? authorization = null)
    {
        var content = new ByteArrayContent(Encoding.UTF8.GetBytes(body));
        content.Headers.ContentType = new MediaTypeHeaderValue(contentType);
        var query = configName is null ? "" : $"?configName={configName}";
        var request = new HttpRequestMessage(HttpMethod.Post, $"/v1/partner/heap-analytics/segments/{query}") { Content = content };
        if (heapHash is not null)
        {
            request.Headers.TryAddWithoutValidation("Heap-Hash", heapHash);
        }
        if (authorization is not null)
        {
            request.Headers.TryAddWithoutValidation("Authorization", authorization);
        }
        return request;
    }

    private static Case Json(string name, string body) => new(name, w => Webhook(w, Json(body)));

    private static ByteArrayContent Json(string body) => JsonContent(Encoding.UTF8.GetBytes(body));

    private static ByteArrayContent JsonContent(byte[] body)
    {
        var content = new ByteArrayContent(body);
        content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        return content;
    }

    private static HttpRequestMessage Webhook(Workspace workspace, HttpContent content, string? authorization = "", string? path = null)
    {
        if (content.Headers.ContentType is null && content is StreamContent)
        {
            content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        }
        var request = new HttpRequestMessage(HttpMethod.Post, path ?? $"/v1/partner/heap-analytics/events/?configName={InboundStack.ConfigName}") { Content = content };
        var value = authorization == "" ? workspace.BasicAuthorization : authorization;
        if (value is not null)
        {
            request.Headers.TryAddWithoutValidation("Authorization", value);
        }
        return request;
    }

    private static string B64(string text) => Convert.ToBase64String(Encoding.UTF8.GetBytes(text));

    private static byte[] TenMegabytes()
    {
        var body = new byte[10 * 1024 * 1024];
        body.AsSpan().Fill((byte)' ');
        "{\"customer_id\":\""u8.CopyTo(body);
        body[^2] = (byte)'"';
        body[^1] = (byte)'}';
        return body;
    }

    /// <summary>A stream without a length, so HttpClient sends it chunked.</summary>
    private sealed class UnseekableStream(byte[] data) : MemoryStream(data)
    {
        public override bool CanSeek => false;
    }
}
