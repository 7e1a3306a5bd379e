using System.Net;
using System.Net.Sockets;
using System.Text;
using Grpc.Core;
using InboundBench.Infra;
using Integration.Admin.V1;
using Integration.Campaigns.V1;
using Integration.Common.V1;
using Integration.Ingestion.V1;
using StackExchange.Redis;

namespace InboundBench.Faults;

/// <summary>
/// Outbound safety from the outside (issue 19): the campaigns service as a user runs it, with only <c>localhost</c>
/// allow-listed, and a decoy HTTP server on loopback that records every request it gets.
/// <list type="bullet">
/// <item>Every internal address, in every spelling (hex, octal, integer, short forms, IPv4-mapped IPv6, metadata,
/// private, CGNAT, multicast, unspecified), and every non-http scheme is refused with <c>INVALID_ARGUMENT</c> naming the
/// URL's problem, by create, update and test; the decoy never sees a connection from them.</item>
/// <item>The allow-listed host works (the positive control: the refusals are the rule, not a broken sender), and a
/// 302 from it is answered as a 302, never followed to the address it names.</item>
/// <item>A secret header value is never answered back, and is nowhere in Redis in the clear (it is encrypted at rest),
/// while the destination does receive it.</item>
/// <item>Another workspace's token is <c>PERMISSION_DENIED</c> on the campaigns and deliveries APIs.</item>
/// </list>
/// </summary>
internal static class OutboundSweep
{
    private const string Workspace = "fault-ob";
    private const string OtherWorkspace = "fault-ob-other";
    private const string Customer = "outbound@example.com";

    public static async Task<ScenarioResult> RunAsync()
    {
        await using var stack = await DeliveryStack.StartAsync(new Dictionary<string, string> { ["Campaigns__AllowedHosts__0"] = "localhost" });
        await using var decoy = Decoy.Start();
        var campaigns = new Campaigns.CampaignsClient(stack.CampaignsChannel);
        await IngestUserAsync(stack);
        var problems = new List<string>();
        var refused = 0;

        var badUrls = InternalUrls(decoy.Port).ToList();
        foreach (var url in badUrls)
        {
            foreach (var (call, run) in Calls(campaigns, url))
            {
                var problem = await ExpectAsync(run, StatusCode.InvalidArgument, mustMention: "url");
                if (problem is null)
                {
                    refused++;
                }
                else
                {
                    problems.Add($"{call} {url}: {problem}");
                }
            }
        }
        if (decoy.Requests.Count > 0)
        {
            problems.Add($"the decoy was reached by a refused URL: {string.Join(", ", decoy.Requests)}");
        }

        // The positive control: the allow-listed name reaches the decoy, with the secret header, which is not answered back.
        var secret = "sk_live_" + Guid.NewGuid().ToString("N");
        var ok = await campaigns.TestCampaignAsync(new TestCampaignRequest
        {
            WorkspaceId = Workspace, Spec = Spec($"http://localhost:{decoy.Port}/ok", secret), CustomerId = Customer,
        }, DeliveryStack.AdminHeaders, deadline: Deadline());
        if (ok.Response.StatusCode != 200)
        {
            problems.Add($"the allow-listed host was not reached: status {ok.Response.StatusCode}, error '{ok.Response.Error}'");
        }
        if (!decoy.Requests.Contains("/ok") || !decoy.Authorizations.Contains($"Bearer {secret}"))
        {
            problems.Add("the decoy did not receive the test send with its secret header");
        }
        if (ok.Request.ToString().Contains(secret, StringComparison.Ordinal))
        {
            problems.Add("the test answer shows the secret header value");
        }

        // A redirect is an answer, not a detour.
        var redirected = await campaigns.TestCampaignAsync(new TestCampaignRequest
        {
            WorkspaceId = Workspace, Spec = Spec($"http://localhost:{decoy.Port}/redirect", secret), CustomerId = Customer,
        }, DeliveryStack.AdminHeaders, deadline: Deadline());
        if (redirected.Response.StatusCode != 302)
        {
            problems.Add($"a 302 was answered as {redirected.Response.StatusCode} '{redirected.Response.Error}'");
        }
        if (decoy.Requests.Contains("/followed"))
        {
            problems.Add("a redirect was followed");
        }

        // Secrets at rest: saved with a secret header, the campaign answers it redacted and Redis holds it encrypted only.
        var saved = await campaigns.CreateCampaignAsync(new CreateCampaignRequest { WorkspaceId = Workspace, Spec = Spec($"http://localhost:{decoy.Port}/saved", secret) },
            DeliveryStack.AdminHeaders, deadline: Deadline());
        var read = await campaigns.GetCampaignAsync(new GetCampaignRequest { WorkspaceId = Workspace, CampaignId = saved.CampaignId },
            DeliveryStack.AdminHeaders, deadline: Deadline());
        if (saved.ToString().Contains(secret, StringComparison.Ordinal) || read.ToString().Contains(secret, StringComparison.Ordinal))
        {
            problems.Add("a saved campaign answers its secret header value");
        }
        var inTheClear = await KeysHoldingAsync(stack.RedisConnectionString, secret);
        if (inTheClear.Count > 0)
        {
            problems.Add($"the secret is in Redis in the clear: {string.Join(", ", inTheClear)}");
        }
        // The search itself works: the campaign's URL, which is not secret, is found in its record.
        if (!(await KeysHoldingAsync(stack.RedisConnectionString, $"localhost:{decoy.Port}/saved")).Any(k => k.Contains(saved.CampaignId, StringComparison.Ordinal)))
        {
            problems.Add("the search of Redis did not find the saved campaign's URL, so its finding nothing proves nothing");
        }

        problems.AddRange(await ForeignTokenAsync(stack, saved.CampaignId));

        var notes = new List<string>
        {
            $"{badUrls.Count} internal or non-http URLs x create/update/test: {refused} refused with INVALID_ARGUMENT, decoy reached by none",
            $"allow-listed host reached (status {ok.Response.StatusCode}), 302 answered as {redirected.Response.StatusCode} and not followed, secret kept out of answers and of Redis",
        };
        notes.AddRange(problems.Take(20));
        return new ScenarioResult("outbound", null, problems.Count == 0, notes,
            $"{refused} refusals, {problems.Count} problems");
    }

