extern alias ingestion;

using Grpc.Core;
using Integration.Admin.V1;
using Integration.Ingestion.V1;
using Integration.Testing;
using StackExchange.Redis;
using AdminClient = Integration.Admin.V1.Admin.AdminClient;
using IngestionClient = Integration.Ingestion.V1.Ingestion.IngestionClient;

namespace Integration.Ingestion.Tests;

/// <summary>Sync secrets through the admin API: set or generated, shown once, stored encrypted, one workspace per name.</summary>
public sealed class SyncSecretTests : IAsyncLifetime
{
    private const string Token = "admin-token-for-tests";
    private readonly RedisServer _redis = new();
    private KestrelServiceFactory<ingestion::Program> _service = null!;
    private Grpc.Net.Client.GrpcChannel _channel = null!;
    private AdminClient _admin = null!;
    private IngestionClient _ingestion = null!;
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
        _ingestion = new IngestionClient(_channel);
    }

    public async Task DisposeAsync()
    {
        _channel.Dispose();
        await _service.DisposeAsync();
        await _redis.DisposeAsync();
    }

    private async Task<string> WorkspaceWithConfigAsync(string configName)
    {
        var id = "ws" + Guid.NewGuid().ToString("N")[..10];
        await _admin.CreateWorkspaceAsync(new CreateWorkspaceRequest { WorkspaceId = id }, _auth);
        await _admin.CreateIntegrationConfigAsync(new CreateIntegrationConfigRequest
        {
            Config = new IntegrationConfig { WorkspaceId = id, ConfigName = configName, IdentifierKind = IdentifierKind.Email },
        }, _auth);
        return id;
    }

    private static string NewName() => "cfg-" + Guid.NewGuid().ToString("N")[..10];

    [Fact]
    public async Task GeneratesASecretShowsItOnceAndPrintsTheSegmentSyncUrl()
    {
        var name = NewName();
        var ws = await WorkspaceWithConfigAsync(name);

        var set = await _admin.SetSyncSecretAsync(new SetSyncSecretRequest { WorkspaceId = ws, ConfigName = name }, _auth);
        var listed = await _admin.ListIntegrationConfigsAsync(new ListIntegrationConfigsRequest { WorkspaceId = ws }, _auth);

        Assert.True(set.SyncSecret.Length >= 40);
        Assert.Equal($"https://edge.example.com/v1/partner/heap-analytics/segments/?configName={name}", set.Config.SegmentsWebhookUrl);
        var config = Assert.Single(listed.Configs);
        Assert.True(config.HasSyncSecret);
        Assert.DoesNotContain(set.SyncSecret, config.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task StoresTheSecretEncryptedNeverInClear()
    {
        var name = NewName();
        var ws = await WorkspaceWithConfigAsync(name);
        const string secret = "heap-assigned-secret-123";

        await _admin.SetSyncSecretAsync(new SetSyncSecretRequest { WorkspaceId = ws, ConfigName = name, SyncSecret = secret }, _auth);

        await using var redis = await ConnectionMultiplexer.ConnectAsync(_redis.ConnectionString);
        var stored = (string?)await redis.GetDatabase().HashGetAsync($"ws:{{{ws}}}:syncsecrets", name);
        Assert.NotNull(stored);
        Assert.StartsWith("dp1:", stored, StringComparison.Ordinal);
        Assert.DoesNotContain(secret, stored, StringComparison.Ordinal);
        var auth = await _ingestion.GetSegmentSyncAuthAsync(new GetSegmentSyncAuthRequest { ConfigName = name });
        Assert.Equal(ws, auth.WorkspaceId);
        Assert.Equal(stored, auth.ProtectedSyncSecret);
    }

    [Fact]
    public async Task AConfigNameCarriesASyncSecretInOneWorkspaceOnly()
    {
        var name = NewName();
        var first = await WorkspaceWithConfigAsync(name);
        var second = await WorkspaceWithConfigAsync(name);
        await _admin.SetSyncSecretAsync(new SetSyncSecretRequest { WorkspaceId = first, ConfigName = name }, _auth);

        var ex = await Assert.ThrowsAsync<RpcException>(() =>
            _admin.SetSyncSecretAsync(new SetSyncSecretRequest { WorkspaceId = second, ConfigName = name }, _auth).ResponseAsync);

        Assert.Equal(StatusCode.AlreadyExists, ex.StatusCode);
        Assert.Contains(first, ex.Status.Detail, StringComparison.Ordinal);
        Assert.Equal(first, (await _ingestion.GetSegmentSyncAuthAsync(new GetSegmentSyncAuthRequest { ConfigName = name })).WorkspaceId);
    }

    [Fact]
    public async Task DeletingTheSecretOrTheConfigFreesTheNameForAnotherWorkspace()
    {
        var name = NewName();
        var first = await WorkspaceWithConfigAsync(name);
        var second = await WorkspaceWithConfigAsync(name);
        var third = await WorkspaceWithConfigAsync(name);
        await _admin.SetSyncSecretAsync(new SetSyncSecretRequest { WorkspaceId = first, ConfigName = name }, _auth);

        var deleted = await _admin.DeleteSyncSecretAsync(new DeleteSyncSecretRequest { WorkspaceId = first, ConfigName = name }, _auth);
        var lookup = await Assert.ThrowsAsync<RpcException>(() =>
            _ingestion.GetSegmentSyncAuthAsync(new GetSegmentSyncAuthRequest { ConfigName = name }).ResponseAsync);
        await _admin.SetSyncSecretAsync(new SetSyncSecretRequest { WorkspaceId = second, ConfigName = name }, _auth);
        await _admin.DeleteIntegrationConfigAsync(new DeleteIntegrationConfigRequest { WorkspaceId = second, ConfigName = name }, _auth);
        await _admin.SetSyncSecretAsync(new SetSyncSecretRequest { WorkspaceId = third, ConfigName = name }, _auth);

        Assert.True(deleted.Deleted);
        Assert.Equal(StatusCode.NotFound, lookup.StatusCode);
        Assert.Equal(third, (await _ingestion.GetSegmentSyncAuthAsync(new GetSegmentSyncAuthRequest { ConfigName = name })).WorkspaceId);
    }

    [Fact]
    public async Task ADeadClaimWithoutASecretIsTakenOver()
    {
        var name = NewName();
        var ws = await WorkspaceWithConfigAsync(name);
        await using var redis = await ConnectionMultiplexer.ConnectAsync(_redis.ConnectionString);
        // As a crash between the claim and the secret's write leaves it.
        await redis.GetDatabase().HashSetAsync("syncnames", name, "wsGONE");

        var set = await _admin.SetSyncSecretAsync(new SetSyncSecretRequest { WorkspaceId = ws, ConfigName = name }, _auth);

        Assert.NotEmpty(set.SyncSecret);
        Assert.Equal(ws, (await _ingestion.GetSegmentSyncAuthAsync(new GetSegmentSyncAuthRequest { ConfigName = name })).WorkspaceId);
    }

    [Theory]
    [InlineData("short")]
    [InlineData("has a space in it!!")]
    public async Task RefusesAnUnusableSecretNamingTheField(string secret)
    {
        var name = NewName();
        var ws = await WorkspaceWithConfigAsync(name);

        var ex = await Assert.ThrowsAsync<RpcException>(() =>
            _admin.SetSyncSecretAsync(new SetSyncSecretRequest { WorkspaceId = ws, ConfigName = name, SyncSecret = secret }, _auth).ResponseAsync);

        Assert.Equal(StatusCode.InvalidArgument, ex.StatusCode);
        Assert.StartsWith("sync_secret", ex.Status.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task RefusesASecretForAConfigThatDoesNotExist()
    {
        var ws = await WorkspaceWithConfigAsync(NewName());

        var ex = await Assert.ThrowsAsync<RpcException>(() =>
            _admin.SetSyncSecretAsync(new SetSyncSecretRequest { WorkspaceId = ws, ConfigName = "nope" }, _auth).ResponseAsync);

        Assert.Equal(StatusCode.NotFound, ex.StatusCode);
    }
}
