using System.Text;
using System.Text.RegularExpressions;

namespace SpotJax.Tests.Infra;

/// <summary>
/// Just enough HCL to read infra/ without Terraform (whose providers cannot be downloaded here):
/// blocks, <c>key = value</c> entries of bodies and object constructors, string and list literals.
/// Strings (with <c>${...}</c> interpolations) and comments are skipped when matching brackets, so a
/// brace in a comment or a template never ends a block early.
/// </summary>
public static partial class Hcl
{
    /// <summary>One <c>key = value</c> entry (value is the raw text) or one block (<see cref="Labels"/>, body in Value).</summary>
    public sealed record Entry(string Key, string Value, bool IsBlock, IReadOnlyList<string> Labels);

    /// <summary>The entries of a body or of an object constructor's inside, in order.</summary>
    public static IReadOnlyList<Entry> Entries(string body)
    {
        var entries = new List<Entry>();
        var i = 0;
        while (true)
        {
            i = SkipSpaceAndComments(body, i, stopAtNewline: false);
            if (i >= body.Length)
            {
                return entries;
            }

            var (key, afterKey) = ReadKey(body, i);
            var labels = new List<string>();
            var j = SkipSpaceAndComments(body, afterKey, stopAtNewline: true);
            while (j < body.Length && body[j] == '"')
            {
                var end = SkipString(body, j);
                labels.Add(body[(j + 1)..(end - 1)]);
                j = SkipSpaceAndComments(body, end, stopAtNewline: true);
            }

            if (j < body.Length && body[j] == '{')
            {
                var end = MatchBracket(body, j);
                entries.Add(new Entry(key, body[(j + 1)..(end - 1)], IsBlock: true, labels));
                i = end;
                continue;
            }

            if (j >= body.Length || (body[j] != '=' && body[j] != ':'))
            {
                throw new FormatException($"expected '=' or a block after '{key}' near: {Excerpt(body, j)}");
            }

            j = SkipSpaceAndComments(body, j + 1, stopAtNewline: true);
            var valueEnd = ValueEnd(body, j);
            entries.Add(new Entry(key, body[j..valueEnd].Trim().TrimEnd(','), IsBlock: false, labels));
            i = valueEnd;
        }
    }

    /// <summary>The entries of an object constructor <c>{ ... }</c> (the braces included in <paramref name="value"/>).</summary>
    public static IReadOnlyList<Entry> Object(string value)
    {
        var text = value.Trim();
        if (!text.StartsWith('{') || MatchBracket(text, 0) != text.Length)
        {
            throw new FormatException($"not an object constructor: {Excerpt(text, 0)}");
        }

        return Entries(text[1..^1]);
    }

    /// <summary>The single entry <paramref name="key"/> of a body; fails when it is missing or repeated.</summary>
    public static string Value(IReadOnlyList<Entry> entries, string key) =>
        entries.Where(e => e.Key == key && !e.IsBlock).Select(e => e.Value).ToList() switch
        {
            [var only] => only,
            [] => throw new KeyNotFoundException($"no '{key}' entry"),
            _ => throw new InvalidOperationException($"'{key}' is set more than once"),
        };

    public static IReadOnlyList<Entry> Blocks(IReadOnlyList<Entry> entries, string type) =>
        entries.Where(e => e.IsBlock && e.Key == type).ToList();

    /// <summary>The value of a string literal without interpolation (<c>"spotjax-jobs"</c>); null for anything else.</summary>
    public static string? StringLiteral(string value)
    {
        var text = value.Trim();
        return text.Length >= 2 && text[0] == '"' && SkipString(text, 0) == text.Length && !text.Contains("${", StringComparison.Ordinal)
            ? text[1..^1]
            : null;
    }

    /// <summary>The string literals of a list or tuple <c>[ "a", "b" ]</c>.</summary>
    public static IReadOnlyList<string> StringList(string value)
    {
        var text = value.Trim();
        if (!text.StartsWith('[') || MatchBracket(text, 0) != text.Length)
        {
            throw new FormatException($"not a list: {Excerpt(text, 0)}");
        }

        return Quoted().Matches(StripComments(text)).Select(m => m.Groups[1].Value).ToList();
    }

