namespace Integration.AppHost.Tests;

/// <summary>
/// Container mode cannot be started here (no container runtime), so these tests build the AppHost's model with
/// <c>Redis:Mode=Container</c> and read the command line the container would be started with.
/// </summary>
public sealed class RedisContainerArgumentsTests
{
    [Fact]
    public async Task ContainerRedisRunsWithAppendOnlyFileSyncedEverySecond()
    {
        var command = await ContainerCommandLineAsync(DistributedApplicationOperation.Run);

        Assert.Equal("redis-server", command[0]);
        Assert.Equal(["--appendonly", "yes", "--appendfsync", "everysec"], command[^4..]);
        Assert.Contains("--requirepass", command);
    }

    [Fact]
    public async Task PublishedContainerCommandCarriesTheAppendOnlyOptionsInsideItsShellCommand()
    {
        var command = await ContainerCommandLineAsync(DistributedApplicationOperation.Publish);

        Assert.Equal("-c", command[0]);
        var shellCommand = Assert.Single(command, a => a.StartsWith("redis-server", StringComparison.Ordinal));
        Assert.EndsWith(" --appendonly yes --appendfsync everysec", shellCommand, StringComparison.Ordinal);
        Assert.Contains("--requirepass $REDIS_PASSWORD", shellCommand, StringComparison.Ordinal);
    }

    /// <summary>The container's arguments, as Aspire's argument callbacks produce them in order.</summary>
    private static async Task<List<string>> ContainerCommandLineAsync(DistributedApplicationOperation operation)
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromMinutes(1));
        await using var builder = await DistributedApplicationTestingBuilder.CreateAsync<Projects.Integration_AppHost>(
            ["--Redis:Mode=Container", "--HeapTraffic:Enabled=false"], cts.Token);
        var redis = Assert.IsType<RedisResource>(Assert.Single(builder.Resources, r => r.Name == "redis"));
        Assert.Equal("/bin/sh", redis.Entrypoint);

        var args = new List<object>();
        var context = new CommandLineArgsCallbackContext(args, redis, cts.Token)
        {
            ExecutionContext = new DistributedApplicationExecutionContext(operation),
        };
        foreach (var callback in redis.Annotations.OfType<CommandLineArgsCallbackAnnotation>())
        {
            await callback.Callback(context);
        }
        return args.Select(a => Assert.IsType<string>(a)).ToList();
    }
}
