using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Globalization;
using Integration.Edge.RateLimiting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using RateLimitBench;
using StackExchange.Redis;

CultureInfo.DefaultThreadCurrentCulture = CultureInfo.InvariantCulture;
CultureInfo.CurrentCulture = CultureInfo.InvariantCulture;

BenchSettings? settings;
try
{
    settings = BenchSettings.Parse(args);
}
catch (Exception ex) when (ex is ArgumentException or FormatException)
{
    Console.Error.WriteLine(ex.Message);
    return 2;
}
if (settings is null)
{
    Console.WriteLine(BenchSettings.Usage);
    return 0;
}

using var ownRedis = settings.Redis is null ? await RedisProcess.StartAsync() : null;
var connectionString = settings.Redis ?? ownRedis!.ConnectionString;
await using var services = new ServiceCollection().AddMetrics().BuildServiceProvider();
var metrics = new RateLimitMetrics(services.GetRequiredService<IMeterFactory>());
var options = Options.Create(new RateLimitingOptions());

var replicas = new Replica[settings.Replicas];
for (var i = 0; i < replicas.Length; i++)
{
    var configuration = ConfigurationOptions.Parse(connectionString);
    configuration.AllowAdmin = true; // INFO commandstats, for Redis's own view of the script's cost
    var connection = await ConnectionMultiplexer.ConnectAsync(configuration);
    replicas[i] = new Replica(
        connection,
        new RedisRateCounter(connection, options, metrics, TimeProvider.System, NullLogger<RedisRateCounter>.Instance));
}

var server = replicas[0].Connection.GetServer(replicas[0].Connection.GetEndPoints()[0]);
Console.WriteLine($"redis      {connectionString} (redis {server.Version}{(ownRedis is null ? "" : ", started by the bench, AOF everysec")})");
Console.WriteLine($"machine    {Environment.ProcessorCount} cores, .NET {Environment.Version}, {(Debugger.IsAttached ? "debugger" : "no debugger")}, {BuildConfiguration()}");
Console.WriteLine($"load       limit {settings.Limit}/s, offered {settings.OfferedPerSecond:0}/s ({settings.Factor:0.##}x) open loop, " +
    $"{settings.Replicas} replicas, {settings.Seconds} s measured after {settings.WarmupSeconds} s warm-up");

if (settings.WarmupSeconds > 0)
{
    await OpenLoop.RunAsync(replicas, "bench-warmup-" + Guid.NewGuid().ToString("N"), settings.Limit, settings.OfferedPerSecond,
        TimeSpan.FromSeconds(settings.WarmupSeconds));
}
var statsBefore = ServerStats.Parse(await server.InfoRawAsync("commandstats") ?? "");
var run = await OpenLoop.RunAsync(replicas, "bench-" + Guid.NewGuid().ToString("N"), settings.Limit, settings.OfferedPerSecond,
    TimeSpan.FromSeconds(settings.Seconds));
var statsAfter = ServerStats.Parse(await server.InfoRawAsync("commandstats") ?? "");
foreach (var replica in replicas)
{
    await replica.Connection.DisposeAsync();
}

return Report.Print(settings, run, statsAfter.Since(statsBefore)) ? 0 : 1;

static string BuildConfiguration() =>
#if DEBUG
    "Debug build (numbers are not representative; use -c Release)";
#else
    "Release build";
#endif
