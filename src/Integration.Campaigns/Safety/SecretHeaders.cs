using Integration.Campaigns.V1;

namespace Integration.Campaigns.Safety;

/// <summary>
/// Header values that <see cref="Redaction"/> names secret are stored encrypted (<see cref="ISecretProtector"/>,
/// purpose <see cref="SecretPurposes.CampaignHeader"/>): in campaign definitions and in delivery records. A value
/// written before encryption is read as it is and encrypted on the next write.
/// </summary>
internal static class SecretHeaders
{
    /// <summary>The spec with its secret header values encrypted (a copy; the argument is not changed).</summary>
    public static CampaignSpec Protect(ISecretProtector protector, CampaignSpec spec)
    {
        var copy = spec.Clone();
        foreach (var header in copy.Steps.SelectMany(s => s.Headers).Where(IsSecret))
        {
            if (!protector.IsProtected(header.Value))
            {
                header.Value = protector.Protect(SecretPurposes.CampaignHeader, header.Value);
            }
        }
        return copy;
    }

    /// <summary>Decrypts the spec's secret header values in place; true when one was still stored in plain text.</summary>
    public static bool Unprotect(ISecretProtector protector, CampaignSpec spec)
    {
        var legacy = false;
        foreach (var header in spec.Steps.SelectMany(s => s.Headers).Where(IsSecret))
        {
            legacy |= !protector.IsProtected(header.Value);
            header.Value = protector.Unprotect(SecretPurposes.CampaignHeader, header.Value);
        }
        return legacy;
    }

    public static Dictionary<string, string> Protect(ISecretProtector protector, IReadOnlyDictionary<string, string> headers) =>
        headers.ToDictionary(h => h.Key,
            h => Redaction.IsSecretName(h.Key) && h.Value.Length > 0 && !protector.IsProtected(h.Value)
                ? protector.Protect(SecretPurposes.CampaignHeader, h.Value)
                : h.Value,
            StringComparer.OrdinalIgnoreCase);

    public static Dictionary<string, string> Unprotect(ISecretProtector protector, IReadOnlyDictionary<string, string> headers) =>
        headers.ToDictionary(h => h.Key,
            h => Redaction.IsSecretName(h.Key) ? protector.Unprotect(SecretPurposes.CampaignHeader, h.Value) : h.Value,
            StringComparer.OrdinalIgnoreCase);

    private static bool IsSecret(Header header) => Redaction.IsSecretName(header.Name) && header.Value.Length > 0;
}
