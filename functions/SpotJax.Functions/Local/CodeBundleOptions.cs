namespace SpotJax.Functions.Local;

/// <summary>Limits on a packed code folder.</summary>
public sealed record CodeBundleOptions
{
    /// <summary>The default <see cref="MaxBytes"/>: 1 GiB of files before compression.</summary>
    public const long DefaultMaxBytes = 1L << 30;

    /// <summary>The environment variable that sets <see cref="MaxBytes"/> for the command line (<c>500MiB</c>, <c>2GiB</c>, bytes).</summary>
    public const string MaxBytesVariable = "SPOTJAX_MAX_CODE_SIZE";

    /// <summary>
    /// Largest total size of the files packed, before compression: a code folder that holds data sets or
    /// checkpoints is refused rather than read into memory and uploaded.
    /// </summary>
    public long MaxBytes { get; init; } = DefaultMaxBytes;

    /// <summary>
    /// The options from <paramref name="option"/> (a command-line value) or else <see cref="MaxBytesVariable"/>,
    /// or an error that names which one is malformed.
    /// </summary>
    public static CodeBundleOptions From(string? option, string? variable, out string? error)
    {
        error = null;
        var (value, source) = option is not null ? (option, "--max-code-size") : (variable, MaxBytesVariable);
        if (string.IsNullOrWhiteSpace(value))
        {
            return new CodeBundleOptions();
        }

        if (!Sizes.TryParse(value, out var bytes) || bytes <= 0)
        {
            error = $"{source} '{value}' is not a size; use bytes or a unit, for example 500MiB or 2GiB";
            return new CodeBundleOptions();
        }

        return new CodeBundleOptions { MaxBytes = bytes };
    }
}
