using System.Globalization;
using System.Text;

namespace Integration.Templates;

internal enum TokenKind
{
    Data,
    VariableBegin,
    VariableEnd,
    BlockBegin,
    BlockEnd,
    Name,
    String,
    Integer,
    Float,
    Operator,
    End,
}

internal readonly record struct Token(TokenKind Kind, string Value, int Position, object? Number = null)
{
    public bool Is(TokenKind kind, string value) => Kind == kind && Value == value;

    public bool IsOperator(string value) => Kind == TokenKind.Operator && Value == value;

    public bool IsName(string value) => Kind == TokenKind.Name && Value == value;

    public string Describe() => Kind switch
    {
        TokenKind.End => "end of template",
        TokenKind.VariableEnd => "end of print statement '}}'",
        TokenKind.BlockEnd => "end of statement block '%}'",
        TokenKind.VariableBegin => "'{{'",
        TokenKind.BlockBegin => "'{%'",
        TokenKind.Data => "template data",
        TokenKind.String => "string",
        TokenKind.Integer or TokenKind.Float => "number",
        _ => $"'{Value}'",
    };
}

/// <summary>
/// Splits a template into text and tag tokens the way Jinja2's default lexer does: <c>{{ }}</c>, <c>{% %}</c>,
/// <c>{# #}</c>, <c>-</c> whitespace control, <c>{% raw %}</c>, newlines normalised to \n and one trailing
/// newline dropped (keep_trailing_newline off).
/// </summary>
internal sealed class Lexer
{
    private static readonly string[] Operators =
        ["//", "**", "==", "!=", "<=", ">=", "+", "-", "/", "*", "%", "~", "[", "]", "(", ")", "{", "}", "<", ">", "=", ".", ":", "|", ",", ";"];

    private readonly string _source;
    private readonly List<Token> _tokens = [];
    private readonly SourceMap _map;
    private int _pos;
    private bool _stripNextData;

    private Lexer(string source, SourceMap map)
    {
        _source = source;
        _map = map;
    }

    public static List<Token> Tokenize(string source, SourceMap map)
    {
        var lexer = new Lexer(source, map);
        lexer.Run();
        return lexer._tokens;
    }

    private TemplateSyntaxException Error(string message, int position)
    {
        var (line, column) = _map.Locate(position);
        return new TemplateSyntaxException(message, line, column);
    }

    private void Run()
    {
        var s = _source;
        while (_pos < s.Length)
        {
            var open = FindOpen(_pos);
            var dataEnd = open < 0 ? s.Length : open;
            var data = s[_pos..dataEnd];
            var dataPos = _pos;
            var stripBefore = open >= 0 && open + 2 < s.Length && s[open + 2] == '-';
            if (_stripNextData)
            {
                var trimmed = data.TrimStart();
                dataPos += data.Length - trimmed.Length;
                data = trimmed;
                _stripNextData = false;
            }
            if (stripBefore)
            {
                data = data.TrimEnd();
            }
            if (data.Length > 0)
            {
                _tokens.Add(new Token(TokenKind.Data, data, dataPos));
            }
            if (open < 0)
            {
                break;
            }
            _pos = open + 2;
            if (_pos < s.Length && (s[_pos] == '-' || s[_pos] == '+'))
            {
                _pos++;
            }
            switch (s[open + 1])
            {
                case '#':
                    LexComment(open);
                    break;
                case '{':
                    _tokens.Add(new Token(TokenKind.VariableBegin, "{{", open));
                    LexInside(open, "}}", TokenKind.VariableEnd);
                    break;
                default:
                    if (TryLexRaw(open))
                    {
                        break;
                    }
                    _tokens.Add(new Token(TokenKind.BlockBegin, "{%", open));
                    LexInside(open, "%}", TokenKind.BlockEnd);
                    break;
            }
        }
        _tokens.Add(new Token(TokenKind.End, "", s.Length));
    }

    private int FindOpen(int from)
    {
        var s = _source;
        for (var i = s.IndexOf('{', from); i >= 0 && i + 1 < s.Length; i = s.IndexOf('{', i + 1))
        {
            var c = s[i + 1];
            if (c is '{' or '%' or '#')
            {
                return i;
            }
        }
        return -1;
    }

    private void LexComment(int open)
    {
        var end = _source.IndexOf("#}", _pos, StringComparison.Ordinal);
        if (end < 0)
        {
            throw Error("missing end of comment tag", open);
        }
        _stripNextData = end > _pos && _source[end - 1] == '-';
        _pos = end + 2;
    }

