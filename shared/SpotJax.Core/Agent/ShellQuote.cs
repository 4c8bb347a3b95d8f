namespace SpotJax.Core.Agent;

/// <summary>
/// The one way a value reaches a remote POSIX shell (<c>sh</c>, <c>bash</c>, <c>dash</c>): as a
/// single-quoted word, in which the shell expands nothing. Job values themselves travel in the
/// agent's JSON configuration; what is quoted here are the paths and words of the launch command.
/// </summary>
public static class ShellQuote
{
    /// <summary>
    /// <paramref name="value"/> as one shell word: wrapped in single quotes, each single quote
    /// written as <c>'\''</c>. Every value is quoted, even a harmless one, so no character class is
    /// ever judged safe by mistake.
    /// </summary>
    /// <exception cref="ArgumentException">The value holds a NUL character, which no shell word can carry.</exception>
    public static string Word(string value)
    {
        ArgumentNullException.ThrowIfNull(value);
        if (value.Contains('\0', StringComparison.Ordinal))
        {
            throw new ArgumentException("a shell word cannot hold a NUL character", nameof(value));
        }

        return "'" + value.Replace("'", @"'\''", StringComparison.Ordinal) + "'";
    }

    /// <summary>The words quoted one by one and joined with spaces: a command line that runs exactly <paramref name="words"/>.</summary>
    public static string Command(IEnumerable<string> words)
    {
        ArgumentNullException.ThrowIfNull(words);
        return string.Join(' ', words.Select(Word));
    }
}
