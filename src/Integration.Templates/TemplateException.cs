namespace Integration.Templates;

/// <summary>A template problem with the place it happened (1-based line and column of the source).</summary>
public abstract class TemplateException(string message, int line, int column)
    : Exception($"{message} at ({line}:{column})")
{
    /// <summary>The problem without its position.</summary>
    public string Problem { get; } = message;

    public int Line { get; } = line;

    public int Column { get; } = column;
}

/// <summary>The template cannot be compiled: bad syntax, an unknown filter, test or tag, or an unknown name.</summary>
public sealed class TemplateSyntaxException(string message, int line, int column) : TemplateException(message, line, column);

/// <summary>Rendering failed: a type error, an undefined value used in arithmetic, or a limit was reached.</summary>
public sealed class TemplateRenderException(string message, int line, int column) : TemplateException(message, line, column);

/// <summary>Thrown inside the engine where the position is not known yet; the node that catches it adds it.</summary>
internal sealed class TemplateRuntimeError(string message) : Exception(message);