    // {% raw %} … {% endraw %}: the content is text, tags and all.
    private bool TryLexRaw(int open)
    {
        var i = SkipSpace(_pos);
        if (!Word(i, "raw"))
        {
            return false;
        }
        i = SkipSpace(i + 3);
        var stripAfterOpen = false;
        if (i < _source.Length && (_source[i] == '-' || _source[i] == '+'))
        {
            stripAfterOpen = _source[i] == '-';
            i++;
        }
        if (!At(i, "%}"))
        {
            return false;
        }
        var contentStart = i + 2;
        for (var j = _source.IndexOf("{%", contentStart, StringComparison.Ordinal); j >= 0; j = _source.IndexOf("{%", j + 2, StringComparison.Ordinal))
        {
            var k = j + 2;
            var stripBeforeClose = k < _source.Length && _source[k] == '-';
            if (k < _source.Length && (_source[k] == '-' || _source[k] == '+'))
            {
                k++;
            }
            k = SkipSpace(k);
            if (!Word(k, "endraw"))
            {
                continue;
            }
            k = SkipSpace(k + 6);
            var stripAfterClose = false;
            if (k < _source.Length && (_source[k] == '-' || _source[k] == '+'))
            {
                stripAfterClose = _source[k] == '-';
                k++;
            }
            if (!At(k, "%}"))
            {
                continue;
            }
            var content = _source[contentStart..j];
            if (stripAfterOpen)
            {
                content = content.TrimStart();
            }
            if (stripBeforeClose)
            {
                content = content.TrimEnd();
            }
            if (content.Length > 0)
            {
                _tokens.Add(new Token(TokenKind.Data, content, contentStart));
            }
            _pos = k + 2;
            _stripNextData = stripAfterClose;
            return true;
        }
        throw Error("missing end of raw directive", open);
    }

    private void LexInside(int open, string close, TokenKind endKind)
    {
        var s = _source;
        var depth = new Stack<char>();
        while (true)
        {
            while (_pos < s.Length && char.IsWhiteSpace(s[_pos]))
            {
                _pos++;
            }
            if (_pos >= s.Length)
            {
                throw Error(endKind == TokenKind.VariableEnd ? "unexpected end of template, expected '}}'" : "unexpected end of template, expected '%}'", open);
            }
            if (depth.Count == 0)
            {
                if (s[_pos] == '-' && At(_pos + 1, close))
                {
                    _tokens.Add(new Token(endKind, close, _pos));
                    _pos += 1 + close.Length;
                    _stripNextData = true;
                    return;
                }
                if (s[_pos] == '+' && At(_pos + 1, close))
                {
                    _tokens.Add(new Token(endKind, close, _pos));
                    _pos += 1 + close.Length;
                    return;
                }
                if (At(_pos, close))
                {
                    _tokens.Add(new Token(endKind, close, _pos));
                    _pos += close.Length;
                    return;
                }
            }
            var c = s[_pos];
            if (c is '\'' or '"')
            {
                LexString(c);
                continue;
            }
            if (char.IsAsciiDigit(c))
            {
                LexNumber();
                continue;
            }
            if (char.IsLetter(c) || c == '_')
            {
                var start = _pos;
                while (_pos < s.Length && (char.IsLetterOrDigit(s[_pos]) || s[_pos] == '_'))
                {
                    _pos++;
                }
                _tokens.Add(new Token(TokenKind.Name, s[start.._pos], start));
                continue;
            }
            string? op = null;
            foreach (var candidate in Operators)
            {
                if (At(_pos, candidate))
                {
                    op = candidate;
                    break;
                }
            }
            if (op is null)
            {
                throw Error($"unexpected char '{c}'", _pos);
            }
            if (op is "(" or "[" or "{")
            {
                depth.Push(op switch { "(" => ')', "[" => ']', _ => '}' });
            }
            else if (op is ")" or "]" or "}")
            {
                if (depth.Count == 0)
                {
                    throw Error($"unexpected '{op}'", _pos);
                }
                var expected = depth.Pop();
                if (expected != op[0])
                {
                    throw Error($"unexpected '{op}', expected '{expected}'", _pos);
                }
            }
            _tokens.Add(new Token(TokenKind.Operator, op, _pos));
            _pos += op.Length;
        }
    }

    private void LexString(char quote)
    {
        var s = _source;
        var start = _pos;
        var i = _pos + 1;
        var text = new StringBuilder();
        while (true)
        {
            if (i >= s.Length)
            {
                throw Error("unexpected end of string", start);
            }
            var c = s[i];
            if (c == quote)
            {
                break;
            }
            if (c == '\\' && i + 1 < s.Length)
            {
                i = Unescape(s, i, text);
                continue;
            }
            text.Append(c);
            i++;
        }
        _pos = i + 1;
        _tokens.Add(new Token(TokenKind.String, text.ToString(), start));
    }

