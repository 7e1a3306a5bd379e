using System.Globalization;

namespace RateLimitBench;

/// <summary>Calls and microseconds per command from Redis's <c>INFO commandstats</c>: the cost inside Redis alone.</summary>
internal sealed class ServerStats(Dictionary<string, (long Calls, long Microseconds)> commands)
{
    private readonly Dictionary<string, (long Calls, long Microseconds)> _commands = commands;

    public static ServerStats Parse(string info)
    {
        var commands = new Dictionary<string, (long, long)>(StringComparer.Ordinal);
        foreach (var line in info.Split('\n', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
        {
            // cmdstat_evalsha:calls=12000,usec=123456,usec_per_call=10.29,...
            if (!line.StartsWith("cmdstat_", StringComparison.Ordinal))
            {
                continue;
            }
            var colon = line.IndexOf(':', StringComparison.Ordinal);
            var fields = line[(colon + 1)..].Split(',')
                .Select(field => field.Split('='))
                .ToDictionary(pair => pair[0], pair => pair[1], StringComparer.Ordinal);
            commands[line["cmdstat_".Length..colon]] = (
                long.Parse(fields["calls"], CultureInfo.InvariantCulture),
                long.Parse(fields["usec"], CultureInfo.InvariantCulture));
        }
        return new ServerStats(commands);
    }

    public ServerStats Since(ServerStats before) => new(_commands.ToDictionary(
        pair => pair.Key,
        pair => before._commands.TryGetValue(pair.Key, out var earlier)
            ? (pair.Value.Calls - earlier.Calls, pair.Value.Microseconds - earlier.Microseconds)
            : pair.Value,
        StringComparer.Ordinal));

    public long Calls(string command) => _commands.GetValueOrDefault(command).Calls;

    /// <summary>Every command that was called, the most time first.</summary>
    public IEnumerable<(string Command, long Calls, long Microseconds)> ByTime() =>
        _commands.Where(pair => pair.Value.Calls > 0)
            .OrderByDescending(pair => pair.Value.Microseconds)
            .Select(pair => (pair.Key, pair.Value.Calls, pair.Value.Microseconds));

    public double MicrosecondsPerCall(string command) =>
        _commands.GetValueOrDefault(command) is { Calls: > 0 } stats ? stats.Microseconds / (double)stats.Calls : 0;
}
