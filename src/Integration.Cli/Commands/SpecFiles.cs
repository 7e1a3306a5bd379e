using System.CommandLine;
using Google.Protobuf;

namespace Integration.Cli.Commands;

/// <summary>
/// Definitions too rich for options (a campaign, a segment) come from a file in protobuf JSON, the shape the APIs and
/// docs/campaigns.md use, so every setting of the API is reachable from the command line.
/// </summary>
internal static class SpecFiles
{
    // Unknown fields are refused: a misspelt setting must not be dropped silently.
    private static readonly JsonParser Parser = new(JsonParser.Settings.Default.WithIgnoreUnknownFields(false));

    public static Argument<string> Argument(string name, string what) => new(name)
    {
        Description = $"File with the {what} in protobuf JSON (field names as in the .proto or camelCase; '-': standard input)",
    };

    /// <summary>The message in the file (or standard input for "-"); a missing file or bad JSON is a usage error naming the file and the problem.</summary>
    public static async Task<T> ReadAsync<T>(string path, CancellationToken cancellationToken) where T : IMessage<T>, new()
    {
        string text;
        try
        {
            text = path == "-" ? await Console.In.ReadToEndAsync(cancellationToken) : await File.ReadAllTextAsync(path, cancellationToken);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new ArgumentException($"Cannot read '{path}': {ex.Message}");
        }
        try
        {
            return Parser.Parse<T>(text);
        }
        catch (InvalidProtocolBufferException ex)
        {
            throw new ArgumentException($"'{path}' is not a valid {typeof(T).Name} in protobuf JSON: {ex.Message}");
        }
        catch (InvalidJsonException ex)
        {
            throw new ArgumentException($"'{path}' is not valid JSON: {ex.Message}");
        }
    }
}
