using System.Collections.Concurrent;

namespace Integration.Ingestion.Storage;

/// <summary>The store's Lua scripts, embedded from Storage/Scripts/*.lua and read once.</summary>
internal static class LuaScripts
{
    private static readonly ConcurrentDictionary<string, string> Loaded = new(StringComparer.Ordinal);

    /// <summary>The text of Storage/Scripts/<paramref name="fileName"/>; StackExchange.Redis sends it as EVALSHA once loaded.</summary>
    public static string Get(string fileName) => Loaded.GetOrAdd(fileName, static name =>
    {
        var assembly = typeof(LuaScripts).Assembly;
        using var stream = assembly.GetManifestResourceStream($"Integration.Ingestion.Storage.Scripts.{name}")
            ?? throw new InvalidOperationException($"The Lua script {name} is not embedded in {assembly.GetName().Name}.");
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd();
    });
}
