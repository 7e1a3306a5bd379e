extern alias ingestion;

using Grpc.Core;
using Integration.Common.V1;
using Integration.Ingestion.V1;
using Integration.Testing;
using IngestionClient = Integration.Ingestion.V1.Ingestion.IngestionClient;

namespace Integration.Ingestion.Tests;

public sealed class IngestionServiceTests(RedisServer redis) : IClassFixture<RedisServer>, IAsyncLifetime
{
    private KestrelServiceFactory<ingestion::Program> _service = null!;
    private Grpc.Net.Client.GrpcChannel _channel = null!;
    private IngestionClient _client = null!;

    public Task InitializeAsync()
    {
        _service = new(new Dictionary<string, string?> { ["ConnectionStrings:redis"] = redis.ConnectionString }, grpc: true);
        _channel = _service.CreateGrpcChannel();
        _client = new IngestionClient(_channel);
        return Task.CompletedTask;
    }

    public async Task DisposeAsync()
    {
        _channel.Dispose();
        await _service.DisposeAsync();
    }

    private static UserRecord NewUser(string id, long updatedAt = 1_700_000_000_000) => new()
    {
        CustomerId = id,
        UpdatedAtMs = updatedAt,
        Attributes = { ["first_name"] = new AttributeValue { StringValue = "Ada" }, ["vip"] = new AttributeValue { BoolValue = true } },
    };

    [Fact]
    public async Task StoresABatchOfUsersAndRecognisesRepeatedPayloads()
    {
        var ws = "ws" + Guid.NewGuid().ToString("N")[..8];
        var request = new IngestUsersRequest { WorkspaceId = ws, ConfigName = "c", Users = { NewUser("a"), NewUser("b") }, PayloadIds = { "p1", "p2" } };

        var first = await _client.IngestUsersAsync(request);
        var second = await _client.IngestUsersAsync(request);

        Assert.Equal(2, first.Stored);
        Assert.Equal(0, second.Stored);
        Assert.Equal(2, second.Duplicates);
        var user = await _client.GetUserAsync(new GetUserRequest { WorkspaceId = ws, CustomerId = "b" });
        Assert.True(user.Attributes["vip"].BoolValue);
    }

    [Fact]
    public async Task ReportsStaleProfileUpdates()
    {
        var ws = "ws" + Guid.NewGuid().ToString("N")[..8];
        await _client.IngestUsersAsync(new IngestUsersRequest { WorkspaceId = ws, Users = { NewUser("a", 2_000) } });

        var stale = await _client.IngestUsersAsync(new IngestUsersRequest { WorkspaceId = ws, Users = { NewUser("a", 1_000) } });

        Assert.Equal(1, stale.StaleProfileUpdates);
        Assert.Equal(2_000, (await _client.GetUserAsync(new GetUserRequest { WorkspaceId = ws, CustomerId = "a" })).UpdatedAtMs);
    }

    [Fact]
    public async Task LooksUpAUserByARawSpellingWhenGivenTheIdentifierKind()
    {
        var ws = "ws" + Guid.NewGuid().ToString("N")[..8];
        await _client.IngestUsersAsync(new IngestUsersRequest { WorkspaceId = ws, Users = { NewUser("ada@example.com") } });

        var user = await _client.GetUserAsync(new GetUserRequest { WorkspaceId = ws, CustomerId = " Ada@Example.com", IdentifierKind = 1 });

        Assert.Equal("ada@example.com", user.CustomerId);
    }

    [Fact]
    public async Task ListsEventsWithinATimeRange()
    {
        var ws = "ws" + Guid.NewGuid().ToString("N")[..8];
        var request = new IngestEventsRequest { WorkspaceId = ws, ConfigName = "c" };
        foreach (var t in new long[] { 1_000, 2_000, 3_000, 4_000 })
        {
            request.Events.Add(new EventRecord { User = new UserRecord { CustomerId = "a" }, EventName = "E", EventTimeMs = t });
        }
        await _client.IngestEventsAsync(request);

        var listed = await _client.ListUserEventsAsync(new ListUserEventsRequest { WorkspaceId = ws, CustomerId = "a", FromMs = 2_000, ToMs = 3_000 });

        Assert.Equal([2_000L, 3_000L], listed.Events.Select(e => e.EventTimeMs));
    }

