extern alias ingestion;

using Grpc.Core;
using Integration.Admin.V1;
using Integration.Ingestion.V1;
using Integration.Testing;
using StackExchange.Redis;
using AdminClient = Integration.Admin.V1.Admin.AdminClient;
using IngestionClient = Integration.Ingestion.V1.Ingestion.IngestionClient;

namespace Integration.Ingestion.Tests;

public sealed class WorkspaceTokenTests : IAsyncLifetime
{
    private const string AdminToken = "admin-token-for-tests";
    private const string InternalToken = "internal-token-for-tests";
    private readonly RedisServer _redis = new();
    private KestrelServiceFactory<ingestion::Program> _service = null!;
    private Grpc.Net.Client.GrpcChannel _channel = null!;
    private AdminClient _admin = null!;
    private IngestionClient _ingestion = null!;

    public async Task InitializeAsync()
    {
        await _redis.InitializeAsync();
        _service = new(new Dictionary<string, string?>
        {
            ["ConnectionStrings:redis"] = _redis.ConnectionString,
            ["Admin:Token"] = AdminToken,
            ["Internal:Token"] = InternalToken,
            ["Ingestion:EdgePublicBaseUrl"] = "https://edge.example.com",
        }, grpc: true);
        _channel = _service.CreateGrpcChannel();
        _admin = new AdminClient(_channel);
        _ingestion = new IngestionClient(_channel);
    }

    public async Task DisposeAsync()
    {
        _channel.Dispose();
        await _service.DisposeAsync();
        await _redis.DisposeAsync();
    }

    private static Metadata Bearer(string token) => new() { { "authorization", $"Bearer {token}" } };

    private static DateTime Deadline() => DateTime.UtcNow.AddSeconds(60);

    private async Task<string> NewWorkspaceAsync()
    {
        var id = "ws" + Guid.NewGuid().ToString("N")[..10];
        await _admin.CreateWorkspaceAsync(new CreateWorkspaceRequest { WorkspaceId = id }, Bearer(AdminToken), Deadline());
        return id;
    }

    private async Task<CreateWorkspaceTokenResponse> NewTokenAsync(string workspaceId, string name = "team") =>
        await _admin.CreateWorkspaceTokenAsync(new CreateWorkspaceTokenRequest { WorkspaceId = workspaceId, Name = name }, Bearer(AdminToken), Deadline());

    [Fact]
    public async Task AWorkspaceTokenIsShownOnceAndStoredOnlyAsItsHash()
    {
        var ws = await NewWorkspaceAsync();

        var created = await NewTokenAsync(ws, "campaign team");
        var listed = await _admin.ListWorkspaceTokensAsync(new ListWorkspaceTokensRequest { WorkspaceId = ws }, Bearer(AdminToken), Deadline());

        await using var redis = await ConnectionMultiplexer.ConnectAsync(_redis.ConnectionString);
        var stored = await redis.GetDatabase().HashGetAllAsync($"wstok:{{{ws}}}");
        var secret = created.Token.Split('.')[^1];
        Assert.Single(stored);
        Assert.DoesNotContain(secret, stored[0].Value.ToString());
        Assert.Equal(created.Info.TokenId, Assert.Single(listed.Tokens).TokenId);
        Assert.Equal("campaign team", listed.Tokens[0].Name);
        Assert.Equal("admin", listed.Tokens[0].CreatedBy);
        Assert.DoesNotContain(secret, listed.ToString());
    }

    [Fact]
    public async Task AWorkspaceTokenActsOnItsOwnWorkspace()
    {
        var ws = await NewWorkspaceAsync();
        var token = (await NewTokenAsync(ws)).Token;

        var workspace = await _admin.GetWorkspaceAsync(new GetWorkspaceRequest { WorkspaceId = ws }, Bearer(token), Deadline());
        var config = await _admin.CreateIntegrationConfigAsync(new CreateIntegrationConfigRequest
        {
            Config = new IntegrationConfig { WorkspaceId = ws, ConfigName = "web", IdentifierKind = IdentifierKind.Email },
        }, Bearer(token), Deadline());
        var lookup = await Assert.ThrowsAsync<RpcException>(() =>
            _ingestion.GetUserAsync(new GetUserRequest { WorkspaceId = ws, CustomerId = "nobody@example.com" }, Bearer(token), Deadline()).ResponseAsync);

        Assert.Equal(ws, workspace.WorkspaceId);
        Assert.Equal("web", config.ConfigName);
        Assert.Equal(StatusCode.NotFound, lookup.StatusCode);
    }

