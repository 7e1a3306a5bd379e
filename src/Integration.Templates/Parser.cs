namespace Integration.Templates;

/// <summary>Jinja2's grammar, statement by statement and operator by operator, into the node tree.</summary>
internal sealed class Parser
{
    private const int MaxNesting = 100;
    private static readonly HashSet<string> CompareOperators = ["==", "!=", "<", "<=", ">", ">="];
    private static readonly HashSet<string> Loading = ["include", "import", "from", "extends", "block", "endblock", "render", "layout"];
    private static readonly HashSet<string> Unsupported = ["autoescape", "do", "break", "continue", "trans"];

    private readonly List<Token> _tokens;
    private readonly SourceMap _map;
    private int _index;
    private int _nesting;

    private Parser(List<Token> tokens, SourceMap map)
    {
        _tokens = tokens;
        _map = map;
    }

    public HashSet<string> Declared { get; } = new(StringComparer.Ordinal) { "loop" };

    public List<(string Name, int Line, int Column)> References { get; } = [];

    public static (Body Body, Parser Parser) Parse(string source, SourceMap map)
    {
        var parser = new Parser(Lexer.Tokenize(source, map), map);
        var body = parser.SubParse([]);
        if (parser.Current.Kind != TokenKind.End)
        {
            throw parser.Error($"unexpected {parser.Current.Describe()}", parser.Current);
        }
        return (body, parser);
    }

    private Token Current => _tokens[_index];

    private Token Peek(int ahead = 1) => _tokens[Math.Min(_index + ahead, _tokens.Count - 1)];

    private Token Next() => _tokens[_index++];

    private (int Line, int Column) Where(Token token) => _map.Locate(token.Position);

    private TemplateSyntaxException Error(string message, Token token)
    {
        var (line, column) = Where(token);
        return new TemplateSyntaxException(message, line, column);
    }

    private Token Expect(TokenKind kind, string? value = null)
    {
        var token = Current;
        if (token.Kind != kind || (value is not null && token.Value != value))
        {
            var wanted = value is not null ? $"'{value}'" : kind switch
            {
                TokenKind.Name => "a name",
                TokenKind.BlockEnd => "end of statement block '%}'",
                TokenKind.VariableEnd => "end of print statement '}}'",
                _ => kind.ToString(),
            };
            throw Error($"expected {wanted}, got {token.Describe()}", token);
        }
        _index++;
        return token;
    }

    private bool SkipOperator(string op)
    {
        if (Current.IsOperator(op))
        {
            _index++;
            return true;
        }
        return false;
    }

    private bool SkipName(string name)
    {
        if (Current.IsName(name))
        {
            _index++;
            return true;
        }
        return false;
    }

    private Body SubParse(string[] ends)
    {
        var nodes = new List<Node>();
        var start = Current;
        while (true)
        {
            var token = Current;
            switch (token.Kind)
            {
                case TokenKind.End:
                    if (ends.Length > 0)
                    {
                        throw Error($"unexpected end of template, expected one of {string.Join(", ", ends.Select(e => $"'{e}'"))}", token);
                    }
                    return MakeBody(nodes, start);
                case TokenKind.Data:
                    _index++;
                    var (line, column) = Where(token);
                    nodes.Add(new TextNode(token.Value, line, column));
                    break;
                case TokenKind.VariableBegin:
                {
                    _index++;
                    var expr = ParseTuple(withCondExpr: true);
                    Expect(TokenKind.VariableEnd);
                    nodes.Add(new OutputNode(expr, expr.Line, expr.Column));
                    break;
                }
                case TokenKind.BlockBegin:
                {
                    var name = Peek();
                    if (name.Kind == TokenKind.Name && ends.Contains(name.Value))
                    {
                        _index++;
                        return MakeBody(nodes, start);
                    }
                    _index++;
                    nodes.Add(ParseStatement(ends));
                    break;
                }
                default:
                    throw Error($"unexpected {token.Describe()}", token);
            }
        }
    }

    private Body MakeBody(List<Node> nodes, Token start)
    {
        var (line, column) = Where(start);
        return new Body([.. nodes], line, column);
    }

