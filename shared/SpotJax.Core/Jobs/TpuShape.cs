using System.Globalization;

namespace SpotJax.Core.Jobs;

/// <summary>How status shows a job's TPU: <c>v4-32</c>, or with several slices <c>2 x v4-32</c>.</summary>
public static class TpuShape
{
    public static string Of(JobSpec spec)
    {
        ArgumentNullException.ThrowIfNull(spec);
        return spec.Slices == 1 ? spec.Tpu.Type : string.Create(CultureInfo.InvariantCulture, $"{spec.Slices} x {spec.Tpu.Type}");
    }
}
