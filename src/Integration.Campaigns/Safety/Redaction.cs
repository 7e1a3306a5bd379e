using System.Text.Json;
using System.Text.Json.Nodes;
using System.Web;

namespace Integration.Campaigns.Safety;

/// <summary>
/// The one list of what is a credential in campaigns, and its "***" wherever a request is shown: API answers (campaigns,
/// previews, test sends), dead letters and logs. Header values it names are also what is encrypted at rest.
/// </summary>
internal static class Redaction
{
    public const string Mask = "***";

    private static readonly string[] SecretFragments =
        ["key", "token", "secret", "password", "passwd", "auth", "cookie", "signature", "session", "credential"];

    // Idempotency keys are ids we made, not credentials; showing them is what makes a replay explainable.
    private static readonly HashSet<string> NotSecret = new(StringComparer.OrdinalIgnoreCase)
    {
        "idempotency_key", "idempotency-key", "idempotencykey",
    };

    public static bool IsSecretName(string name) =>
        !NotSecret.Contains(name) && SecretFragments.Any(f => name.Contains(f, StringComparison.OrdinalIgnoreCase));

    /// <summary>A header value as shown: masked when the name is a secret's.</summary>
    public static string Value(string name, string value) => IsSecretName(name) && value.Length > 0 ? Mask : value;

    public static Dictionary<string, string> Headers(IReadOnlyDictionary<string, string> headers) =>
        headers.ToDictionary(h => h.Key, h => IsSecretName(h.Key) ? Mask : h.Value, StringComparer.OrdinalIgnoreCase);

    public static string Url(string url)
    {
        if (!Uri.TryCreate(url, UriKind.Absolute, out var uri))
        {
            return url;
        }
        var builder = new UriBuilder(uri);
        if (!string.IsNullOrEmpty(builder.UserName) || !string.IsNullOrEmpty(builder.Password))
        {
            builder.UserName = Mask;
            builder.Password = "";
        }
        if (builder.Query.Length > 1)
        {
            builder.Query = RedactForm(builder.Query.TrimStart('?'));
        }
        return builder.Uri.AbsoluteUri;
    }

    /// <summary>Redacts secret-named fields of a JSON or form body; other bodies are returned as they are.</summary>
    public static string? Body(string? body, string? contentType)
    {
        if (string.IsNullOrEmpty(body))
        {
            return body;
        }
        if (contentType?.Contains("x-www-form-urlencoded", StringComparison.OrdinalIgnoreCase) == true)
        {
            return RedactForm(body);
        }
        try
        {
            var node = JsonNode.Parse(body);
            if (node is JsonObject or JsonArray)
            {
                RedactJson(node);
                return node.ToJsonString();
            }
        }
        catch (JsonException)
        {
        }
        return body;
    }

    private static void RedactJson(JsonNode? node)
    {
        switch (node)
        {
            case JsonObject obj:
                foreach (var name in obj.Select(p => p.Key).ToList())
                {
                    if (IsSecretName(name) && obj[name] is JsonValue)
                    {
                        obj[name] = Mask;
                    }
                    else
                    {
                        RedactJson(obj[name]);
                    }
                }
                break;
            case JsonArray array:
                foreach (var item in array)
                {
                    RedactJson(item);
                }
                break;
        }
    }

    private static string RedactForm(string form) => string.Join('&', form.Split('&').Select(pair =>
    {
        var eq = pair.IndexOf('=');
        var name = HttpUtility.UrlDecode(eq < 0 ? pair : pair[..eq]);
        return eq >= 0 && IsSecretName(name) ? pair[..eq] + "=" + Mask : pair;
    }));
}
