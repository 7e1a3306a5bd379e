extern alias ingestion;

using Grpc.Core;
using Integration.Admin.V1;
using Integration.Testing;
using StackExchange.Redis;
using AdminClient = Integration.Admin.V1.Admin.AdminClient;

namespace Integration.Ingestion.Tests;

public sealed class AdminServiceTests : IAsyncLifetime
{
    private const string Token = "admin-token-for-tests";
    private readonly RedisServer _redis = new();
    private KestrelServiceFactory<ingestion::Program> _service = null!;
    private Grpc.Net.Client.GrpcChannel _channel = null!;
    private AdminClient _admin = null!;
    private readonly Metadata _auth = new() { { "authorization", $"Bearer {Token}" } };

    public async Task InitializeAsync()
    {
        await _redis.InitializeAsync();
        _service = new(new Dictionary<string, string?>
        {
            ["ConnectionStrings:redis"] = _redis.ConnectionString,
            ["Admin:Token"] = Token,
            ["Ingestion:EdgePublicBaseUrl"] = "https://edge.example.com",
        }, grpc: true);
        _channel = _service.CreateGrpcChannel();
        _admin = new AdminClient(_channel);
    }

    public async Task DisposeAsync()
    {
        _channel.Dispose();
        await _service.DisposeAsync();
        await _redis.DisposeAsync();
    }

    private static string NewId() => "ws" + Guid.NewGuid().ToString("N")[..10];

    [Fact]
    public async Task RefusesCallsWithoutTheAdminToken()
    {
        var ex = await Assert.ThrowsAsync<RpcException>(() =>
            _admin.GetWorkspaceAsync(new GetWorkspaceRequest { WorkspaceId = "x" }).ResponseAsync);

        Assert.Equal(StatusCode.Unauthenticated, ex.StatusCode);
    }

    [Fact]
    public async Task RefusesCallsWithAWrongAdminToken()
    {
        var ex = await Assert.ThrowsAsync<RpcException>(() =>
            _admin.GetWorkspaceAsync(new GetWorkspaceRequest { WorkspaceId = "x" }, new Metadata { { "authorization", "Bearer nope" } }).ResponseAsync);

        Assert.Equal(StatusCode.Unauthenticated, ex.StatusCode);
    }

    [Fact]
    public async Task CreatesAWorkspaceWithTheDefaultLimitAndReturnsItsKeyOnce()
    {
        var id = NewId();

        var created = await _admin.CreateWorkspaceAsync(new CreateWorkspaceRequest { WorkspaceId = id, Name = "Acme" }, _auth);
        var fetched = await _admin.GetWorkspaceAsync(new GetWorkspaceRequest { WorkspaceId = id }, _auth);

        Assert.Equal(500, created.Workspace.RateLimitPerSecond);
        Assert.True(created.DataApiKey.Length >= 40);
        Assert.Equal("Acme", fetched.Name);
        Assert.True(fetched.CreatedAtMs > 0);
    }

    [Fact]
    public async Task AMissingUserOfAnExistingWorkspaceIsToldAsAMissingUser()
    {
        var id = NewId();
        await _admin.CreateWorkspaceAsync(new CreateWorkspaceRequest { WorkspaceId = id }, _auth);
        var users = new Integration.Ingestion.V1.Ingestion.IngestionClient(_channel);

        var ex = await Assert.ThrowsAsync<RpcException>(() =>
            users.GetUserAsync(new Integration.Ingestion.V1.GetUserRequest { WorkspaceId = id, CustomerId = "nobody" }, _auth).ResponseAsync);

        Assert.Equal(StatusCode.NotFound, ex.StatusCode);
        Assert.Equal($"No user 'nobody' in workspace '{id}'.", ex.Status.Detail);
    }

