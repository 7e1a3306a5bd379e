namespace Integration.Campaigns.Safety;

/// <summary>Which header values are secrets, and what is shown instead of them.</summary>
internal static class Redaction
{
    public const string Mask = "***";

    private static readonly string[] SecretNameParts = ["auth", "token", "secret", "key", "password", "cookie", "signature", "credential", "session"];

    public static bool IsSecretHeader(string name) =>
        SecretNameParts.Any(part => name.Contains(part, StringComparison.OrdinalIgnoreCase));

    public static string Value(string name, string value) => IsSecretHeader(name) && value.Length > 0 ? Mask : value;
}
