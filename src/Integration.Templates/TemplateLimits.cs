namespace Integration.Templates;

/// <summary>
/// Bounds on one render, so that a hostile or careless template stops quickly with a clear error instead of
/// using the process's CPU or memory.
/// </summary>
public sealed record TemplateLimits
{
    public static readonly TemplateLimits Default = new();

    /// <summary>Statements, expressions with filters or calls, and loop iterations executed.</summary>
    public int MaxSteps { get; init; } = 100_000;

    /// <summary>Loop iterations over all loops of the render (and the length of a <c>range()</c>).</summary>
    public int MaxLoopIterations { get; init; } = 10_000;

    /// <summary>Nested macro calls and recursive loops.</summary>
    public int MaxRecursionDepth { get; init; } = 16;

    /// <summary>Characters of the rendered text.</summary>
    public int MaxOutputLength { get; init; } = 1024 * 1024;

    /// <summary>Characters of any one string the template builds.</summary>
    public int MaxStringLength { get; init; } = 1024 * 1024;

    /// <summary>Characters (and list items, at four each) the template allocates over the whole render.</summary>
    public long MaxAllocated { get; init; } = 4 * 1024 * 1024;
}