    [Fact]
    public async Task StoresTheKeyOnlyAsItsHash()
    {
        var id = NewId();
        var created = await _admin.CreateWorkspaceAsync(new CreateWorkspaceRequest { WorkspaceId = id }, _auth);

        await using var redis = await ConnectionMultiplexer.ConnectAsync(_redis.ConnectionString);
        var server = redis.GetServer(redis.GetEndPoints()[0]);
        foreach (var key in server.Keys(pattern: $"*{id}*"))
        {
            var type = await redis.GetDatabase().KeyTypeAsync(key);
            if (type == RedisType.Hash)
            {
                var values = (await redis.GetDatabase().HashGetAllAsync(key)).Select(e => e.Value.ToString());
                Assert.DoesNotContain(values, v => v.Contains(created.DataApiKey));
            }
        }
        var hash = await redis.GetDatabase().HashGetAsync($"ws:{{{id}}}", "key_sha256");
        Assert.Equal(Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(created.DataApiKey))), hash.ToString());
    }

    [Fact]
    public async Task RefusesADuplicateWorkspaceUnlessUpsert()
    {
        var id = NewId();
        await _admin.CreateWorkspaceAsync(new CreateWorkspaceRequest { WorkspaceId = id }, _auth);

        var ex = await Assert.ThrowsAsync<RpcException>(() => _admin.CreateWorkspaceAsync(new CreateWorkspaceRequest { WorkspaceId = id }, _auth).ResponseAsync);
        var upserted = await _admin.CreateWorkspaceAsync(new CreateWorkspaceRequest { WorkspaceId = id, Upsert = true, RateLimitPerSecond = 7 }, _auth);

        Assert.Equal(StatusCode.AlreadyExists, ex.StatusCode);
        Assert.Equal(7, upserted.Workspace.RateLimitPerSecond);
    }

    [Theory]
    [InlineData("", 0, "", "workspace_id")]
    [InlineData("has space", 0, "", "workspace_id")]
    [InlineData("ok", -1, "", "rate_limit_per_second")]
    [InlineData("ok", 100_001, "", "rate_limit_per_second")]
    [InlineData("ok", 0, "short", "data_api_key")]
    [InlineData("ok", 0, "has:colon-key", "data_api_key")]
    public async Task RejectsInvalidWorkspacesNamingTheField(string id, int limit, string key, string field)
    {
        var ex = await Assert.ThrowsAsync<RpcException>(() => _admin.CreateWorkspaceAsync(
            new CreateWorkspaceRequest { WorkspaceId = id, RateLimitPerSecond = limit, DataApiKey = key }, _auth).ResponseAsync);

        Assert.Equal(StatusCode.InvalidArgument, ex.StatusCode);
        Assert.StartsWith(field, ex.Status.Detail);
    }

    [Fact]
    public async Task RotatingTheKeyReturnsANewOne()
    {
        var id = NewId();
        var created = await _admin.CreateWorkspaceAsync(new CreateWorkspaceRequest { WorkspaceId = id }, _auth);

        var rotated = await _admin.RotateWorkspaceKeyAsync(new RotateWorkspaceKeyRequest { WorkspaceId = id }, _auth);

        Assert.NotEqual(created.DataApiKey, rotated.DataApiKey);
    }

    [Fact]
    public async Task SetsTheRateLimit()
    {
        var id = NewId();
        await _admin.CreateWorkspaceAsync(new CreateWorkspaceRequest { WorkspaceId = id }, _auth);

        var updated = await _admin.SetRateLimitAsync(new SetRateLimitRequest { WorkspaceId = id, RateLimitPerSecond = 42 }, _auth);

        Assert.Equal(42, updated.RateLimitPerSecond);
        Assert.Equal(42, (await _admin.GetWorkspaceAsync(new GetWorkspaceRequest { WorkspaceId = id }, _auth)).RateLimitPerSecond);
    }

    [Fact]
    public async Task ShowsTheDefaultRetentionUntilOneIsSetAndStoresIt()
    {
        var id = NewId();
        var created = await _admin.CreateWorkspaceAsync(new CreateWorkspaceRequest { WorkspaceId = id }, _auth);

        var updated = await _admin.SetRetentionAsync(new SetRetentionRequest { WorkspaceId = id, RetentionDays = 14 }, _auth);

        Assert.Equal(90, created.Workspace.RetentionDays);
        Assert.Equal(14, updated.RetentionDays);
        Assert.Equal(14, (await _admin.GetWorkspaceAsync(new GetWorkspaceRequest { WorkspaceId = id }, _auth)).RetentionDays);
        await using var redis = await ConnectionMultiplexer.ConnectAsync(_redis.ConnectionString);
        var stored = await redis.GetDatabase().HashGetAsync($"ws:{{{id}}}", "retention_days");
        Assert.Equal(14, (int)stored);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(-1)]
    [InlineData(3651)]
    public async Task RejectsARetentionOutOfRangeNamingTheField(int days)
    {
        var id = NewId();
        await _admin.CreateWorkspaceAsync(new CreateWorkspaceRequest { WorkspaceId = id }, _auth);

        var ex = await Assert.ThrowsAsync<RpcException>(() =>
            _admin.SetRetentionAsync(new SetRetentionRequest { WorkspaceId = id, RetentionDays = days }, _auth).ResponseAsync);

        Assert.Equal(StatusCode.InvalidArgument, ex.StatusCode);
        Assert.StartsWith("retention_days", ex.Status.Detail);
    }

    [Fact]
    public async Task AnswersNotFoundForUnknownWorkspaces()
    {
        var missing = NewId();
        var calls = new Func<Task>[]
        {
            () => _admin.GetWorkspaceAsync(new GetWorkspaceRequest { WorkspaceId = missing }, _auth).ResponseAsync,
            () => _admin.RotateWorkspaceKeyAsync(new RotateWorkspaceKeyRequest { WorkspaceId = missing }, _auth).ResponseAsync,
            () => _admin.SetRateLimitAsync(new SetRateLimitRequest { WorkspaceId = missing, RateLimitPerSecond = 5 }, _auth).ResponseAsync,
            () => _admin.SetRetentionAsync(new SetRetentionRequest { WorkspaceId = missing, RetentionDays = 5 }, _auth).ResponseAsync,
            () => _admin.ListIntegrationConfigsAsync(new ListIntegrationConfigsRequest { WorkspaceId = missing }, _auth).ResponseAsync,
        };

        foreach (var call in calls)
        {
            Assert.Equal(StatusCode.NotFound, (await Assert.ThrowsAsync<RpcException>(call)).StatusCode);
        }
    }

    [Fact]
    public async Task CreatesListsAndDeletesConfigsWithTheirWebhookUrls()
    {
        var id = NewId();
        await _admin.CreateWorkspaceAsync(new CreateWorkspaceRequest { WorkspaceId = id }, _auth);
        var config = new IntegrationConfig { WorkspaceId = id, ConfigName = "heap-prod", IdentifierKind = IdentifierKind.Phone };
        config.EventNameMapping["Checkout Started"] = "checkout";

        var created = await _admin.CreateIntegrationConfigAsync(new CreateIntegrationConfigRequest { Config = config }, _auth);
        var listed = await _admin.ListIntegrationConfigsAsync(new ListIntegrationConfigsRequest { WorkspaceId = id }, _auth);
        var deleted = await _admin.DeleteIntegrationConfigAsync(new DeleteIntegrationConfigRequest { WorkspaceId = id, ConfigName = "heap-prod" }, _auth);
        var after = await _admin.ListIntegrationConfigsAsync(new ListIntegrationConfigsRequest { WorkspaceId = id }, _auth);

        Assert.Equal("https://edge.example.com/v1/partner/heap-analytics/user/?configName=heap-prod", created.UserWebhookUrl);
        Assert.Equal("https://edge.example.com/v1/partner/heap-analytics/events/?configName=heap-prod", created.EventsWebhookUrl);
        Assert.Equal(4, created.Modules.Count);
        var only = Assert.Single(listed.Configs);
        Assert.Equal(IdentifierKind.Phone, only.IdentifierKind);
        Assert.Equal("checkout", only.EventNameMapping["Checkout Started"]);
        Assert.True(deleted.Deleted);
        Assert.Empty(after.Configs);
    }

    [Theory]
    [InlineData("bad name", IdentifierKind.Email, "config.config_name")]
    [InlineData("ok", IdentifierKind.Unspecified, "config.identifier_kind")]
    public async Task RejectsInvalidConfigsNamingTheField(string name, IdentifierKind kind, string field)
    {
        var id = NewId();
        await _admin.CreateWorkspaceAsync(new CreateWorkspaceRequest { WorkspaceId = id }, _auth);

        var ex = await Assert.ThrowsAsync<RpcException>(() => _admin.CreateIntegrationConfigAsync(new CreateIntegrationConfigRequest
        {
            Config = new IntegrationConfig { WorkspaceId = id, ConfigName = name, IdentifierKind = kind },
        }, _auth).ResponseAsync);

        Assert.Equal(StatusCode.InvalidArgument, ex.StatusCode);
        Assert.StartsWith(field, ex.Status.Detail);
    }
}