    /// <summary>Loopback, private, link-local, metadata, CGNAT, multicast and unspecified addresses, spelled every way, and other schemes.</summary>
    private static IEnumerable<string> InternalUrls(int port)
    {
        string[] hosts =
        [
            "127.0.0.1", "0x7f.1", "0x7f000001", "2130706433", "0177.0.0.1", "127.1", "127.0.1", "[::1]", "[::ffff:127.0.0.1]",
            "[::ffff:7f00:1]", "[0:0:0:0:0:ffff:7f00:1]", "0", "0.0.0.0", "[::]", "169.254.169.254", "0xa9.0xfe.0xa9.0xfe",
            "2852039166", "[::ffff:a9fe:a9fe]", "[fd00:ec2::254]", "10.0.0.1", "172.16.0.1", "192.168.1.1", "100.64.0.1",
            "224.0.0.1", "255.255.255.255", "[fe80::1]",
        ];
        foreach (var host in hosts)
        {
            yield return $"http://{host}:{port}/internal";
        }
        yield return $"https://127.0.0.1:{port}/internal";
        yield return "file:///etc/passwd";
        yield return $"ftp://localhost:{port}/internal";
        yield return $"gopher://localhost:{port}/internal";
        yield return "/api/track";
        yield return "not a url";
    }

    private static IEnumerable<(string Call, Func<Task> Run)> Calls(Campaigns.CampaignsClient campaigns, string url)
    {
        yield return ("create", async () => await campaigns.CreateCampaignAsync(
            new CreateCampaignRequest { WorkspaceId = Workspace, Spec = Spec(url, "x"), Activate = true }, DeliveryStack.AdminHeaders, deadline: Deadline()));
        yield return ("update", async () =>
        {
            var draft = await campaigns.CreateCampaignAsync(new CreateCampaignRequest { WorkspaceId = Workspace, Spec = Spec("http://localhost/draft", "x") },
                DeliveryStack.AdminHeaders, deadline: Deadline());
            await campaigns.UpdateCampaignAsync(new UpdateCampaignRequest { WorkspaceId = Workspace, CampaignId = draft.CampaignId, Spec = Spec(url, "x") },
                DeliveryStack.AdminHeaders, deadline: Deadline());
        });
        yield return ("test", async () => await campaigns.TestCampaignAsync(
            new TestCampaignRequest { WorkspaceId = Workspace, Spec = Spec(url, "x"), CustomerId = Customer }, DeliveryStack.AdminHeaders, deadline: Deadline()));
    }

