using System.Globalization;
using System.Text.RegularExpressions;

namespace SpotJax.TpuSimulation;

/// <summary>
/// How many worker hosts a slice of an accelerator type has. Only the simulator does this arithmetic; the
/// control plane counts the node's <c>networkEndpoints</c>.
/// </summary>
internal static partial class AcceleratorTopology
{
    /// <summary>The worker count, or null when the type is not one the v2 API offers.</summary>
    public static int? Workers(string? acceleratorType)
    {
        if (acceleratorType is null || TypePattern().Match(acceleratorType) is not { Success: true } match
            || !int.TryParse(match.Groups["size"].ValueSpan, NumberStyles.None, CultureInfo.InvariantCulture, out var size)
            || size < 1)
        {
            return null;
        }

        // v2-v4 and v5p count TensorCores (8 per host); v5e and v6e count chips (4 per host, 8 on a single host).
        return match.Groups["generation"].Value switch
        {
            "v5litepod" or "v6e" => size <= 8 ? 1 : size / 4,
            _ => Math.Max(1, size / 8),
        };
    }

    [GeneratedRegex("^(?<generation>v2|v3|v4|v5p|v5litepod|v6e)-(?<size>[0-9]{1,5})$", RegexOptions.CultureInvariant)]
    private static partial Regex TypePattern();
}