    private Node ParseStatement(string[] ends)
    {
        var token = Current;
        if (token.Kind != TokenKind.Name)
        {
            throw Error("tag name expected", token);
        }
        var (line, column) = Where(token);
        _index++;
        switch (token.Value)
        {
            case "if": return ParseIf(line, column);
            case "for": return ParseFor(line, column);
            case "set": return ParseSet(line, column);
            case "macro": return ParseMacro(line, column);
            case "call": return ParseCallBlock(line, column);
            case "filter": return ParseFilterBlock(line, column);
            case "with": return ParseWith(line, column);
        }
        if (Loading.Contains(token.Value))
        {
            throw Error($"the '{token.Value}' tag is not allowed: a message template cannot load other templates", token);
        }
        if (Unsupported.Contains(token.Value))
        {
            throw Error($"the '{token.Value}' tag is not supported in message templates", token);
        }
        if (token.Value.StartsWith("end", StringComparison.Ordinal) || token.Value is "elif" or "else")
        {
            var expected = ends.Length > 0 ? $" Jinja was looking for: {string.Join(", ", ends.Select(e => $"'{e}'"))}." : "";
            throw Error($"Encountered unknown tag '{token.Value}'.{expected}", token);
        }
        throw Error($"Encountered unknown tag '{token.Value}'.", token);
    }

    private void EndTag(string name)
    {
        Expect(TokenKind.Name, name);
        Expect(TokenKind.BlockEnd);
    }

    private Node ParseIf(int line, int column)
    {
        var branches = new List<(Expr, Node)>();
        Node? otherwise = null;
        while (true)
        {
            var test = ParseTuple(withCondExpr: false);
            Expect(TokenKind.BlockEnd);
            var body = SubParse(["elif", "else", "endif"]);
            branches.Add((test, body));
            var tag = Next();
            if (tag.Value == "elif")
            {
                continue;
            }
            if (tag.Value == "else")
            {
                Expect(TokenKind.BlockEnd);
                otherwise = SubParse(["endif"]);
                Expect(TokenKind.Name, "endif");
            }
            Expect(TokenKind.BlockEnd);
            return new IfNode([.. branches], otherwise, line, column);
        }
    }

    private Node ParseFor(int line, int column)
    {
        var target = ParseAssignTarget(namespaceAllowed: false, extraEnd: "in");
        Expect(TokenKind.Name, "in");
        var iterable = ParseTuple(withCondExpr: false, extraEnd: "recursive");
        Expr? condition = null;
        if (SkipName("if"))
        {
            condition = ParseExpression(withCondExpr: true);
        }
        var recursive = SkipName("recursive");
        Expect(TokenKind.BlockEnd);
        var body = SubParse(["endfor", "else"]);
        Node? otherwise = null;
        if (Next().Value == "else")
        {
            Expect(TokenKind.BlockEnd);
            otherwise = SubParse(["endfor"]);
            Expect(TokenKind.Name, "endfor");
        }
        Expect(TokenKind.BlockEnd);
        return new ForNode(target, iterable, condition, body, otherwise, recursive, line, column);
    }

    private Node ParseSet(int line, int column)
    {
        var target = ParseAssignTarget(namespaceAllowed: true);
        if (SkipOperator("="))
        {
            var value = ParseTuple(withCondExpr: true);
            Expect(TokenKind.BlockEnd);
            return new SetNode(target, value, line, column);
        }
        var filters = ParseFilterChain(requireFirst: false);
        Expect(TokenKind.BlockEnd);
        var body = SubParse(["endset"]);
        EndTag("endset");
        return new SetBlockNode(target, body, filters, line, column);
    }

    private Node ParseWith(int line, int column)
    {
        var assignments = new List<(Target, Expr)>();
        while (Current.Kind != TokenKind.BlockEnd)
        {
            if (assignments.Count > 0)
            {
                Expect(TokenKind.Operator, ",");
            }
            var target = ParseAssignTarget(namespaceAllowed: false);
            Expect(TokenKind.Operator, "=");
            assignments.Add((target, ParseExpression(withCondExpr: true)));
        }
        Expect(TokenKind.BlockEnd);
        var body = SubParse(["endwith"]);
        EndTag("endwith");
        return new WithNode([.. assignments], body, line, column);
    }

    private Node ParseFilterBlock(int line, int column)
    {
        var filters = ParseFilterChain(requireFirst: true);
        Expect(TokenKind.BlockEnd);
        var body = SubParse(["endfilter"]);
        EndTag("endfilter");
        return new FilterBlockNode(body, filters, line, column);
    }