    /// <summary>A business-event campaign with one POST step to <paramref name="url"/> carrying a secret Authorization header.</summary>
    private static CampaignSpec Spec(string url, string secret)
    {
        var spec = new CampaignSpec { Name = "outbound sweep", BusinessEvent = new BusinessEventDelivery { BusinessEventName = "outbound-probe" } };
        var step = new RequestStep { Method = "POST", Url = url, BodyFormat = BodyFormat.Json, Body = """{"user":"{{UserAttribute['ID']}}"}""" };
        step.Headers.Add(new Header { Name = "Authorization", Value = $"Bearer {secret}" });
        spec.Steps.Add(step);
        return spec;
    }

    /// <summary>Null when the call failed with <paramref name="expected"/> and a message naming the problem; else what happened.</summary>
    private static async Task<string?> ExpectAsync(Func<Task> call, StatusCode expected, string mustMention)
    {
        try
        {
            await call();
            return $"answered OK, expected {expected}";
        }
        catch (RpcException ex) when (ex.StatusCode == expected)
        {
            return ex.Status.Detail.Contains(mustMention, StringComparison.OrdinalIgnoreCase) ? null : $"{expected} without naming the {mustMention}: '{ex.Status.Detail}'";
        }
        catch (RpcException ex)
        {
            return $"answered {ex.StatusCode} ({ex.Status.Detail}), expected {expected}";
        }
    }

    /// <summary>A workspace token of another workspace reads nothing of this one.</summary>
    private static async Task<List<string>> ForeignTokenAsync(DeliveryStack stack, string campaignId)
    {
        var admin = new Admin.AdminClient(stack.IngestionChannel);
        await admin.CreateWorkspaceAsync(new CreateWorkspaceRequest { WorkspaceId = OtherWorkspace, Upsert = true }, DeliveryStack.AdminHeaders, deadline: Deadline());
        var token = await admin.CreateWorkspaceTokenAsync(new CreateWorkspaceTokenRequest { WorkspaceId = OtherWorkspace, Name = "outbound-sweep" },
            DeliveryStack.AdminHeaders, deadline: Deadline());
        var foreign = new Metadata { { "authorization", $"Bearer {token.Token}" } };
        var campaigns = new Campaigns.CampaignsClient(stack.CampaignsChannel);
        var deliveries = new Deliveries.DeliveriesClient(stack.CampaignsChannel);
        (string Name, Func<Task> Run)[] calls =
        [
            ("GetCampaign", async () => await campaigns.GetCampaignAsync(new GetCampaignRequest { WorkspaceId = Workspace, CampaignId = campaignId }, foreign, deadline: Deadline())),
            ("ListCampaigns", async () => await campaigns.ListCampaignsAsync(new ListCampaignsRequest { WorkspaceId = Workspace }, foreign, deadline: Deadline())),
            ("GetDeliveryStats", async () => await deliveries.GetDeliveryStatsAsync(new GetDeliveryStatsRequest { WorkspaceId = Workspace, CampaignId = campaignId }, foreign, deadline: Deadline())),
        ];
        var problems = new List<string>();
        foreach (var (name, run) in calls)
        {
            if (await ExpectAsync(run, StatusCode.PermissionDenied, mustMention: "workspace") is { } problem)
            {
                problems.Add($"another workspace's token on {name}: {problem}");
            }
        }
        // The token works on its own workspace: the refusals above are the rule, not a broken token.
        await campaigns.ListCampaignsAsync(new ListCampaignsRequest { WorkspaceId = OtherWorkspace }, foreign, deadline: Deadline());
        return problems;
    }

    private static async Task IngestUserAsync(DeliveryStack stack)
    {
        var request = new IngestUsersRequest { WorkspaceId = Workspace, ConfigName = "bench" };
        request.Users.Add(new UserRecord { CustomerId = Customer, UpdatedAtMs = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() });
        await new Ingestion.IngestionClient(stack.IngestionChannel).IngestUsersAsync(request, DeliveryStack.AdminHeaders, deadline: Deadline());
    }

