using System.Text;

namespace SpotJax.Local.Storage;

/// <summary>
/// The object names the folder store accepts: Cloud Storage's rules, plus those that keep a name
/// inside the folder and one name to one file.
/// </summary>
internal static class ObjectNames
{
    /// <summary>Cloud Storage's limit on an object name, in UTF-8 bytes.</summary>
    public const int MaxBytes = 1024;

    /// <summary>Why <paramref name="name"/> is not a valid object name, or null when it is.</summary>
    public static string? Problem(string? name)
    {
        if (string.IsNullOrEmpty(name))
        {
            return "is empty";
        }

        if (name.AsSpan().IndexOfAny('\0', '\r', '\n') >= 0)
        {
            return "contains NUL, CR or LF";
        }

        if (name.Contains('\\', StringComparison.Ordinal))
        {
            return "contains a backslash";
        }

        if (name.StartsWith('/'))
        {
            return "starts with '/'";
        }

        if (Encoding.UTF8.GetByteCount(name) > MaxBytes)
        {
            return $"is longer than {MaxBytes} bytes";
        }

        foreach (var segment in name.Split('/'))
        {
            if (segment.Length == 0)
            {
                return "has an empty segment";
            }

            if (segment is "." or "..")
            {
                return "has a '.' or '..' segment";
            }

            if (segment.StartsWith('.'))
            {
                // The scanner ignores such files: they are where writers stage temporary files.
                return "has a segment starting with '.', which the local bucket reserves for temporary files";
            }
        }

        return null;
    }

    /// <summary>Throws <see cref="ArgumentException"/> when <paramref name="name"/> is not valid.</summary>
    public static void Validate(string? name, string parameterName)
    {
        if (Problem(name) is { } problem)
        {
            throw new ArgumentException($"object name '{name}' {problem}", parameterName);
        }
    }

    /// <summary>A list prefix is empty, or a valid name that may end with '/'.</summary>
    public static void ValidatePrefix(string? prefix, string parameterName)
    {
        ArgumentNullException.ThrowIfNull(prefix, parameterName);
        if (prefix.Length > 0)
        {
            Validate(prefix.EndsWith('/') ? prefix[..^1] : prefix, parameterName);
        }
    }
}