    /// <summary>The text without comments (strings kept), for searches that must not match a comment.</summary>
    public static string StripComments(string text)
    {
        var result = new StringBuilder(text.Length);
        var i = 0;
        while (i < text.Length)
        {
            if (text[i] == '"')
            {
                var end = SkipString(text, i);
                result.Append(text, i, end - i);
                i = end;
            }
            else if (IsCommentStart(text, i))
            {
                i = SkipComment(text, i);
                result.Append('\n');
            }
            else
            {
                result.Append(text[i]);
                i++;
            }
        }

        return result.ToString();
    }

    /// <summary>The index just past the bracket that closes the one at <paramref name="open"/>.</summary>
    public static int MatchBracket(string text, int open)
    {
        var closers = new Stack<char>();
        var i = open;
        while (i < text.Length)
        {
            var c = text[i];
            if (c == '"')
            {
                i = SkipString(text, i);
                continue;
            }

            if (IsCommentStart(text, i))
            {
                i = SkipComment(text, i);
                continue;
            }

            switch (c)
            {
                case '{':
                    closers.Push('}');
                    break;
                case '[':
                    closers.Push(']');
                    break;
                case '(':
                    closers.Push(')');
                    break;
                case '}' or ']' or ')':
                    if (closers.Count == 0 || closers.Pop() != c)
                    {
                        throw new FormatException($"unbalanced '{c}' near: {Excerpt(text, i)}");
                    }

                    if (closers.Count == 0)
                    {
                        return i + 1;
                    }

                    break;
            }

            i++;
        }

        throw new FormatException($"unclosed bracket at: {Excerpt(text, open)}");
    }

    /// <summary>The index just past the string literal (with its interpolations) that starts at <paramref name="start"/>.</summary>
    private static int SkipString(string text, int start)
    {
        var i = start + 1;
        while (i < text.Length)
        {
            switch (text[i])
            {
                case '\\':
                    i += 2;
                    continue;
                case '"':
                    return i + 1;
                case '$' or '%' when i + 1 < text.Length && text[i + 1] == '{':
                    // An interpolation: an expression that may hold strings of its own.
                    i = MatchBracket(text, i + 1);
                    continue;
                default:
                    i++;
                    continue;
            }
        }

        throw new FormatException($"unterminated string at: {Excerpt(text, start)}");
    }

    private static bool IsCommentStart(string text, int i) =>
        text[i] == '#' || (text[i] == '/' && i + 1 < text.Length && (text[i + 1] == '/' || text[i + 1] == '*'));

    private static int SkipComment(string text, int i)
    {
        if (text[i] == '/' && text[i + 1] == '*')
        {
            var end = text.IndexOf("*/", i + 2, StringComparison.Ordinal);
            return end < 0 ? text.Length : end + 2;
        }

        var newline = text.IndexOf('\n', i);
        return newline < 0 ? text.Length : newline;
    }

    private static int SkipSpaceAndComments(string text, int i, bool stopAtNewline)
    {
        while (i < text.Length)
        {
            if (IsCommentStart(text, i))
            {
                i = SkipComment(text, i);
            }
            else if (char.IsWhiteSpace(text[i]) && !(stopAtNewline && text[i] == '\n'))
            {
                i++;
            }
            else
            {
                return i;
            }
        }

        return i;
    }

    private static (string Key, int End) ReadKey(string text, int i)
    {
        if (text[i] == '"')
        {
            var end = SkipString(text, i);
            return (text[(i + 1)..(end - 1)], end);
        }

        var start = i;
        while (i < text.Length && (char.IsLetterOrDigit(text[i]) || text[i] is '_' or '-'))
        {
            i++;
        }

        if (i == start)
        {
            throw new FormatException($"expected a name near: {Excerpt(text, start)}");
        }

        return (text[start..i], i);
    }

    /// <summary>A value runs to the end of its line, brackets and strings (which may span lines) included.</summary>
    private static int ValueEnd(string text, int i)
    {
        while (i < text.Length && text[i] != '\n')
        {
            if (text[i] == '"')
            {
                i = SkipString(text, i);
            }
            else if (text[i] is '{' or '[' or '(')
            {
                i = MatchBracket(text, i);
            }
            else if (IsCommentStart(text, i))
            {
                return i;
            }
            else
            {
                i++;
            }
        }

        return i;
    }

    private static string Excerpt(string text, int at) => text.Substring(Math.Min(at, text.Length), Math.Min(60, Math.Max(0, text.Length - at))).ReplaceLineEndings(" ");

    [GeneratedRegex("\"([^\"$]*)\"")]
    private static partial Regex Quoted();
}