    /// <summary>Every key whose name or value holds <paramref name="text"/> (the harness may scan; the product never does).</summary>
    private static async Task<List<string>> KeysHoldingAsync(string connectionString, string text)
    {
        await using var redis = await ConnectionMultiplexer.ConnectAsync(connectionString + ",allowAdmin=true");
        var server = redis.GetServers()[0];
        var db = redis.GetDatabase();
        var found = new List<string>();
        await foreach (var key in server.KeysAsync(pageSize: 500))
        {
            // Read as values, not DUMP: a dump compresses long strings (LZF) and would hide the text.
            IEnumerable<string> values = await db.KeyTypeAsync(key) switch
            {
                RedisType.String => [(await db.StringGetAsync(key)).ToString()],
                RedisType.Hash => (await db.HashGetAllAsync(key)).SelectMany(e => new[] { e.Name.ToString(), e.Value.ToString() }),
                RedisType.List => (await db.ListRangeAsync(key)).Select(v => v.ToString()),
                RedisType.Set => (await db.SetMembersAsync(key)).Select(v => v.ToString()),
                RedisType.SortedSet => (await db.SortedSetRangeByRankAsync(key)).Select(v => v.ToString()),
                RedisType.Stream => (await db.StreamRangeAsync(key)).SelectMany(e => e.Values.Select(v => v.Value.ToString())),
                _ => [],
            };
            if (key.ToString().Contains(text, StringComparison.Ordinal) || values.Any(v => v.Contains(text, StringComparison.Ordinal)))
            {
                found.Add(key.ToString());
            }
        }
        return found;
    }

    private static DateTime Deadline() => DateTime.UtcNow.AddSeconds(30);

    /// <summary>A minimal HTTP/1.1 server on loopback (IPv4 and IPv6) that records each request's path and Authorization header.</summary>
    private sealed class Decoy : IAsyncDisposable
    {
        private readonly TcpListener _listener;
        private readonly CancellationTokenSource _stop = new();
        private readonly Task _accepting;

        private Decoy()
        {
            _listener = new TcpListener(IPAddress.IPv6Any, 0);
            _listener.Server.DualMode = true;
            _listener.Start();
            Port = ((IPEndPoint)_listener.LocalEndpoint).Port;
            _accepting = AcceptAsync();
        }

        public int Port { get; }

        public System.Collections.Concurrent.ConcurrentQueue<string> Requests { get; } = new();

        public System.Collections.Concurrent.ConcurrentQueue<string> Authorizations { get; } = new();

        public static Decoy Start() => new();

        private async Task AcceptAsync()
        {
            while (!_stop.IsCancellationRequested)
            {
                TcpClient client;
                try
                {
                    client = await _listener.AcceptTcpClientAsync(_stop.Token);
                }
                catch (Exception ex) when (ex is OperationCanceledException or SocketException or ObjectDisposedException)
                {
                    return;
                }
                _ = ServeAsync(client);
            }
        }

        private async Task ServeAsync(TcpClient client)
        {
            using (client)
            {
                try
                {
                    await using var stream = client.GetStream();
                    var buffer = new byte[16384];
                    var read = await stream.ReadAtLeastAsync(buffer, 1, throwOnEndOfStream: false, _stop.Token).AsTask().WaitAsync(TimeSpan.FromSeconds(5));
                    var head = Encoding.ASCII.GetString(buffer, 0, read);
                    var lines = head.Split("\r\n");
                    var path = lines[0].Split(' ') is { Length: >= 2 } parts ? parts[1] : "?";
                    Requests.Enqueue(path);
                    foreach (var line in lines.Where(l => l.StartsWith("Authorization:", StringComparison.OrdinalIgnoreCase)))
                    {
                        Authorizations.Enqueue(line["Authorization:".Length..].Trim());
                    }
                    var answer = path == "/redirect"
                        ? $"HTTP/1.1 302 Found\r\nLocation: http://127.0.0.1:{Port}/followed\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                        : "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok";
                    await stream.WriteAsync(Encoding.ASCII.GetBytes(answer));
                }
                catch (Exception ex) when (ex is IOException or SocketException or TimeoutException or OperationCanceledException)
                {
                }
            }
        }

        public async ValueTask DisposeAsync()
        {
            await _stop.CancelAsync();
            _listener.Stop();
            await _accepting;
            _stop.Dispose();
        }
    }
}