    private Node ParseMacro(int line, int column)
    {
        var name = Expect(TokenKind.Name).Value;
        Declared.Add(name);
        var (parameters, defaults) = ParseSignature();
        Expect(TokenKind.BlockEnd);
        var firstReference = References.Count;
        var body = SubParse(["endmacro"]);
        EndTag("endmacro");
        var used = References.Skip(firstReference).Select(r => r.Name).ToHashSet();
        return new MacroNode(name, parameters, defaults, body,
            used.Contains("varargs"), used.Contains("kwargs"), used.Contains("caller"), line, column);
    }

    private Node ParseCallBlock(int line, int column)
    {
        var (parameters, defaults) = Current.IsOperator("(") ? ParseSignature() : ([], []);
        var callToken = Current;
        var call = ParseExpression(withCondExpr: true) as CallExpr ?? throw Error("expected call", callToken);
        Expect(TokenKind.BlockEnd);
        var firstReference = References.Count;
        var body = SubParse(["endcall"]);
        EndTag("endcall");
        var used = References.Skip(firstReference).Select(r => r.Name).ToHashSet();
        return new CallBlockNode(call, parameters, defaults, body, used.Contains("varargs"), used.Contains("kwargs"), line, column);
    }

    private (string[] Names, Expr?[] Defaults) ParseSignature()
    {
        var names = new List<string>();
        var defaults = new List<Expr?>();
        Expect(TokenKind.Operator, "(");
        while (!Current.IsOperator(")"))
        {
            if (names.Count > 0)
            {
                Expect(TokenKind.Operator, ",");
            }
            var token = Expect(TokenKind.Name);
            names.Add(token.Value);
            Declared.Add(token.Value);
            if (SkipOperator("="))
            {
                defaults.Add(ParseExpression(withCondExpr: true));
            }
            else if (defaults.Any(d => d is not null))
            {
                throw Error("non-default argument follows default argument", token);
            }
            else
            {
                defaults.Add(null);
            }
        }
        Expect(TokenKind.Operator, ")");
        Declared.UnionWith(["varargs", "kwargs", "caller"]);
        return ([.. names], [.. defaults]);
    }

    private Target ParseAssignTarget(bool namespaceAllowed, string? extraEnd = null)
    {
        var first = Current;
        var (line, column) = Where(first);
        if (namespaceAllowed && first.Kind == TokenKind.Name && Peek().IsOperator("."))
        {
            _index += 2;
            var attribute = Expect(TokenKind.Name).Value;
            References.Add((first.Value, line, column));
            return new NamespaceTarget(first.Value, attribute, line, column);
        }
        var items = new List<Target>();
        var parenthesised = SkipOperator("(");
        while (true)
        {
            if (items.Count > 0 && !SkipOperator(","))
            {
                break;
            }
            if (Current.IsOperator(")") || Current.Kind == TokenKind.BlockEnd || (extraEnd is not null && Current.IsName(extraEnd)) || Current.IsOperator("="))
            {
                break;
            }
            if (Current.IsOperator("("))
            {
                items.Add(ParseAssignTarget(false, extraEnd));
                continue;
            }
            var token = Expect(TokenKind.Name);
            if (token.Value is "true" or "false" or "none" or "True" or "False" or "None")
            {
                throw Error($"can't assign to '{token.Value}'", token);
            }
            var (l, c) = Where(token);
            Declared.Add(token.Value);
            items.Add(new NameTarget(token.Value, l, c));
        }
        if (parenthesised)
        {
            Expect(TokenKind.Operator, ")");
        }
        if (items.Count == 0)
        {
            throw Error("expected a name to assign to", first);
        }
        return items.Count == 1 && !parenthesised && !_tokens[_index - 1].IsOperator(",") ? items[0] : new TupleTarget([.. items], line, column);
    }

    private FilterExpr[] ParseFilterChain(bool requireFirst)
    {
        var filters = new List<FilterExpr>();
        var first = true;
        while ((first && requireFirst) || SkipOperator("|"))
        {
            first = false;
            filters.Add(ParseFilter(null));
        }
        return [.. filters];
    }

