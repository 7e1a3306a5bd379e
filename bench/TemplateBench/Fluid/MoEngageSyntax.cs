using System.Text;

namespace TemplateBench.Fluid;

/// <summary>
/// Turns MoEngage's Jinja-style spellings into Liquid that Fluid parses, keeping every character at its
/// position so that parse errors point at the author's line and column:
/// <c>|default('x')</c> → <c>|default:'x' </c>, and <c>{% elif</c> → <c>{%elsif</c>.
/// </summary>
internal static class MoEngageSyntax
{
    public static string ToLiquid(string source)
    {
        var text = new StringBuilder(source);
        var i = 0;
        while (i < text.Length - 1)
        {
            if (text[i] == '{' && (text[i + 1] == '{' || text[i + 1] == '%'))
            {
                var isTag = text[i + 1] == '%';
                i = RewriteMarkup(text, i + 2, isTag);
            }
            else
            {
                i++;
            }
        }
        return text.ToString();
    }

    // Rewrites inside one {{ … }} or {% … %}; returns the index after its end.
    private static int RewriteMarkup(StringBuilder text, int start, bool isTag)
    {
        var i = start;
        if (isTag)
        {
            RewriteElif(text, i);
        }
        var openParens = new Stack<bool>();
        while (i < text.Length)
        {
            var c = text[i];
            if (c is '\'' or '"')
            {
                var close = IndexOf(text, c, i + 1);
                if (close < 0)
                {
                    return text.Length;
                }
                i = close + 1;
                continue;
            }
            if ((c == '}' || c == '%') && i + 1 < text.Length && text[i + 1] == '}')
            {
                return i + 2;
            }
            if (c == '|')
            {
                // | name (  →  | name :
                var j = i + 1;
                while (j < text.Length && char.IsWhiteSpace(text[j])) j++;
                var nameStart = j;
                while (j < text.Length && (char.IsLetterOrDigit(text[j]) || text[j] == '_')) j++;
                var nameEnd = j;
                while (j < text.Length && char.IsWhiteSpace(text[j])) j++;
                if (nameEnd > nameStart && j < text.Length && text[j] == '(')
                {
                    text[j] = ':';
                    openParens.Push(true);
                    i = j + 1;
                    continue;
                }
            }
            else if (c == '(')
            {
                openParens.Push(false);
            }
            else if (c == ')' && openParens.Count > 0 && openParens.Pop())
            {
                text[i] = ' ';
            }
            i++;
        }
        return i;
    }

    private static void RewriteElif(StringBuilder text, int i)
    {
        if (i < text.Length && text[i] == '-') i++;
        var spaceStart = i;
        while (i < text.Length && char.IsWhiteSpace(text[i])) i++;
        if (i > spaceStart && i + 4 <= text.Length && text.ToString(i, 4) == "elif"
            && (i + 4 == text.Length || !char.IsLetterOrDigit(text[i + 4])))
        {
            // One space becomes the extra letter: "{% elif" and "{%elsif" have the same length.
            text.Remove(i - 1, 5).Insert(i - 1, "elsif");
        }
    }

    private static int IndexOf(StringBuilder text, char c, int from)
    {
        for (var i = from; i < text.Length; i++)
        {
            if (text[i] == c) return i;
        }
        return -1;
    }
}
