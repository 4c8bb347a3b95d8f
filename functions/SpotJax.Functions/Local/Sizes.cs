using System.Globalization;
using System.Text.RegularExpressions;

namespace SpotJax.Functions.Local;

/// <summary>Byte sizes as people write and read them: <c>500MiB</c>, <c>1.5 GB</c>, <c>2048</c>.</summary>
public static partial class Sizes
{
    /// <summary>Reads a size: a number with an optional unit (B, K/KB/KiB, M/MB/MiB, G/GB/GiB, T...; decimal units are powers of 1000).</summary>
    public static bool TryParse(string text, out long bytes)
    {
        ArgumentNullException.ThrowIfNull(text);
        bytes = 0;
        var match = SizePattern().Match(text.Trim());
        if (!match.Success || !double.TryParse(match.Groups["n"].Value, NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var number))
        {
            return false;
        }

        var unit = match.Groups["u"].Value.ToUpperInvariant();
        var binary = unit.Length <= 1 || unit.EndsWith("IB", StringComparison.Ordinal);
        var power = unit.Length == 0 ? 0 : "BKMGT".IndexOf(unit[0], StringComparison.Ordinal);
        var value = number * Math.Pow(binary ? 1024 : 1000, power);
        if (power < 0 || value >= long.MaxValue)
        {
            return false;
        }

        bytes = (long)value;
        return true;
    }

    /// <summary>A size for people: <c>512 B</c>, <c>34.5 KiB</c>, <c>1.2 GiB</c>.</summary>
    public static string Format(long bytes)
    {
        string[] units = ["B", "KiB", "MiB", "GiB", "TiB"];
        double value = bytes;
        var unit = 0;
        while (value >= 1024 && unit < units.Length - 1)
        {
            value /= 1024;
            unit++;
        }

        return unit == 0
            ? string.Create(CultureInfo.InvariantCulture, $"{bytes} B")
            : string.Create(CultureInfo.InvariantCulture, $"{value:0.#} {units[unit]}");
    }

    [GeneratedRegex(@"^(?<n>[0-9]+(?:\.[0-9]+)?)\s*(?<u>(?:[KMGT](?:i?B)?|B)?)$", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant)]
    private static partial Regex SizePattern();
}