    private Expr ParseTuple(bool withCondExpr, string? extraEnd = null, bool explicitParentheses = false)
    {
        var start = Current;
        var items = new List<Expr>();
        var isTuple = false;
        while (true)
        {
            if (items.Count > 0)
            {
                if (!SkipOperator(","))
                {
                    break;
                }
                isTuple = true;
            }
            if (Current.Kind is TokenKind.VariableEnd or TokenKind.BlockEnd || Current.IsOperator(")") || Current.IsOperator("]")
                || (extraEnd is not null && Current.IsName(extraEnd)) || Current.IsName("if") && items.Count > 0)
            {
                break;
            }
            items.Add(ParseExpression(withCondExpr));
        }
        if (items.Count == 0)
        {
            if (!explicitParentheses)
            {
                throw Error($"expected an expression, got {Current.Describe()}", Current);
            }
            isTuple = true;
        }
        if (!isTuple)
        {
            return items[0];
        }
        var (line, column) = Where(start);
        return new ListExpr([.. items], tuple: true, line, column);
    }

    private Expr ParseExpression(bool withCondExpr)
    {
        if (++_nesting > MaxNesting)
        {
            throw Error("expression nested too deeply", Current);
        }
        try
        {
            return withCondExpr ? ParseCondExpr() : ParseOr();
        }
        finally
        {
            _nesting--;
        }
    }

    private Expr ParseCondExpr()
    {
        var expr = ParseOr();
        while (SkipName("if"))
        {
            var test = ParseOr();
            Expr? otherwise = null;
            if (SkipName("else"))
            {
                otherwise = ParseCondExpr();
            }
            expr = new CondExpr(test, expr, otherwise, expr.Line, expr.Column);
        }
        return expr;
    }

    private Expr ParseOr()
    {
        var left = ParseAnd();
        while (SkipName("or"))
        {
            left = new Binary("or", left, ParseAnd(), left.Line, left.Column);
        }
        return left;
    }

    private Expr ParseAnd()
    {
        var left = ParseNot();
        while (SkipName("and"))
        {
            left = new Binary("and", left, ParseNot(), left.Line, left.Column);
        }
        return left;
    }

    private Expr ParseNot()
    {
        if (Current.IsName("not"))
        {
            var (line, column) = Where(Next());
            Nest();
            try
            {
                return new Unary("not", ParseNot(), line, column);
            }
            finally
            {
                _nesting--;
            }
        }
        return ParseCompare();
    }

    private void Nest()
    {
        if (++_nesting > MaxNesting)
        {
            throw Error("expression nested too deeply", Current);
        }
    }

    private Expr ParseCompare()
    {
        var first = ParseMath1();
        var rest = new List<(string, Expr)>();
        while (true)
        {
            var token = Current;
            if (token.Kind == TokenKind.Operator && CompareOperators.Contains(token.Value))
            {
                _index++;
                rest.Add((token.Value, ParseMath1()));
            }
            else if (token.IsName("in"))
            {
                _index++;
                rest.Add(("in", ParseMath1()));
            }
            else if (token.IsName("not") && Peek().IsName("in"))
            {
                _index += 2;
                rest.Add(("notin", ParseMath1()));
            }
            else
            {
                break;
            }
        }
        return rest.Count == 0 ? first : new Compare(first, [.. rest], first.Line, first.Column);
    }

    private Expr ParseMath1()
    {
        var left = ParseConcat();
        while (Current.IsOperator("+") || Current.IsOperator("-"))
        {
            var op = Next().Value;
            left = new Binary(op, left, ParseConcat(), left.Line, left.Column);
        }
        return left;
    }

    private Expr ParseConcat()
    {
        var parts = new List<Expr> { ParseMath2() };
        while (SkipOperator("~"))
        {
            parts.Add(ParseMath2());
        }
        return parts.Count == 1 ? parts[0] : new Concat([.. parts], parts[0].Line, parts[0].Column);
    }

    private Expr ParseMath2()
    {
        var left = ParsePow();
        while (Current.IsOperator("*") || Current.IsOperator("/") || Current.IsOperator("//") || Current.IsOperator("%"))
        {
            var op = Next().Value;
            left = new Binary(op, left, ParsePow(), left.Line, left.Column);
        }
        return left;
    }

    private Expr ParsePow()
    {
        var left = ParseUnary(withFilter: true);
        while (SkipOperator("**"))
        {
            left = new Binary("**", left, ParseUnary(withFilter: true), left.Line, left.Column);
        }
        return left;
    }

