using System.Collections.Concurrent;
using Integration.Campaigns.V1;
using Integration.Templates;

namespace Integration.Campaigns.Model;

/// <summary>One request step with its templates parsed.</summary>
internal sealed record CompiledStep(
    int Index,
    string Method,
    JinjaTemplate Url,
    string Host,
    IReadOnlyList<(string Name, JinjaTemplate Value)> Headers,
    BodyFormat Format,
    JinjaTemplate? Body,
    long DelayMs);

/// <summary>A campaign's steps, compiled once at save time (and once per process per version after that).</summary>
internal sealed record CompiledCampaign(IReadOnlyList<CompiledStep> Steps);

/// <summary>Parsed templates by campaign id and version: a template is never parsed per user.</summary>
internal sealed class CompiledCampaignCache
{
    private readonly ConcurrentDictionary<(string Workspace, string Id, long Version), CompiledCampaign> _cache = new();

    public CompiledCampaign Get(Campaign campaign)
    {
        var key = (campaign.WorkspaceId, campaign.CampaignId, campaign.Version);
        if (_cache.TryGetValue(key, out var compiled))
        {
            return compiled;
        }
        compiled = CampaignRules.Compile(campaign.Spec);
        if (_cache.Count > 10_000)
        {
            _cache.Clear();
        }
        return _cache.GetOrAdd(key, compiled);
    }

    public void Put(Campaign campaign, CompiledCampaign compiled) =>
        _cache[(campaign.WorkspaceId, campaign.CampaignId, campaign.Version)] = compiled;
}