    [Fact]
    public async Task AWorkspaceTokenIsDeniedOnAnotherWorkspace()
    {
        var mine = await NewWorkspaceAsync();
        var theirs = await NewWorkspaceAsync();
        var token = (await NewTokenAsync(mine)).Token;

        var get = await Assert.ThrowsAsync<RpcException>(() =>
            _admin.GetWorkspaceAsync(new GetWorkspaceRequest { WorkspaceId = theirs }, Bearer(token), Deadline()).ResponseAsync);
        var nested = await Assert.ThrowsAsync<RpcException>(() => _admin.CreateIntegrationConfigAsync(new CreateIntegrationConfigRequest
        {
            Config = new IntegrationConfig { WorkspaceId = theirs, ConfigName = "web", IdentifierKind = IdentifierKind.Email },
        }, Bearer(token), Deadline()).ResponseAsync);
        var tokens = await Assert.ThrowsAsync<RpcException>(() =>
            _admin.CreateWorkspaceTokenAsync(new CreateWorkspaceTokenRequest { WorkspaceId = theirs, Name = "x" }, Bearer(token), Deadline()).ResponseAsync);

        Assert.Equal(StatusCode.PermissionDenied, get.StatusCode);
        Assert.Contains($"workspace_id '{theirs}'", get.Status.Detail);
        Assert.Equal(StatusCode.PermissionDenied, nested.StatusCode);
        Assert.Equal(StatusCode.PermissionDenied, tokens.StatusCode);
    }

    [Fact]
    public async Task AWorkspaceTokenCannotCreateWorkspacesChangeLimitsOrKeysOrWriteData()
    {
        var ws = await NewWorkspaceAsync();
        var token = (await NewTokenAsync(ws)).Token;

        var calls = new Func<Task>[]
        {
            () => _admin.CreateWorkspaceAsync(new CreateWorkspaceRequest { WorkspaceId = ws + "x" }, Bearer(token), Deadline()).ResponseAsync,
            () => _admin.SetRateLimitAsync(new SetRateLimitRequest { WorkspaceId = ws, RateLimitPerSecond = 10_000 }, Bearer(token), Deadline()).ResponseAsync,
            () => _admin.RotateWorkspaceKeyAsync(new RotateWorkspaceKeyRequest { WorkspaceId = ws }, Bearer(token), Deadline()).ResponseAsync,
            () => _ingestion.IngestUsersAsync(new IngestUsersRequest { WorkspaceId = ws }, Bearer(token), Deadline()).ResponseAsync,
            () => _ingestion.GetWorkspaceAuthAsync(new GetWorkspaceAuthRequest { WorkspaceId = ws }, Bearer(token), Deadline()).ResponseAsync,
        };

        foreach (var call in calls)
        {
            var ex = await Assert.ThrowsAsync<RpcException>(call);
            Assert.Equal(StatusCode.PermissionDenied, ex.StatusCode);
        }
    }

    [Fact]
    public async Task ARevokedTokenIsRefusedAtOnce()
    {
        var ws = await NewWorkspaceAsync();
        var created = await NewTokenAsync(ws);
        await _admin.GetWorkspaceAsync(new GetWorkspaceRequest { WorkspaceId = ws }, Bearer(created.Token), Deadline());

        await _admin.RevokeWorkspaceTokenAsync(new RevokeWorkspaceTokenRequest { WorkspaceId = ws, TokenId = created.Info.TokenId }, Bearer(created.Token), Deadline());
        var after = await Assert.ThrowsAsync<RpcException>(() =>
            _admin.GetWorkspaceAsync(new GetWorkspaceRequest { WorkspaceId = ws }, Bearer(created.Token), Deadline()).ResponseAsync);
        var again = await Assert.ThrowsAsync<RpcException>(() => _admin.RevokeWorkspaceTokenAsync(
            new RevokeWorkspaceTokenRequest { WorkspaceId = ws, TokenId = created.Info.TokenId }, Bearer(AdminToken), Deadline()).ResponseAsync);

        Assert.Equal(StatusCode.Unauthenticated, after.StatusCode);
        Assert.Equal(StatusCode.NotFound, again.StatusCode);
    }