    private Expr ParseUnary(bool withFilter)
    {
        var token = Current;
        Expr node;
        if (token.IsOperator("-") || token.IsOperator("+"))
        {
            _index++;
            var (line, column) = Where(token);
            Nest();
            try
            {
                node = new Unary(token.Value, ParseUnary(withFilter: false), line, column);
            }
            finally
            {
                _nesting--;
            }
        }
        else
        {
            node = ParsePrimary();
        }
        node = ParsePostfix(node);
        return withFilter ? ParseFilterExpr(node) : node;
    }

    private Expr ParsePrimary()
    {
        var token = Current;
        var (line, column) = Where(token);
        switch (token.Kind)
        {
            case TokenKind.Name:
                _index++;
                switch (token.Value)
                {
                    case "true" or "True": return new Const(true, line, column);
                    case "false" or "False": return new Const(false, line, column);
                    case "none" or "None": return new Const(null, line, column);
                }
                References.Add((token.Value, line, column));
                return new NameExpr(token.Value, line, column);
            case TokenKind.String:
            {
                _index++;
                var text = token.Value;
                while (Current.Kind == TokenKind.String)
                {
                    text += Next().Value;
                }
                return new Const(text, line, column);
            }
            case TokenKind.Integer or TokenKind.Float:
                _index++;
                return new Const(token.Number, line, column);
            case TokenKind.Operator when token.Value == "(":
            {
                _index++;
                Nest();
                try
                {
                    var expr = ParseTuple(withCondExpr: true, explicitParentheses: true);
                    Expect(TokenKind.Operator, ")");
                    return expr;
                }
                finally
                {
                    _nesting--;
                }
            }
            case TokenKind.Operator when token.Value == "[":
            {
                _index++;
                Nest();
                try
                {
                    var items = new List<Expr>();
                    while (!Current.IsOperator("]"))
                    {
                        if (items.Count > 0)
                        {
                            Expect(TokenKind.Operator, ",");
                            if (Current.IsOperator("]")) break;
                        }
                        items.Add(ParseExpression(withCondExpr: true));
                    }
                    Expect(TokenKind.Operator, "]");
                    return new ListExpr([.. items], tuple: false, line, column);
                }
                finally
                {
                    _nesting--;
                }
            }
            case TokenKind.Operator when token.Value == "{":
            {
                _index++;
                Nest();
                try
                {
                    var items = new List<(Expr, Expr)>();
                    while (!Current.IsOperator("}"))
                    {
                        if (items.Count > 0)
                        {
                            Expect(TokenKind.Operator, ",");
                            if (Current.IsOperator("}")) break;
                        }
                        var key = ParseExpression(withCondExpr: true);
                        Expect(TokenKind.Operator, ":");
                        items.Add((key, ParseExpression(withCondExpr: true)));
                    }
                    Expect(TokenKind.Operator, "}");
                    return new DictExpr([.. items], line, column);
                }
                finally
                {
                    _nesting--;
                }
            }
            default:
                throw Error($"unexpected {token.Describe()}", token);
        }
    }

    private Expr ParsePostfix(Expr node)
    {
        while (true)
        {
            var token = Current;
            if (token.IsOperator("."))
            {
                _index++;
                var attribute = Current;
                if (attribute.Kind == TokenKind.Name)
                {
                    _index++;
                    node = new GetAttr(node, attribute.Value, node.Line, node.Column);
                }
                else if (attribute.Kind == TokenKind.Integer)
                {
                    _index++;
                    node = new GetItem(node, new Const(attribute.Number, node.Line, node.Column), node.Line, node.Column);
                }
                else
                {
                    throw Error("expected name or number", attribute);
                }
            }
            else if (token.IsOperator("["))
            {
                _index++;
                node = ParseSubscript(node);
            }
            else if (token.IsOperator("("))
            {
                node = new CallExpr(node, ParseCallArgs(), node.Line, node.Column);
            }
            else
            {
                return node;
            }
        }
    }

