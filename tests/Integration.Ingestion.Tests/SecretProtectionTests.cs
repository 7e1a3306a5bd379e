using Integration.Testing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using StackExchange.Redis;

namespace Integration.Ingestion.Tests;

public sealed class SecretProtectionTests : IAsyncLifetime
{
    private readonly RedisServer _redis = new();
    private ConnectionMultiplexer _connection = null!;

    public async Task InitializeAsync()
    {
        await _redis.InitializeAsync();
        _connection = await ConnectionMultiplexer.ConnectAsync(_redis.ConnectionString);
    }

    public async Task DisposeAsync()
    {
        await _connection.DisposeAsync();
        await _redis.DisposeAsync();
    }

    // Each host stands for one service process: its own DI container and Data Protection instance, the same Redis.
    private IHost NewService(string name)
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { ApplicationName = name });
        builder.Services.AddSingleton<IConnectionMultiplexer>(_connection);
        builder.AddSecretProtection();
        return builder.Build();
    }

    [Fact]
    public void ASecretProtectedByOneServiceIsReadByAnotherThroughTheKeyRingInRedis()
    {
        using var ingestion = NewService("Integration.Ingestion");
        using var edge = NewService("Integration.Edge");

        var stored = ingestion.Services.GetRequiredService<ISecretProtector>().Protect(SecretPurposes.SegmentSync, "demo-sync-secret");
        var read = edge.Services.GetRequiredService<ISecretProtector>().Unprotect(SecretPurposes.SegmentSync, stored);

        Assert.Equal("demo-sync-secret", read);
        Assert.DoesNotContain("demo-sync-secret", stored);
        Assert.True(_connection.GetDatabase().ListLength(SecretProtection.KeyRingRedisKey) >= 1);
    }

    [Fact]
    public void AValueProtectedForOnePurposeCannotBeReadForAnother()
    {
        using var service = NewService("Integration.Campaigns");
        var protector = service.Services.GetRequiredService<ISecretProtector>();
        var stored = protector.Protect(SecretPurposes.CampaignHeader, "Bearer abc");

        var ex = Assert.Throws<SecretUnreadableException>(() => protector.Unprotect(SecretPurposes.SegmentSync, stored));

        Assert.DoesNotContain("Bearer abc", ex.Message);
    }

    [Fact]
    public void ALegacyPlainValueIsReturnedAsItIsAndReportedAsNotProtected()
    {
        using var service = NewService("Integration.Campaigns");
        var protector = service.Services.GetRequiredService<ISecretProtector>();

        Assert.False(protector.IsProtected("Bearer legacy"));
        Assert.Equal("Bearer legacy", protector.Unprotect(SecretPurposes.CampaignHeader, "Bearer legacy"));
        Assert.True(protector.IsProtected(protector.Protect(SecretPurposes.CampaignHeader, "x")));
    }

    [Fact]
    public void ASecretWhoseKeyRingWasLostIsReportedUnreadableWithoutItsValue()
    {
        string stored;
        using (var before = NewService("Integration.Ingestion"))
        {
            stored = before.Services.GetRequiredService<ISecretProtector>().Protect(SecretPurposes.SegmentSync, "s3cret-value");
        }
        _connection.GetDatabase().KeyDelete(SecretProtection.KeyRingRedisKey);
        using var after = NewService("Integration.Ingestion");

        var ex = Assert.Throws<SecretUnreadableException>(() =>
            after.Services.GetRequiredService<ISecretProtector>().Unprotect(SecretPurposes.SegmentSync, stored));

        Assert.Contains(SecretProtection.KeyRingRedisKey, ex.Message);
        Assert.DoesNotContain("s3cret-value", ex.Message);
    }
}
