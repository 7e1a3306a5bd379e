using Google.Protobuf;
using Integration.Campaigns.Safety;
using Integration.Campaigns.V1;
using StackExchange.Redis;

namespace Integration.Campaigns.Storage;

/// <summary>Campaign definitions and the indexes the runner reads (docs/keyspace.md, "campaigns").</summary>
internal interface ICampaignStore
{
    Task<Campaign?> GetAsync(string workspaceId, string campaignId);

    /// <summary>
    /// Writes the campaign if the stored version is <paramref name="expectedVersion"/> (0: the campaign
    /// must not exist yet); false on a conflict.
    /// </summary>
    Task<bool> TrySaveAsync(Campaign campaign, long expectedVersion);

    /// <summary>Campaigns newest first, from <paramref name="offset"/>; the next offset or -1.</summary>
    Task<(IReadOnlyList<Campaign> Campaigns, long NextOffset)> ListAsync(string workspaceId, long offset, int count);

    Task<IReadOnlyList<Campaign>> ActiveEventTriggeredAsync(string workspaceId);

    /// <summary>
    /// A number that changes whenever a campaign of the workspace is saved, so a replica can keep its parsed
    /// active campaigns and ask one GET per poll whether they are still current.
    /// </summary>
    Task<long> ChangeVersionAsync(string workspaceId);

    Task<IReadOnlyList<Campaign>> ActiveBusinessEventAsync(string workspaceId);

    /// <summary>Active campaigns (of any delivery type) with conversion goals.</summary>
    Task<IReadOnlyList<Campaign>> ActiveWithGoalsAsync(string workspaceId);

    /// <summary>Workspaces whose event stream the consumer reads: they have (or had) active event-triggered campaigns or campaigns with conversion goals.</summary>
    Task<IReadOnlyList<string>> TriggerWorkspacesAsync();
}

/// <remarks>Secret header values are encrypted in the stored JSON (<see cref="SecretHeaders"/>); callers see them in clear.</remarks>
internal sealed class RedisCampaignStore(IConnectionMultiplexer redis, ISecretProtector secrets) : ICampaignStore
{
    private static readonly JsonFormatter Formatter = new(JsonFormatter.Settings.Default);
    private static readonly JsonParser Parser = new(JsonParser.Settings.Default.WithIgnoreUnknownFields(true));

    private static RedisKey CampaignKey(string ws, string id) => $"camp:{{{ws}}}:{id}";
    private static RedisKey CampaignsKey(string ws) => $"camps:{{{ws}}}";
    private static RedisKey TriggeredKey(string ws) => $"camps:trig:{{{ws}}}";
    private static RedisKey BusinessKey(string ws) => $"camps:biz:{{{ws}}}";
    private static RedisKey ChangesKey(string ws) => $"camps:ver:{{{ws}}}";
    private static RedisKey GoalsKey(string ws) => $"camps:goals:{{{ws}}}";
    private static readonly RedisKey TriggerWorkspacesKey = "campaigns:trigger-workspaces";

    // KEYS: campaign, campaigns, triggered, business, changes, goals. ARGV: expected version, new version, json, created ms, id,
    // active event-triggered (1/0), active business-event (1/0), active with conversion goals (1/0). One slot: the indexes never disagree with the campaign,
    // and the change counter moves with every save, so cached copies of the indexes know they are stale.
    private const string SaveScript = """
        local v = redis.call('HGET', KEYS[1], 'v')
        if ARGV[1] == '0' then
          if v then return 0 end
        elseif v ~= ARGV[1] then
          return 0
        end
        redis.call('HSET', KEYS[1], 'v', ARGV[2], 'json', ARGV[3])
        redis.call('ZADD', KEYS[2], ARGV[4], ARGV[5])
        if ARGV[6] == '1' then redis.call('SADD', KEYS[3], ARGV[5]) else redis.call('SREM', KEYS[3], ARGV[5]) end
        if ARGV[7] == '1' then redis.call('SADD', KEYS[4], ARGV[5]) else redis.call('SREM', KEYS[4], ARGV[5]) end
        if ARGV[8] == '1' then redis.call('SADD', KEYS[6], ARGV[5]) else redis.call('SREM', KEYS[6], ARGV[5]) end
        redis.call('INCR', KEYS[5])
        return 1
        """;

    private IDatabase Db => redis.GetDatabase();

    public async Task<Campaign?> GetAsync(string workspaceId, string campaignId)
    {
        var json = await Db.HashGetAsync(CampaignKey(workspaceId, campaignId), "json");
        return json.IsNull ? null : await ReadAsync(json);
    }