    private Expr ParseSubscript(Expr node)
    {
        Nest();
        try
        {
            Expr? Part() => Current.IsOperator(":") || Current.IsOperator("]") || Current.IsOperator(",") ? null : ParseExpression(withCondExpr: true);
            var start = Part();
            if (SkipOperator(":"))
            {
                var stop = Part();
                Expr? step = null;
                if (SkipOperator(":"))
                {
                    step = Part();
                }
                Expect(TokenKind.Operator, "]");
                return new SliceExpr(node, start, stop, step, node.Line, node.Column);
            }
            if (start is null)
            {
                throw Error("expected an expression", Current);
            }
            if (Current.IsOperator(","))
            {
                var items = new List<Expr> { start };
                while (SkipOperator(","))
                {
                    if (Current.IsOperator("]")) break;
                    items.Add(ParseExpression(withCondExpr: true));
                }
                start = new ListExpr([.. items], tuple: true, start.Line, start.Column);
            }
            Expect(TokenKind.Operator, "]");
            return new GetItem(node, start, node.Line, node.Column);
        }
        finally
        {
            _nesting--;
        }
    }

    private CallArgs ParseCallArgs()
    {
        Expect(TokenKind.Operator, "(");
        var positional = new List<Expr>();
        var named = new List<(string, Expr)>();
        Expr? star = null;
        Expr? doubleStar = null;
        Nest();
        try
        {
            while (!Current.IsOperator(")"))
            {
                if (positional.Count + named.Count > 0 || star is not null || doubleStar is not null)
                {
                    Expect(TokenKind.Operator, ",");
                    if (Current.IsOperator(")")) break;
                }
                if (SkipOperator("**"))
                {
                    doubleStar = ParseExpression(withCondExpr: true);
                }
                else if (SkipOperator("*"))
                {
                    star = ParseExpression(withCondExpr: true);
                }
                else if (Current.Kind == TokenKind.Name && Peek().IsOperator("="))
                {
                    var name = Next().Value;
                    _index++;
                    named.Add((name, ParseExpression(withCondExpr: true)));
                }
                else
                {
                    if (named.Count > 0)
                    {
                        throw Error("positional argument follows keyword argument", Current);
                    }
                    positional.Add(ParseExpression(withCondExpr: true));
                }
            }
            Expect(TokenKind.Operator, ")");
        }
        finally
        {
            _nesting--;
        }
        return new CallArgs([.. positional], [.. named], star, doubleStar);
    }

    private Expr ParseFilterExpr(Expr node)
    {
        while (true)
        {
            if (SkipOperator("|"))
            {
                node = ParseFilter(node);
            }
            else if (Current.IsName("is"))
            {
                _index++;
                node = ParseTest(node);
            }
            else if (Current.IsOperator("("))
            {
                node = new CallExpr(node, ParseCallArgs(), node.Line, node.Column);
            }
            else
            {
                return node;
            }
        }
    }

    private string DottedName(out Token first)
    {
        first = Expect(TokenKind.Name);
        var name = first.Value;
        while (Current.IsOperator(".") && Peek().Kind == TokenKind.Name)
        {
            _index++;
            name += "." + Next().Value;
        }
        return name;
    }

    private FilterExpr ParseFilter(Expr? target)
    {
        var name = DottedName(out var token);
        if (!Filters.All.TryGetValue(name, out var function))
        {
            throw Error($"No filter named '{name}'.", token);
        }
        var args = Current.IsOperator("(") ? ParseCallArgs() : CallArgs.Empty;
        var (line, column) = Where(token);
        return new FilterExpr(target, name, function, args, target?.Line ?? line, target?.Column ?? column);
    }

    private Expr ParseTest(Expr target)
    {
        var negate = SkipName("not");
        var name = DottedName(out var token);
        if (!Tests.All.TryGetValue(name, out var function))
        {
            throw Error($"No test named '{name}'.", token);
        }
        CallArgs args;
        if (Current.IsOperator("("))
        {
            args = ParseCallArgs();
        }
        else if (Current.Kind is TokenKind.Name or TokenKind.String or TokenKind.Integer or TokenKind.Float
            || Current.IsOperator("[") || Current.IsOperator("{") || Current.IsOperator("("))
        {
            if (Current.Kind == TokenKind.Name && Current.Value is "else" or "or" or "and" or "if" or "in" or "is" or "not" or "recursive")
            {
                args = CallArgs.Empty;
            }
            else
            {
                var arg = ParsePostfix(ParsePrimary());
                args = new CallArgs([arg], [], null, null);
            }
        }
        else
        {
            args = CallArgs.Empty;
        }
        return new TestExpr(target, name, function, args, negate, target.Line, target.Column);
    }
}
