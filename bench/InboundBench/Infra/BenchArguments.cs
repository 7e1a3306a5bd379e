using System.Globalization;

namespace InboundBench.Infra;

/// <summary>The named arguments of every bench program: <c>--name value</c>, or <c>--flag</c> alone (read as "true").</summary>
internal static class BenchArguments
{
    /// <summary>Parses <paramref name="args"/> from <paramref name="start"/>; null when one is not an option, named in <paramref name="unexpected"/>.</summary>
    public static Dictionary<string, string>? Parse(string[] args, int start, out string? unexpected)
    {
        var options = new Dictionary<string, string>(StringComparer.Ordinal);
        for (var i = start; i < args.Length; i++)
        {
            if (!args[i].StartsWith("--", StringComparison.Ordinal))
            {
                unexpected = args[i];
                return null;
            }
            options[args[i][2..]] = i + 1 < args.Length && !args[i + 1].StartsWith("--", StringComparison.Ordinal) ? args[++i] : "true";
        }
        unexpected = null;
        return options;
    }

    public static int Int(this IReadOnlyDictionary<string, string> options, string name, int fallback) =>
        options.TryGetValue(name, out var value) ? int.Parse(value, CultureInfo.InvariantCulture) : fallback;
}
