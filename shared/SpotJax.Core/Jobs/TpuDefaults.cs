namespace SpotJax.Core.Jobs;

/// <summary>Per-generation defaults for fields a job document may leave out.</summary>
public static class TpuDefaults
{
    /// <summary>
    /// The TPU software version for an accelerator type such as <c>v4-8</c> or <c>v6e-16</c>:
    /// the plain Ubuntu base image up to v4, the generation's own alpha image from v5 on
    /// (those generations have no <c>tpu-ubuntu2204-base</c>).
    /// </summary>
    /// <exception cref="ArgumentException">The type is not of a known generation.</exception>
    public static string RuntimeVersion(string type)
    {
        ArgumentNullException.ThrowIfNull(type);
        var dash = type.IndexOf('-', StringComparison.Ordinal);
        var generation = dash < 0 ? type : type[..dash];
        return generation switch
        {
            "v2" or "v3" or "v4" => "tpu-ubuntu2204-base",
            "v5litepod" => "v2-alpha-tpuv5-lite",
            "v5p" => "v2-alpha-tpuv5",
            "v6e" => "v2-alpha-tpuv6e",
            _ => throw new ArgumentException($"unknown TPU generation in '{type}'", nameof(type)),
        };
    }
}
