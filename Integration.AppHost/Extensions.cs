using System.Diagnostics;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace Integration.AppHost;

/// <summary>How the AppHost provides Redis (<c>Redis:Mode</c>).</summary>
internal enum RedisMode
{
    /// <summary>A connection string if one is configured, else a container if a runtime is healthy, else redis-server.</summary>
    Auto,
    /// <summary>Aspire's Redis container.</summary>
    Container,
    /// <summary>The local <c>redis-server</c> executable.</summary>
    Executable,
    /// <summary>An existing Redis (or Redis Cluster) named by <c>ConnectionStrings:redis</c>.</summary>
    External,
}

internal static class Extensions
{
    /// <summary>
    /// Adds the system of record. Which kind depends on <c>Redis:Mode</c>; see <see cref="RedisMode"/>.
    /// </summary>
    public static IResourceBuilder<IResourceWithConnectionString> AddIntegrationRedis(
        this IDistributedApplicationBuilder builder, string name)
    {
        var mode = builder.Configuration.GetValue("Redis:Mode", RedisMode.Auto);
        var external = builder.Configuration.GetConnectionString(name);

        if (mode is RedisMode.Auto)
        {
            mode = !string.IsNullOrWhiteSpace(external) ? RedisMode.External
                : ContainerRuntime.IsHealthy() ? RedisMode.Container
                : RedisServerResource.FindExecutable() is not null ? RedisMode.Executable
                : throw new DistributedApplicationException(
                    "Redis is needed and none can be started: no healthy container runtime (docker or podman) " +
                    "answered and redis-server is not on PATH. Either start a container runtime, or install " +
                    "Redis (Debian: 'sudo apt-get install -y redis-server'), or set Redis:Mode=External with " +
                    "ConnectionStrings:redis pointing at an existing Redis.");
        }

        return mode switch
        {
            RedisMode.External => builder.AddConnectionString(name),
            RedisMode.Container => builder.AddRedis(name).WithDataVolume().WithAppendOnlyFile(),
            _ => builder.AddRedisServer(name),
        };
    }

    /// <summary>
    /// Aspire's Redis container persists by snapshot only (an RDB every 60 s: a crash loses what was acknowledged since);
    /// the system of record needs AOF, as in executable mode (DESIGN §7). Aspire's own callback builds the command line,
    /// as separate arguments when running and as one <c>/bin/sh -c "redis-server …"</c> string when publishing, so the
    /// options join it in whichever shape it has. The snapshots stay; on start Redis loads the AOF.
    /// </summary>
    internal static IResourceBuilder<RedisResource> WithAppendOnlyFile(this IResourceBuilder<RedisResource> redis) =>
        redis.WithArgs(context =>
        {
            string[] options = ["--appendonly", "yes", "--appendfsync", "everysec"];
            var index = -1;
            for (var i = 0; i < context.Args.Count && index < 0; i++)
            {
                index = context.Args[i] is string arg && arg.StartsWith("redis-server", StringComparison.Ordinal) ? i : -1;
            }
            if (index < 0)
            {
                throw new DistributedApplicationException(
                    "Aspire's Redis container no longer starts redis-server the way Integration.AppHost expects, so AOF cannot be " +
                    "switched on; update WithAppendOnlyFile in Integration.AppHost/Extensions.cs (or use Redis:Mode=Executable).");
            }
            if (context.Args[index] is "redis-server")
            {
                foreach (var option in options)
                {
                    context.Args.Add(option);
                }
            }
            else
            {
                context.Args[index] = $"{context.Args[index]} {string.Join(' ', options)}";
            }
        });

    /// <summary>
    /// Pins a project's endpoint to the development port in <c>Ports:{key}</c>, so that README
    /// examples work as written; 0 leaves the port to Aspire.
    /// </summary>
    public static IResourceBuilder<ProjectResource> WithFixedPort(
        this IResourceBuilder<ProjectResource> project, string endpointName, string key)
    {
        var port = project.ApplicationBuilder.Configuration.GetValue<int>($"Ports:{key}");
        return port > 0 ? project.WithEndpoint(endpointName, e => e.Port = port) : project;
    }

