using System.ComponentModel.DataAnnotations;
using Integration.Ingestion.Services;
using Integration.Ingestion.Storage;
using Microsoft.Extensions.Options;

namespace Integration.Ingestion.Demo;

internal sealed class DemoOptions
{
    public const string SectionName = "Demo";

    /// <summary>Provision the demo workspace and config at start. Honoured only in Development.</summary>
    public bool Enabled { get; set; }

    [Required, RegularExpression("^[A-Za-z0-9_-]{1,64}$")]
    public string WorkspaceId { get; set; } = "DEMO0001";

    [Required, MinLength(8)]
    public string DataApiKey { get; set; } = "demo-key";

    [Required]
    public string ConfigName { get; set; } = "heap-demo";

    /// <summary>The demo config's sync secret (Heap's segment sync); empty: none is set.</summary>
    public string SyncSecret { get; set; } = "";
}

/// <summary>
/// Provisions the demo workspace (id and key from the AppHost's parameters) and its <c>heap-demo</c>
/// config (identifier EMAIL, every module, the sync secret from the AppHost's parameter), so the README's curl examples
/// work right after start.
/// </summary>
internal sealed class DemoProvisioner(
    IWorkspaceStore store,
    SyncSecrets syncSecrets,
    IOptions<DemoOptions> options,
    IHostEnvironment environment,
    TimeProvider time,
    ILogger<DemoProvisioner> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var demo = options.Value;
        if (!demo.Enabled)
        {
            return;
        }
        if (!environment.IsDevelopment())
        {
            logger.LogWarning("Demo:Enabled is set outside Development ({Environment}); the demo workspace is not provisioned.", environment.EnvironmentName);
            return;
        }

        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await store.CreateAsync(new WorkspaceRecord(demo.WorkspaceId, "Demo workspace", 500,
                    RedisWorkspaceStore.HashKey(demo.DataApiKey), time.GetUtcNow().ToUnixTimeMilliseconds()), upsert: true);
                await store.SaveConfigAsync(demo.WorkspaceId,
                    new ConfigRecord(demo.ConfigName, (int)Domain.IdentifierKind.Email, [1, 2, 3, 4], []), upsert: true);
                if (demo.SyncSecret.Length > 0 && SyncSecrets.Problem(demo.SyncSecret) is { } problem)
                {
                    logger.LogWarning("Demo:SyncSecret {Problem}; the demo sync secret is not set.", problem);
                }
                else if (demo.SyncSecret.Length > 0 && await syncSecrets.SetAsync(demo.WorkspaceId, demo.ConfigName, demo.SyncSecret) is { } owner)
                {
                    logger.LogWarning("The demo config name {ConfigName} receives segment syncs in workspace {Owner}; the demo sync secret is not set.",
                        demo.ConfigName, owner);
                }
                logger.LogInformation("Provisioned demo workspace {WorkspaceId} with config {ConfigName}.", demo.WorkspaceId, demo.ConfigName);
                return;
            }
            catch (Exception ex) when (ex is StackExchange.Redis.RedisException or TimeoutException)
            {
                logger.LogWarning(ex, "Redis is not ready for the demo workspace yet; retrying in 2 s.");
                await Task.Delay(TimeSpan.FromSeconds(2), time, stoppingToken);
            }
        }
    }
}