    [Fact]
    public async Task IngestsAMixedBatchWithOneResultPerRecord()
    {
        var (ws1, ws2) = ("ws" + Guid.NewGuid().ToString("N")[..8], "ws" + Guid.NewGuid().ToString("N")[..8]);
        var request = new IngestBatchRequest
        {
            Items =
            {
                new IngestItem { WorkspaceId = ws1, ConfigName = "c", PayloadId = "u1", User = NewUser("a", 2_000) },
                new IngestItem { WorkspaceId = ws2, ConfigName = "c", PayloadId = "e1",
                    Event = new EventRecord { User = new UserRecord { CustomerId = "b" }, EventName = "E", EventTimeMs = 1_000 } },
                new IngestItem { WorkspaceId = ws2, ConfigName = "c", PayloadId = "e2",
                    Event = new EventRecord { User = new UserRecord { CustomerId = "b" }, EventName = "", EventTimeMs = 1_000 } },
                new IngestItem { WorkspaceId = ws1, ConfigName = "c", PayloadId = "u2", User = NewUser("a", 1_000) },
            },
        };

        var first = await _client.IngestAsync(request);
        var again = await _client.IngestAsync(new IngestBatchRequest { Items = { request.Items[1] } });

        Assert.Equal(
            [IngestOutcome.Stored, IngestOutcome.Stored, IngestOutcome.Invalid, IngestOutcome.StaleProfile],
            first.Results.Select(r => r.Outcome));
        Assert.StartsWith("event.event_name", first.Results[2].Error);
        Assert.Equal(IngestOutcome.Duplicate, again.Results.Single().Outcome);
        Assert.Equal(2_000, (await _client.GetUserAsync(new GetUserRequest { WorkspaceId = ws1, CustomerId = "a" })).UpdatedAtMs);
        Assert.Single((await _client.ListUserEventsAsync(new ListUserEventsRequest { WorkspaceId = ws2, CustomerId = "b" })).Events);
    }

    [Fact]
    public async Task StoresABatchOfManyWorkspacesInOneScriptCallAndRecognisesARepeatWithinIt()
    {
        var workspaces = Enumerable.Range(0, 5).Select(_ => "ws" + Guid.NewGuid().ToString("N")[..8]).ToArray();
        var request = new IngestBatchRequest();
        for (var i = 0; i < 60; i++)
        {
            request.Items.Add(new IngestItem
            {
                WorkspaceId = workspaces[i % 5], ConfigName = "c", PayloadId = $"p{i}",
                Event = new EventRecord
                {
                    User = new UserRecord { CustomerId = $"u{i % 3}", UpdatedAtMs = 1_000 + i, Attributes = { ["n"] = new AttributeValue { NumberValue = i } } },
                    EventName = "E", EventTimeMs = 10_000 + i * 10,
                },
            });
        }
        request.Items.Add(request.Items[7].Clone());
        await using var admin = await StackExchange.Redis.ConnectionMultiplexer.ConnectAsync(redis.ConnectionString + ",allowAdmin=true");
        var server = admin.GetServer(admin.GetEndPoints()[0]);
        var before = ScriptCalls(await server.InfoRawAsync("commandstats"));

        var response = await _client.IngestAsync(request);

        var calls = ScriptCalls(await server.InfoRawAsync("commandstats")) - before;
        Assert.Equal(Enumerable.Repeat(IngestOutcome.Stored, 60).Append(IngestOutcome.Duplicate), response.Results.Select(r => r.Outcome));
        Assert.InRange(calls, 1, 2); // one call; two if the script had to be loaded first (EVALSHA → NOSCRIPT → EVAL)
        // Records of one user in one call are applied in order: aggregates and the newest profile are right.
        var user = await _client.GetUserAsync(new GetUserRequest { WorkspaceId = workspaces[2], CustomerId = "u1" });
        var indexes = Enumerable.Range(0, 60).Where(i => i % 5 == 2 && i % 3 == 1).ToArray();
        var stats = user.Events.Single();
        Assert.Equal((indexes.Length, 10_000 + indexes.Min() * 10L, 10_000 + indexes.Max() * 10L), (stats.Count, stats.FirstTimeMs, stats.LastTimeMs));
        Assert.Equal((1_000L + indexes.Max(), (double)indexes.Max()), (user.UpdatedAtMs, user.Attributes["n"].NumberValue));
    }

    private static long ScriptCalls(string? commandStats) => (commandStats ?? "").Split('\n')
        .Where(line => line.StartsWith("cmdstat_eval", StringComparison.Ordinal))
        .Sum(line => long.Parse(line.Split("calls=")[1].Split(',')[0], System.Globalization.CultureInfo.InvariantCulture));

    [Fact]
    public async Task StoresTheWebhooksTraceContextWithEachEventOfABatch()
    {
        var ws = "ws" + Guid.NewGuid().ToString("N")[..8];
        const string traceId = "0af7651916cd43dd8448eb211c80319c";
        await _client.IngestAsync(new IngestBatchRequest
        {
            Items =
            {
                new IngestItem { WorkspaceId = ws, ConfigName = "c", PayloadId = "p", Traceparent = $"00-{traceId}-b7ad6b7169203331-01",
                    Event = new EventRecord { User = new UserRecord { CustomerId = "a" }, EventName = "E", EventTimeMs = 1_000 } },
            },
        });

        await using var redisClient = await StackExchange.Redis.ConnectionMultiplexer.ConnectAsync(redis.ConnectionString);
        var entry = (await Integration.Testing.EventStreams.ReadAllAsync(redisClient.GetDatabase(), ws)).Single();
        Assert.Contains(traceId, entry.TraceParent);
    }

