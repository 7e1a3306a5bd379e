namespace Microsoft.Extensions.Hosting;

/// <summary>
/// Lua scripts embedded in a service's assembly (<c>&lt;EmbeddedResource Include="…\*.lua" /&gt;</c>), read once by the class that
/// owns them. The one reader for every service, so a missing script fails the same clear way everywhere.
/// </summary>
public static class EmbeddedScripts
{
    /// <param name="owner">A type of the assembly that embeds the script.</param>
    /// <param name="path">The script's path in the project, dot-separated (<c>Delivery.finish.lua</c>); the assembly's name is its prefix.</param>
    public static string Read(Type owner, string path)
    {
        var assembly = owner.Assembly;
        var resource = $"{assembly.GetName().Name}.{path}";
        using var stream = assembly.GetManifestResourceStream(resource)
            ?? throw new InvalidOperationException($"The script {resource} is not embedded in {assembly.GetName().Name}.");
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd();
    }
}
