using System.Globalization;

namespace SpotJax.Core.Jobs;

/// <summary>
/// How many TPU chips an accelerator type holds, which is what Cloud TPU prices per hour. The number after the
/// dash counts TensorCores for v2, v3, v4 and v5p, with two TensorCores per chip (a <c>v4-32</c> is 16 chips:
/// https://cloud.google.com/tpu/docs/v4 "Each TPU v4 chip contains two TensorCores"; the v5p table of
/// https://cloud.google.com/tpu/docs/v5p lists cores and chips, two cores a chip; v2 and v3 likewise, per
/// https://cloud.google.com/tpu/docs/system-architecture-tpu-vm), and counts chips for v5e (<c>v5litepod</c>)
/// and v6e (https://cloud.google.com/tpu/docs/supported-versions: the v5e type is <c>v$VERSION-$CHIP_COUNT</c>;
/// https://cloud.google.com/tpu/docs/v6e, one TensorCore per chip).
/// </summary>
public static class TpuChips
{
    /// <summary>The generation of a type: <c>v4</c> for <c>v4-32</c>, <c>v5litepod</c> for <c>v5litepod-16</c>.</summary>
    public static string Generation(string type)
    {
        ArgumentNullException.ThrowIfNull(type);
        var dash = type.IndexOf('-', StringComparison.Ordinal);
        return dash < 0 ? type : type[..dash];
    }

    /// <summary>
    /// The chips a job's attempt is billed for, every slice's (<see cref="JobSpec.Slices"/> x the type's): the one
    /// place cost and budget take them from. Null when the type's chips are unknown.
    /// </summary>
    public static int? Billed(JobSpec spec)
    {
        ArgumentNullException.ThrowIfNull(spec);
        return Of(spec.Tpu.Type) * spec.Slices;
    }

    /// <summary>The chips of one slice of <paramref name="type"/>; null for a type of no known generation or without a size.</summary>
    public static int? Of(string type)
    {
        ArgumentNullException.ThrowIfNull(type);
        var dash = type.IndexOf('-', StringComparison.Ordinal);
        if (dash < 0 || !int.TryParse(type.AsSpan(dash + 1), NumberStyles.None, CultureInfo.InvariantCulture, out var size) || size <= 0)
        {
            return null;
        }

        return Generation(type) switch
        {
            "v2" or "v3" or "v4" or "v5p" when size % 2 == 0 => size / 2,
            "v5litepod" or "v6e" => size,
            _ => null,
        };
    }
}