    [Fact]
    public async Task AnswersNotFoundForAnUnknownUser()
    {
        var ex = await Assert.ThrowsAsync<RpcException>(() => _client.GetUserAsync(new GetUserRequest { WorkspaceId = "nobody", CustomerId = "x" }).ResponseAsync);

        Assert.Equal(StatusCode.NotFound, ex.StatusCode);
        // The workspace does not exist either, and the answer says so rather than blaming the user.
        Assert.Contains("Workspace 'nobody' does not exist", ex.Status.Detail);
    }

    [Fact]
    public async Task AnswersNotFoundForAnUnknownWorkspaceAuth()
    {
        var ex = await Assert.ThrowsAsync<RpcException>(() => _client.GetWorkspaceAuthAsync(new GetWorkspaceAuthRequest { WorkspaceId = "nobody" }).ResponseAsync);

        Assert.Equal(StatusCode.NotFound, ex.StatusCode);
    }

    [Theory]
    [InlineData("", "a", "E", 1L, "workspace_id")]
    [InlineData("ws", "", "E", 1L, "events[0].user.customer_id")]
    [InlineData("ws", "a", "", 1L, "events[0].event_name")]
    [InlineData("ws", "a", "E", 0L, "events[0].event_time_ms")]
    public async Task RejectsInvalidEventsNamingTheField(string ws, string customerId, string eventName, long time, string field)
    {
        var request = new IngestEventsRequest { WorkspaceId = ws };
        request.Events.Add(new EventRecord { User = new UserRecord { CustomerId = customerId }, EventName = eventName, EventTimeMs = time });

        var ex = await Assert.ThrowsAsync<RpcException>(() => _client.IngestEventsAsync(request).ResponseAsync);

        Assert.Equal(StatusCode.InvalidArgument, ex.StatusCode);
        Assert.StartsWith(field, ex.Status.Detail);
    }

    [Fact]
    public async Task RejectsAnEmptyBatch()
    {
        var ex = await Assert.ThrowsAsync<RpcException>(() => _client.IngestUsersAsync(new IngestUsersRequest { WorkspaceId = "ws" }).ResponseAsync);

        Assert.Equal(StatusCode.InvalidArgument, ex.StatusCode);
    }

    [Fact]
    public async Task GuardsTheInternalApiWithTheInternalOrTheAdminTokenWhenOneIsConfigured()
    {
        await using var service = new KestrelServiceFactory<ingestion::Program>(new Dictionary<string, string?>
        {
            ["ConnectionStrings:redis"] = redis.ConnectionString,
            ["Internal:Token"] = "internal-secret",
            ["Admin:Token"] = "admin-secret",
        }, grpc: true);
        using var channel = service.CreateGrpcChannel();
        var client = new IngestionClient(channel);
        var request = new GetWorkspaceAuthRequest { WorkspaceId = "nobody" };
        Metadata Bearer(string token) => new() { { "authorization", $"Bearer {token}" } };

        var missing = await Assert.ThrowsAsync<RpcException>(() => client.GetWorkspaceAuthAsync(request).ResponseAsync);
        var wrong = await Assert.ThrowsAsync<RpcException>(() => client.GetWorkspaceAuthAsync(request, Bearer("guess")).ResponseAsync);
        var withInternal = await Assert.ThrowsAsync<RpcException>(() => client.GetWorkspaceAuthAsync(request, Bearer("internal-secret")).ResponseAsync);
        var withAdmin = await Assert.ThrowsAsync<RpcException>(() => client.GetWorkspaceAuthAsync(request, Bearer("admin-secret")).ResponseAsync);

        Assert.Equal(StatusCode.Unauthenticated, missing.StatusCode);
        Assert.Equal(StatusCode.Unauthenticated, wrong.StatusCode);
        Assert.Equal(StatusCode.NotFound, withInternal.StatusCode);
        Assert.Equal(StatusCode.NotFound, withAdmin.StatusCode);
    }

    [Fact]
    public async Task AnswersUnavailableWhenRedisIsDown()
    {
        await using var service = new KestrelServiceFactory<ingestion::Program>(new Dictionary<string, string?>
        {
            ["ConnectionStrings:redis"] = $"127.0.0.1:{FreePort.Next()},connectTimeout=300,abortConnect=false,syncTimeout=1000,asyncTimeout=1000",
        }, grpc: true);
        using var channel = service.CreateGrpcChannel();

        var ex = await Assert.ThrowsAsync<RpcException>(() => new IngestionClient(channel).IngestUsersAsync(
            new IngestUsersRequest { WorkspaceId = "ws", Users = { NewUser("a") } }, deadline: DateTime.UtcNow.AddSeconds(20)).ResponseAsync);

        Assert.Equal(StatusCode.Unavailable, ex.StatusCode);
    }
}