    /// <summary>
    /// Runs <c>Replicas:{key}</c> instances of a project (default 1). With more than one, Aspire's proxy keeps the
    /// endpoint's port and spreads connections over the replicas, each on a port of its own. The services keep no
    /// state of their own (DESIGN §2), so any number works against one Redis or a Redis Cluster.
    /// </summary>
    public static IResourceBuilder<ProjectResource> WithConfiguredReplicas(this IResourceBuilder<ProjectResource> project, string key)
    {
        var replicas = project.ApplicationBuilder.Configuration.GetValue($"Replicas:{key}", 1);
        if (replicas < 1)
        {
            throw new DistributedApplicationException($"Replicas:{key} is {replicas}; it must be at least 1.");
        }
        return replicas > 1 ? project.WithReplicas(replicas) : project;
    }

    /// <summary>
    /// Runs a project in the AppHost's environment (Development under the http launch profile): DCP
    /// starts projects without their launch profiles, so they would otherwise all run as Production.
    /// </summary>
    public static IResourceBuilder<ProjectResource> WithHostEnvironment(this IResourceBuilder<ProjectResource> project)
    {
        var environment = project.ApplicationBuilder.Environment.EnvironmentName;
        return project
            .WithEnvironment("DOTNET_ENVIRONMENT", environment)
            .WithEnvironment("ASPNETCORE_ENVIRONMENT", environment);
    }

    private static IResourceBuilder<RedisServerResource> AddRedisServer(this IDistributedApplicationBuilder builder, string name)
    {
        var executable = RedisServerResource.FindExecutable()
            ?? throw new DistributedApplicationException(
                "Redis:Mode is Executable but redis-server is not on PATH. Install it (Debian: " +
                "'sudo apt-get install -y redis-server') or choose Redis:Mode=Container or External.");

        // Kept outside bin/ so that acknowledged data survives rebuilds and restarts.
        var configured = builder.Configuration["Redis:DataDirectory"];
        var dataDirectory = string.IsNullOrWhiteSpace(configured)
            ? Path.Combine(builder.AppHostDirectory, ".data", name)
            : Path.GetFullPath(configured, builder.AppHostDirectory);
        Directory.CreateDirectory(dataDirectory);

        var resource = new RedisServerResource(name, executable, dataDirectory);
        var healthCheckKey = $"{name}_ping";
        builder.Services.AddHealthChecks().Add(new HealthCheckRegistration(
            healthCheckKey, _ => new RedisPingHealthCheck(resource), failureStatus: null, tags: null));

        return builder.AddResource(resource)
            .WithEndpoint(name: RedisServerResource.PrimaryEndpointName, scheme: "tcp",
                port: builder.Configuration.GetValue<int?>("Ports:Redis"))
            .WithArgs(context =>
            {
                context.Args.Add("--port");
                context.Args.Add(resource.PrimaryEndpoint.Property(EndpointProperty.TargetPort));
                context.Args.Add("--bind");
                context.Args.Add("127.0.0.1");
                context.Args.Add("--dir");
                context.Args.Add(dataDirectory);
                // AOF: what was acknowledged survives a crash of Redis itself (DESIGN §7).
                context.Args.Add("--appendonly");
                context.Args.Add("yes");
                context.Args.Add("--appendfsync");
                context.Args.Add("everysec");
                context.Args.Add("--save");
                context.Args.Add("");
            })
            .WithHealthCheck(healthCheckKey);
    }
}

/// <summary>Finds out whether a container runtime is there and answering.</summary>
internal static class ContainerRuntime
{
    public static bool IsHealthy()
    {
        var runtime = Environment.GetEnvironmentVariable("ASPIRE_CONTAINER_RUNTIME");
        string[] candidates = string.IsNullOrWhiteSpace(runtime) ? ["docker", "podman"] : [runtime];
        return candidates.Any(Answers);
    }

    private static bool Answers(string command)
    {
        try
        {
            using var process = Process.Start(new ProcessStartInfo(command, "info --format {{.ServerVersion}}")
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
            });
            if (process is null)
            {
                return false;
            }

            // A client without a daemon can hang for a long time; a healthy daemon answers at once.
            if (!process.WaitForExit(TimeSpan.FromSeconds(5)))
            {
                process.Kill(entireProcessTree: true);
                return false;
            }
            return process.ExitCode == 0;
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return false;
        }
    }
}
