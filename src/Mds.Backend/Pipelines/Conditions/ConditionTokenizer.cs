using System.Text;

namespace Mds.Backend.Pipelines.Conditions;

internal enum TokenKind
{
    End,
    Path,
    Number,
    String,
    LeftParen,
    RightParen,
    LeftBracket,
    RightBracket,
    Comma,
    Colon,
    Minus,
    Equal,
    NotEqual,
    Less,
    LessOrEqual,
    Greater,
    GreaterOrEqual,
    And,
    Or,
    Not,
    In,
    True,
    False,
}

/// <summary>One token: <see cref="Text"/> is the source text, or a string literal's unescaped value.</summary>
internal readonly record struct Token(TokenKind Kind, int Position, string Text)
{
    public string Describe() => Kind switch
    {
        TokenKind.End => "end of condition",
        TokenKind.String => "string \"" + Text + "\"",
        _ => "'" + Text + "'",
    };
}

/// <summary>
/// Splits a condition into tokens. A path is a dotted run of identifier characters (letters, digits, '_', '-', '.')
/// starting with a letter or '_': <c>step.outputs.tensor</c> is one token, which the parser splits; a path without
/// dots that spells a keyword is that keyword.
/// </summary>
internal static class ConditionTokenizer
{
    public static List<Token> Tokenize(string text)
    {
        var tokens = new List<Token>();
        int i = 0;
        while (true)
        {
            while (i < text.Length && char.IsWhiteSpace(text[i]))
            {
                i++;
            }

            if (i >= text.Length)
            {
                tokens.Add(new Token(TokenKind.End, text.Length, ""));
                return tokens;
            }

            char c = text[i];
            int start = i;
            if (char.IsLetter(c) || c == '_')
            {
                while (i < text.Length && (IsNameChar(text[i]) || text[i] == '.'))
                {
                    i++;
                }

                string path = text[start..i];
                tokens.Add(new Token(Keyword(path), start, path));
                continue;
            }

            if (char.IsAsciiDigit(c))
            {
                i = ScanNumber(text, i);
                tokens.Add(new Token(TokenKind.Number, start, text[start..i]));
                continue;
            }

            if (c is '"' or '\'')
            {
                tokens.Add(new Token(TokenKind.String, start, ScanString(text, ref i)));
                continue;
            }

            char next = i + 1 < text.Length ? text[i + 1] : '\0';
            (TokenKind kind, int length) = (c, next) switch
            {
                ('(', _) => (TokenKind.LeftParen, 1),
                (')', _) => (TokenKind.RightParen, 1),
                ('[', _) => (TokenKind.LeftBracket, 1),
                (']', _) => (TokenKind.RightBracket, 1),
                (',', _) => (TokenKind.Comma, 1),
                (':', _) => (TokenKind.Colon, 1),
                ('-', _) => (TokenKind.Minus, 1),
                ('=', '=') => (TokenKind.Equal, 2),
                ('!', '=') => (TokenKind.NotEqual, 2),
                ('!', _) => (TokenKind.Not, 1),
                ('<', '=') => (TokenKind.LessOrEqual, 2),
                ('<', _) => (TokenKind.Less, 1),
                ('>', '=') => (TokenKind.GreaterOrEqual, 2),
                ('>', _) => (TokenKind.Greater, 1),
                ('&', '&') => (TokenKind.And, 2),
                ('|', '|') => (TokenKind.Or, 2),
                ('=', _) => throw Error($"unexpected '=' at column {start + 1}; did you mean '=='?", start),
                ('&', _) => throw Error($"unexpected '&' at column {start + 1}; did you mean '&&'?", start),
                ('|', _) => throw Error($"unexpected '|' at column {start + 1}; did you mean '||'?", start),
                _ => throw Error($"unexpected character '{c}' at column {start + 1}", start),
            };
            i += length;
            tokens.Add(new Token(kind, start, text.Substring(start, length)));
        }
    }

    /// <summary>Letters, digits, '_' and '-': what a step or tensor name is made of.</summary>
    public static bool IsNameChar(char c) => char.IsLetterOrDigit(c) || c is '_' or '-';

    private static TokenKind Keyword(string path) => path switch
    {
        "and" => TokenKind.And,
        "or" => TokenKind.Or,
        "not" => TokenKind.Not,
        "in" => TokenKind.In,
        "true" => TokenKind.True,
        "false" => TokenKind.False,
        _ => TokenKind.Path,
    };

    // digits ('.' digits)? ([eE] [+-]? digits)?, and no name character straight after.
    private static int ScanNumber(string text, int i)
    {
        int start = i;
        i = SkipDigits(text, i);
        if (i < text.Length && text[i] == '.')
        {
            int fraction = SkipDigits(text, i + 1);
            if (fraction == i + 1)
            {
                throw Malformed(text, start, fraction);
            }

            i = fraction;
        }

        if (i < text.Length && text[i] is 'e' or 'E')
        {
            int exponent = i + 1;
            if (exponent < text.Length && text[exponent] is '+' or '-')
            {
                exponent++;
            }

            int end = SkipDigits(text, exponent);
            if (end == exponent)
            {
                throw Malformed(text, start, end);
            }

            i = end;
        }

        if (i < text.Length && (IsNameChar(text[i]) || text[i] == '.'))
        {
            throw Malformed(text, start, i + 1);
        }

        return i;
    }

    private static int SkipDigits(string text, int i)
    {
        while (i < text.Length && char.IsAsciiDigit(text[i]))
        {
            i++;
        }

        return i;
    }

    private static ConditionSyntaxException Malformed(string text, int start, int end) =>
        Error($"malformed number '{text[start..Math.Min(end, text.Length)]}' at column {start + 1}", start);

    private static string ScanString(string text, ref int i)
    {
        int start = i;
        char quote = text[i++];
        var value = new StringBuilder();
        while (i < text.Length)
        {
            char c = text[i++];
            if (c == quote)
            {
                return value.ToString();
            }

            if (c != '\\')
            {
                value.Append(c);
                continue;
            }

            if (i >= text.Length)
            {
                break;
            }

            char escaped = text[i++];
            value.Append(escaped switch
            {
                '\\' or '\'' or '"' => escaped,
                'n' => '\n',
                't' => '\t',
                'r' => '\r',
                _ => throw Error($"unknown escape '\\{escaped}' at column {i - 1}; use \\\\, \\', \\\", \\n, \\t or \\r", i - 2),
            });
        }

        throw Error($"unterminated string starting at column {start + 1}", start);
    }

    public static ConditionSyntaxException Error(string message, int position) => new(message, position);
}