    [Fact]
    public async Task AForgedOrMangledWorkspaceTokenIsUnauthenticated()
    {
        var ws = await NewWorkspaceAsync();
        var real = (await NewTokenAsync(ws)).Token;
        var parts = real.Split('.');

        foreach (var forged in new[] { $"wst.{ws}.{parts[2]}.{new string('A', parts[3].Length)}", $"wst.{ws}.tnope.{parts[3]}", "wst.", "wst....", $"wst.{ws}.{parts[2]}" })
        {
            var ex = await Assert.ThrowsAsync<RpcException>(() =>
                _admin.GetWorkspaceAsync(new GetWorkspaceRequest { WorkspaceId = ws }, Bearer(forged), Deadline()).ResponseAsync);
            Assert.Equal(StatusCode.Unauthenticated, ex.StatusCode);
        }
    }

    [Fact]
    public async Task RefusesBadTokenRequestsNamingTheField()
    {
        var ws = await NewWorkspaceAsync();

        var noName = await Assert.ThrowsAsync<RpcException>(() =>
            _admin.CreateWorkspaceTokenAsync(new CreateWorkspaceTokenRequest { WorkspaceId = ws, Name = " " }, Bearer(AdminToken), Deadline()).ResponseAsync);
        var longName = await Assert.ThrowsAsync<RpcException>(() =>
            _admin.CreateWorkspaceTokenAsync(new CreateWorkspaceTokenRequest { WorkspaceId = ws, Name = new string('n', 101) }, Bearer(AdminToken), Deadline()).ResponseAsync);
        var unknown = await Assert.ThrowsAsync<RpcException>(() =>
            _admin.CreateWorkspaceTokenAsync(new CreateWorkspaceTokenRequest { WorkspaceId = "nope", Name = "x" }, Bearer(AdminToken), Deadline()).ResponseAsync);
        var noId = await Assert.ThrowsAsync<RpcException>(() =>
            _admin.RevokeWorkspaceTokenAsync(new RevokeWorkspaceTokenRequest { WorkspaceId = ws }, Bearer(AdminToken), Deadline()).ResponseAsync);
        var badPage = await Assert.ThrowsAsync<RpcException>(() =>
            _admin.ListAuditLogAsync(new ListAuditLogRequest { WorkspaceId = ws, PageToken = "x" }, Bearer(AdminToken), Deadline()).ResponseAsync);
        var bigPage = await Assert.ThrowsAsync<RpcException>(() =>
            _admin.ListAuditLogAsync(new ListAuditLogRequest { WorkspaceId = ws, PageSize = 1001 }, Bearer(AdminToken), Deadline()).ResponseAsync);

        Assert.Equal((StatusCode.InvalidArgument, true), (noName.StatusCode, noName.Status.Detail.StartsWith("name")));
        Assert.Equal(StatusCode.InvalidArgument, longName.StatusCode);
        Assert.Equal(StatusCode.NotFound, unknown.StatusCode);
        Assert.Equal((StatusCode.InvalidArgument, true), (noId.StatusCode, noId.Status.Detail.StartsWith("token_id")));
        Assert.Equal((StatusCode.InvalidArgument, true), (badPage.StatusCode, badPage.Status.Detail.StartsWith("page_token")));
        Assert.Equal(StatusCode.InvalidArgument, bigPage.StatusCode);
    }

    [Fact]
    public async Task TheAuditLogRecordsWhoChangedWhatNewestFirstWithoutTokens()
    {
        var ws = await NewWorkspaceAsync();
        var created = await NewTokenAsync(ws);
        await _admin.CreateIntegrationConfigAsync(new CreateIntegrationConfigRequest
        {
            Config = new IntegrationConfig { WorkspaceId = ws, ConfigName = "web", IdentifierKind = IdentifierKind.Email },
        }, Bearer(created.Token), Deadline());
        await _admin.ListIntegrationConfigsAsync(new ListIntegrationConfigsRequest { WorkspaceId = ws }, Bearer(created.Token), Deadline());

        var log = await _admin.ListAuditLogAsync(new ListAuditLogRequest { WorkspaceId = ws }, Bearer(created.Token), Deadline());

        Assert.Equal(["Admin/CreateIntegrationConfig", "Admin/CreateWorkspaceToken", "Admin/CreateWorkspace"], log.Entries.Select(e => e.Action));
        Assert.Equal([created.Info.TokenId, "admin", "admin"], log.Entries.Select(e => e.Actor));
        Assert.Contains("config_name=web", log.Entries[0].Target);
        Assert.Contains($"token_id={created.Info.TokenId}", log.Entries[1].Target);
        Assert.All(log.Entries, e => Assert.True(Math.Abs(e.AtMs - DateTimeOffset.UtcNow.ToUnixTimeMilliseconds()) < 60_000));
        Assert.DoesNotContain(created.Token.Split('.')[^1], log.ToString());
    }