    // A campaign stored before secrets were encrypted is rewritten encrypted when first read (same version, so a
    // concurrent change wins and the rewrite is simply dropped).
    private async Task<Campaign> ReadAsync(RedisValue json)
    {
        var campaign = Parser.Parse<Campaign>(json.ToString());
        if (campaign.Spec is not null && SecretHeaders.Unprotect(secrets, campaign.Spec))
        {
            await TrySaveAsync(campaign, campaign.Version);
        }
        return campaign;
    }

    public async Task<bool> TrySaveAsync(Campaign campaign, long expectedVersion)
    {
        var ws = campaign.WorkspaceId;
        var active = campaign.State == CampaignState.Active;
        var triggered = active && campaign.Spec.DeliveryCase == CampaignSpec.DeliveryOneofCase.EventTriggered;
        var business = active && campaign.Spec.DeliveryCase == CampaignSpec.DeliveryOneofCase.BusinessEvent;
        var goals = active && Goals.ConversionTracker.HasGoals(campaign);
        if (triggered || goals)
        {
            // Before the campaign is visible as active, so the consumer never misses the workspace.
            await Db.SetAddAsync(TriggerWorkspacesKey, ws);
        }
        var result = await Db.ScriptEvaluateAsync(SaveScript,
            [CampaignKey(ws, campaign.CampaignId), CampaignsKey(ws), TriggeredKey(ws), BusinessKey(ws), ChangesKey(ws), GoalsKey(ws)],
            [expectedVersion, campaign.Version, Formatter.Format(Protected(campaign)), campaign.CreatedAtMs, campaign.CampaignId,
             triggered ? 1 : 0, business ? 1 : 0, goals ? 1 : 0]);
        return (int)result == 1;
    }

    private Campaign Protected(Campaign campaign)
    {
        if (campaign.Spec is null)
        {
            return campaign;
        }
        var stored = campaign.Clone();
        stored.Spec = SecretHeaders.Protect(secrets, campaign.Spec);
        return stored;
    }

    public async Task<(IReadOnlyList<Campaign> Campaigns, long NextOffset)> ListAsync(string workspaceId, long offset, int count)
    {
        var ids = await Db.SortedSetRangeByRankAsync(CampaignsKey(workspaceId), offset, offset + count, Order.Descending);
        var page = ids.Take(count).Select(id => id.ToString()).ToList();
        var campaigns = await LoadAsync(workspaceId, page);
        return (campaigns, ids.Length > count ? offset + count : -1);
    }

    public async Task<IReadOnlyList<Campaign>> ActiveEventTriggeredAsync(string workspaceId) =>
        (await LoadAsync(workspaceId, (await Db.SetMembersAsync(TriggeredKey(workspaceId))).Select(v => v.ToString())))
            .Where(c => c.State == CampaignState.Active).ToList();

    public async Task<long> ChangeVersionAsync(string workspaceId) =>
        (long?)await Db.StringGetAsync(ChangesKey(workspaceId)) ?? 0;

    public async Task<IReadOnlyList<Campaign>> ActiveBusinessEventAsync(string workspaceId) =>
        (await LoadAsync(workspaceId, (await Db.SetMembersAsync(BusinessKey(workspaceId))).Select(v => v.ToString())))
            .Where(c => c.State == CampaignState.Active).ToList();

    public async Task<IReadOnlyList<Campaign>> ActiveWithGoalsAsync(string workspaceId) =>
        (await LoadAsync(workspaceId, (await Db.SetMembersAsync(GoalsKey(workspaceId))).Select(v => v.ToString())))
            .Where(c => c.State == CampaignState.Active && Goals.ConversionTracker.HasGoals(c)).ToList();

    public async Task<IReadOnlyList<string>> TriggerWorkspacesAsync() =>
        (await Db.SetMembersAsync(TriggerWorkspacesKey)).Select(v => v.ToString()).ToList();

    private async Task<IReadOnlyList<Campaign>> LoadAsync(string workspaceId, IEnumerable<string> ids)
    {
        var db = Db;
        var loads = ids.Select(id => db.HashGetAsync(CampaignKey(workspaceId, id), "json")).ToArray();
        var values = await Task.WhenAll(loads);
        var campaigns = new List<Campaign>(values.Length);
        foreach (var value in values.Where(v => !v.IsNull))
        {
            campaigns.Add(await ReadAsync(value));
        }
        return campaigns;
    }
}
