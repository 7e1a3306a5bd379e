using System.Collections.Concurrent;
using Google.Protobuf;
using Integration.Campaigns.Model;
using Integration.Campaigns.V1;
using Integration.Ingestion.V1;
using StackExchange.Redis;

namespace Integration.Campaigns.Controls;

/// <summary>
/// A workspace's campaign settings (frequency cap, time zone, the user time-zone attribute): the <c>campws:{ws}</c>
/// key (docs/keyspace.md). Read on every send, so each replica keeps them for <see cref="CacheFor"/>.
/// </summary>
internal interface IWorkspaceSettingsStore
{
    Task<WorkspaceSettings> GetAsync(string workspaceId);

    Task SaveAsync(WorkspaceSettings settings);
}

internal sealed class RedisWorkspaceSettingsStore(IConnectionMultiplexer redis, TimeProvider time) : IWorkspaceSettingsStore
{
    public const string DefaultTimeZoneAttribute = "timezone";
    public static readonly TimeSpan CacheFor = TimeSpan.FromSeconds(5);
    private static readonly JsonFormatter Formatter = new(JsonFormatter.Settings.Default);
    private static readonly JsonParser Parser = new(JsonParser.Settings.Default.WithIgnoreUnknownFields(true));
    private readonly ConcurrentDictionary<string, (DateTimeOffset Until, WorkspaceSettings Settings)> _cache = new(StringComparer.Ordinal);

    private static RedisKey SettingsKey(string ws) => $"campws:{{{ws}}}";

    public async Task<WorkspaceSettings> GetAsync(string workspaceId)
    {
        var now = time.GetUtcNow();
        if (_cache.TryGetValue(workspaceId, out var cached) && cached.Until > now)
        {
            return cached.Settings;
        }
        var json = await redis.GetDatabase().StringGetAsync(SettingsKey(workspaceId));
        var settings = json.IsNullOrEmpty ? new WorkspaceSettings { WorkspaceId = workspaceId } : Parser.Parse<WorkspaceSettings>(json.ToString());
        _cache[workspaceId] = (now + CacheFor, settings);
        return settings;
    }

    public async Task SaveAsync(WorkspaceSettings settings)
    {
        await redis.GetDatabase().StringSetAsync(SettingsKey(settings.WorkspaceId), Formatter.Format(settings));
        _cache[settings.WorkspaceId] = (time.GetUtcNow() + CacheFor, settings);
    }

    /// <summary>The workspace's zone (UTC when unset).</summary>
    public static TimeZoneInfo WorkspaceZone(WorkspaceSettings settings) =>
        settings.TimeZone.Length > 0 ? Recurrence.FindZone(settings.TimeZone) ?? TimeZoneInfo.Utc : TimeZoneInfo.Utc;

    /// <summary>The user's zone from their profile attribute, or null when they have none (or an unknown one).</summary>
    public static TimeZoneInfo? UserZone(WorkspaceSettings settings, User user) =>
        UserZoneId(settings, user) is { } id ? Recurrence.FindZone(id) : null;

    /// <summary>The zone id in the user's profile attribute as given (maybe not a known zone), or null when they have none.</summary>
    public static string? UserZoneId(WorkspaceSettings settings, User user)
    {
        var attribute = settings.TimeZoneAttribute.Length > 0 ? settings.TimeZoneAttribute : DefaultTimeZoneAttribute;
        return user.Attributes.TryGetValue(attribute, out var value) && value.KindCase == Common.V1.AttributeValue.KindOneofCase.StringValue
            && value.StringValue.Trim() is { Length: > 0 } id
            ? id
            : null;
    }
}