    [Fact]
    public async Task TheAuditLogPagesBackwardsAndRecordsARefusedAttemptInTheCallersOwnWorkspaceOnly()
    {
        var mine = await NewWorkspaceAsync();
        var theirs = await NewWorkspaceAsync();
        var token = (await NewTokenAsync(mine)).Token;
        for (var i = 0; i < 3; i++)
        {
            await _admin.CreateIntegrationConfigAsync(new CreateIntegrationConfigRequest
            {
                Config = new IntegrationConfig { WorkspaceId = mine, ConfigName = $"c{i}", IdentifierKind = IdentifierKind.Email },
            }, Bearer(token), Deadline());
        }
        await Assert.ThrowsAsync<RpcException>(() =>
            _admin.DeleteIntegrationConfigAsync(new DeleteIntegrationConfigRequest { WorkspaceId = theirs, ConfigName = "x" }, Bearer(token), Deadline()).ResponseAsync);

        var first = await _admin.ListAuditLogAsync(new ListAuditLogRequest { WorkspaceId = mine, PageSize = 2 }, Bearer(AdminToken), Deadline());
        var second = await _admin.ListAuditLogAsync(new ListAuditLogRequest { WorkspaceId = mine, PageSize = 2, PageToken = first.NextPageToken }, Bearer(AdminToken), Deadline());
        var third = await _admin.ListAuditLogAsync(new ListAuditLogRequest { WorkspaceId = mine, PageSize = 2, PageToken = second.NextPageToken }, Bearer(AdminToken), Deadline());
        var theirLog = await _admin.ListAuditLogAsync(new ListAuditLogRequest { WorkspaceId = theirs }, Bearer(AdminToken), Deadline());

        Assert.Equal(("Admin/DeleteIntegrationConfig", "permission_denied"), (first.Entries[0].Action, first.Entries[0].Outcome));
        Assert.Equal(["config_name=c2", "config_name=c1", "config_name=c0"],
            first.Entries.Skip(1).Concat(second.Entries).Take(3).Select(e => e.Target));
        Assert.Equal(6, first.Entries.Count + second.Entries.Count + third.Entries.Count);
        Assert.Equal("", third.NextPageToken);
        Assert.Equal(["Admin/CreateWorkspace"], theirLog.Entries.Select(e => e.Action));
    }

    [Fact]
    public async Task TheAuditLogIsBoundedByItsEntryCount()
    {
        await using var service = new KestrelServiceFactory<ingestion::Program>(new Dictionary<string, string?>
        {
            ["ConnectionStrings:redis"] = _redis.ConnectionString,
            ["Admin:Token"] = AdminToken,
            ["Audit:MaxEntriesPerWorkspace"] = "100",
        }, grpc: true);
        using var channel = service.CreateGrpcChannel();
        var admin = new AdminClient(channel);
        var ws = "bounded" + Guid.NewGuid().ToString("N")[..8];
        await admin.CreateWorkspaceAsync(new CreateWorkspaceRequest { WorkspaceId = ws }, Bearer(AdminToken), Deadline());
        for (var i = 0; i < 400; i++)
        {
            await admin.SetRateLimitAsync(new SetRateLimitRequest { WorkspaceId = ws, RateLimitPerSecond = 100 + i }, Bearer(AdminToken), Deadline());
        }

        await using var redis = await ConnectionMultiplexer.ConnectAsync(_redis.ConnectionString);
        var length = await redis.GetDatabase().StreamLengthAsync($"audit:{{{ws}}}");

        // MAXLEN ~ trims whole stream nodes (100 entries each by default), so the log holds at most a node more than asked.
        Assert.InRange(length, 100, 200);
    }
}
