using System.Text;
using System.Text.RegularExpressions;

namespace SpotJax.Functions.Local;

/// <summary>
/// The rules of the <c>.gitignore</c> files met while walking a code folder, as git reads them:
/// comments and blank lines skipped, <c>!</c> re-includes, a trailing <c>/</c> matches folders only,
/// a pattern with a <c>/</c> before its end is anchored to its file's folder, <c>*</c>, <c>?</c>,
/// <c>[...]</c> and <c>**</c> glob; the last matching rule wins.
/// </summary>
public sealed class GitIgnore
{
    private readonly IReadOnlyList<Rule> rules;

    private GitIgnore(IReadOnlyList<Rule> rules) => this.rules = rules;

    /// <summary>No rules.</summary>
    public static GitIgnore Empty { get; } = new([]);

    /// <summary>These rules plus those of <paramref name="text"/>, a <c>.gitignore</c> in <paramref name="folder"/> ("" for the root, else <c>a/b</c>).</summary>
    public GitIgnore With(string folder, string text)
    {
        ArgumentNullException.ThrowIfNull(folder);
        ArgumentNullException.ThrowIfNull(text);
        var added = new List<Rule>(rules);
        foreach (var raw in text.Split('\n'))
        {
            var line = raw.TrimEnd('\r', ' ', '\t');
            if (line.Length == 0 || line.StartsWith('#'))
            {
                continue;
            }

            var negated = line.StartsWith('!');
            if (negated || line.StartsWith("\\!", StringComparison.Ordinal) || line.StartsWith("\\#", StringComparison.Ordinal))
            {
                line = line[1..];
            }

            var folderOnly = line.EndsWith('/');
            line = line.TrimEnd('/');
            if (line.Length == 0)
            {
                continue;
            }

            var anchored = line.Contains('/', StringComparison.Ordinal);
            var body = Glob(line.TrimStart('/'));
            var pattern = anchored ? $"^{body}$" : $"^(?:.*/)?{body}$";
            added.Add(new Rule(folder, new Regex(pattern, RegexOptions.CultureInvariant | RegexOptions.Singleline), negated, folderOnly));
        }

        return new GitIgnore(added);
    }

    /// <summary>Whether <paramref name="path"/> (relative to the walk's root, with <c>/</c>) is ignored.</summary>
    public bool Ignores(string path, bool isFolder)
    {
        var ignored = false;
        foreach (var rule in rules)
        {
            if (rule.FolderOnly && !isFolder)
            {
                continue;
            }

            string relative;
            if (rule.Folder.Length == 0)
            {
                relative = path;
            }
            else if (path.StartsWith(rule.Folder + "/", StringComparison.Ordinal))
            {
                relative = path[(rule.Folder.Length + 1)..];
            }
            else
            {
                continue;
            }

            if (rule.Pattern.IsMatch(relative))
            {
                ignored = !rule.Negated;
            }
        }

        return ignored;
    }

    private static string Glob(string glob)
    {
        var regex = new StringBuilder();
        for (var i = 0; i < glob.Length; i++)
        {
            var c = glob[i];
            if (c == '*' && i + 1 < glob.Length && glob[i + 1] == '*')
            {
                var slashAfter = i + 2 < glob.Length && glob[i + 2] == '/';
                // "**/" is any number of folders (none included); a "**" elsewhere is anything.
                regex.Append(slashAfter ? "(?:.*/)?" : ".*");
                i += slashAfter ? 2 : 1;
            }
            else if (c == '*')
            {
                regex.Append("[^/]*");
            }
            else if (c == '?')
            {
                regex.Append("[^/]");
            }
            else if (c == '[' && glob.IndexOf(']', i + 1) is var close and > 0)
            {
                var set = glob[(i + 1)..close];
                regex.Append('[').Append(set.StartsWith('!') ? "^" + set[1..] : set.Replace("\\", "\\\\", StringComparison.Ordinal)).Append(']');
                i = close;
            }
            else if (c == '\\' && i + 1 < glob.Length)
            {
                regex.Append(Regex.Escape(glob[++i].ToString()));
            }
            else
            {
                regex.Append(Regex.Escape(c.ToString()));
            }
        }

        return regex.ToString();
    }

    private sealed record Rule(string Folder, Regex Pattern, bool Negated, bool FolderOnly);
}