    // Python's unicode-escape rules, as Jinja applies them to string literals; unknown escapes stay as written.
    private int Unescape(string s, int i, StringBuilder text)
    {
        var c = s[i + 1];
        switch (c)
        {
            case '\n': return i + 2;
            case '\\': text.Append('\\'); return i + 2;
            case '\'': text.Append('\''); return i + 2;
            case '"': text.Append('"'); return i + 2;
            case 'a': text.Append('\a'); return i + 2;
            case 'b': text.Append('\b'); return i + 2;
            case 'f': text.Append('\f'); return i + 2;
            case 'n': text.Append('\n'); return i + 2;
            case 'r': text.Append('\r'); return i + 2;
            case 't': text.Append('\t'); return i + 2;
            case 'v': text.Append('\v'); return i + 2;
            case 'x': return Hex(s, i, 2, text);
            case 'u': return Hex(s, i, 4, text);
            case 'U': return Hex(s, i, 8, text);
        }
        if (c is >= '0' and <= '7')
        {
            var j = i + 1;
            var value = 0;
            while (j < s.Length && j < i + 4 && s[j] is >= '0' and <= '7')
            {
                value = value * 8 + (s[j] - '0');
                j++;
            }
            text.Append((char)value);
            return j;
        }
        text.Append('\\');
        return i + 1;
    }

    private int Hex(string s, int i, int digits, StringBuilder text)
    {
        var start = i + 2;
        if (start + digits > s.Length || !int.TryParse(s.AsSpan(start, digits), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out var value)
            || value > 0x10FFFF)
        {
            throw Error($"invalid \\{s[i + 1]} escape in a string", i);
        }
        text.Append(char.ConvertFromUtf32(value));
        return start + digits;
    }

    private void LexNumber()
    {
        var s = _source;
        var start = _pos;
        if (s[_pos] == '0' && _pos + 1 < s.Length && char.ToLowerInvariant(s[_pos + 1]) is 'x' or 'o' or 'b')
        {
            var radix = char.ToLowerInvariant(s[_pos + 1]) switch { 'x' => 16, 'o' => 8, _ => 2 };
            _pos += 2;
            var digitsStart = _pos;
            while (_pos < s.Length && (Uri.IsHexDigit(s[_pos]) || s[_pos] == '_'))
            {
                _pos++;
            }
            var digits = s[digitsStart.._pos].Replace("_", "", StringComparison.Ordinal);
            try
            {
                _tokens.Add(new Token(TokenKind.Integer, s[start.._pos], start, Convert.ToInt64(digits, radix)));
            }
            catch (Exception ex) when (ex is FormatException or OverflowException or ArgumentException)
            {
                throw Error("invalid number literal", start);
            }
            return;
        }
        SkipDigits();
        var isFloat = false;
        if (_pos + 1 < s.Length && s[_pos] == '.' && char.IsAsciiDigit(s[_pos + 1]))
        {
            isFloat = true;
            _pos++;
            SkipDigits();
        }
        if (_pos < s.Length && s[_pos] is 'e' or 'E')
        {
            var j = _pos + 1;
            if (j < s.Length && s[j] is '+' or '-')
            {
                j++;
            }
            if (j < s.Length && char.IsAsciiDigit(s[j]))
            {
                isFloat = true;
                _pos = j;
                SkipDigits();
            }
        }
        var text = s[start.._pos].Replace("_", "", StringComparison.Ordinal);
        if (isFloat)
        {
            _tokens.Add(new Token(TokenKind.Float, text, start, double.Parse(text, NumberStyles.Float, CultureInfo.InvariantCulture)));
        }
        else if (long.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var value))
        {
            _tokens.Add(new Token(TokenKind.Integer, text, start, value));
        }
        else
        {
            throw Error("integer literal too large", start);
        }
    }

    private void SkipDigits()
    {
        var s = _source;
        while (_pos < s.Length && (char.IsAsciiDigit(s[_pos]) || (s[_pos] == '_' && _pos + 1 < s.Length && char.IsAsciiDigit(s[_pos + 1]))))
        {
            _pos++;
        }
    }

    private int SkipSpace(int i)
    {
        while (i < _source.Length && char.IsWhiteSpace(_source[i]))
        {
            i++;
        }
        return i;
    }

    private bool At(int i, string text) => i + text.Length <= _source.Length && string.CompareOrdinal(_source, i, text, 0, text.Length) == 0;

    private bool Word(int i, string word) =>
        At(i, word) && (i + word.Length >= _source.Length || !(char.IsLetterOrDigit(_source[i + word.Length]) || _source[i + word.Length] == '_'));
}

/// <summary>Turns offsets of the normalised source back into the author's 1-based line and column.</summary>
internal sealed class SourceMap
{
    private readonly int[] _lineStarts;

    public SourceMap(string source)
    {
        var starts = new List<int> { 0 };
        for (var i = 0; i < source.Length; i++)
        {
            if (source[i] == '\n')
            {
                starts.Add(i + 1);
            }
        }
        _lineStarts = [.. starts];
    }

    public (int Line, int Column) Locate(int position)
    {
        var index = Array.BinarySearch(_lineStarts, position);
        if (index < 0)
        {
            index = ~index - 1;
        }
        return (index + 1, position - _lineStarts[index] + 1);
    }
}
