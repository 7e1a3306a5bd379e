using System.ComponentModel.DataAnnotations;
using System.Diagnostics.Metrics;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using StackExchange.Redis;

namespace Microsoft.Extensions.Hosting;

/// <summary>Bounds of the audit log.</summary>
public sealed class AuditOptions
{
    public const string SectionName = "Audit";

    /// <summary>Entries kept per workspace, newest first (older ones are trimmed as new ones arrive).</summary>
    [Range(100, 1_000_000)]
    public int MaxEntriesPerWorkspace { get; set; } = 10_000;

    /// <summary>Days an entry is kept at most.</summary>
    [Range(1, 3650)]
    public int RetentionDays { get; set; } = 90;
}

/// <summary>One audit entry: who (a token id, never a token), what, on what, when, and how it ended.</summary>
public sealed record AuditEntry(string Id, long AtMs, string Actor, string Action, string Target, string Outcome);

/// <summary>
/// The per-workspace audit log, written by every guarded gRPC service (<see cref="ApiAccessInterceptor"/>) and read
/// through the admin API. Owner of the <c>audit:{ws}</c> streams (docs/keyspace.md): bounded by
/// <see cref="AuditOptions.MaxEntriesPerWorkspace"/> and <see cref="AuditOptions.RetentionDays"/>, trimmed on every append.
/// </summary>
public sealed class AuditLog(IConnectionMultiplexer redis, IOptions<AuditOptions> options, ILogger<AuditLog> logger, IMeterFactory meters)
{
    public const string MeterName = "Integration.Audit";

    private static readonly string AppendScript = EmbeddedScripts.Read(typeof(AuditLog), "Access.audit-append.lua");

    private readonly Counter<long> _written = meters.Create(MeterName).CreateCounter<long>("integration.audit.entries", "{entry}",
        "Audit entries written, by outcome of the write (ok, failed).");

    private static RedisKey Key(string ws) => $"audit:{{{ws}}}";

    /// <summary>
    /// Appends an entry. A failure to write is logged and counted, never thrown: the change it records has
    /// happened already, and failing the call would only make the caller repeat it.
    /// </summary>
    public async Task RecordAsync(string workspaceId, string actor, string action, string target, string outcome)
    {
        var retentionMs = (long)TimeSpan.FromDays(options.Value.RetentionDays).TotalMilliseconds;
        try
        {
            await redis.GetDatabase().ScriptEvaluateAsync(AppendScript, [Key(workspaceId)],
                [actor, action, target, outcome, options.Value.MaxEntriesPerWorkspace, retentionMs]);
            _written.Add(1, new KeyValuePair<string, object?>("result", "ok"));
        }
        catch (Exception ex) when (ex is RedisException or TimeoutException)
        {
            _written.Add(1, new KeyValuePair<string, object?>("result", "failed"));
            logger.LogError(ex, "Could not write the audit entry {Action} by {Actor} in workspace {WorkspaceId}", action, actor, workspaceId);
        }
    }

    /// <summary>Entries newest first, before <paramref name="pageToken"/> (an entry id; empty: from the newest).</summary>
    public async Task<(IReadOnlyList<AuditEntry> Entries, string NextPageToken)> ReadAsync(string workspaceId, int count, string pageToken)
    {
        // "(" makes the range exclusive of the last entry of the previous page.
        var end = pageToken.Length == 0 ? "+" : "(" + pageToken;
        var entries = await redis.GetDatabase().StreamRangeAsync(Key(workspaceId), "-", end, count + 1, Order.Descending);
        var page = entries.Take(count).Select(e => new AuditEntry(
            e.Id.ToString(),
            long.Parse(e.Id.ToString().Split('-')[0], System.Globalization.CultureInfo.InvariantCulture),
            e["actor"].ToString(), e["action"].ToString(), e["target"].ToString(), e["outcome"].ToString())).ToList();
        return (page, entries.Length > count ? page[^1].Id : "");
    }

    /// <summary>Whether a page token has the shape of an entry id (<c>&lt;ms&gt;-&lt;seq&gt;</c>).</summary>
    public static bool IsPageToken(string token)
    {
        var parts = token.Split('-');
        return parts.Length == 2 && parts.All(p => p.Length is > 0 and <= 20 && p.All(char.IsAsciiDigit));
    }
}
