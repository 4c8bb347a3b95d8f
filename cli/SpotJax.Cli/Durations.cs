using System.Globalization;
using System.Text.RegularExpressions;

namespace SpotJax.Cli;

/// <summary>Durations written as people write them on a command line: <c>500ms</c>, <c>3s</c>, <c>1.5m</c>, <c>2h</c>.</summary>
public static partial class Durations
{
    public static bool TryParse(string text, out TimeSpan duration)
    {
        duration = default;
        var match = Pattern().Match(text.Trim());
        if (!match.Success || !double.TryParse(match.Groups[1].Value, NumberStyles.Float, CultureInfo.InvariantCulture, out var value))
        {
            return false;
        }

        duration = match.Groups[2].Value switch
        {
            "ms" => TimeSpan.FromMilliseconds(value),
            "m" => TimeSpan.FromMinutes(value),
            "h" => TimeSpan.FromHours(value),
            _ => TimeSpan.FromSeconds(value),
        };
        return duration >= TimeSpan.Zero && duration <= TimeSpan.FromDays(7);
    }

    [GeneratedRegex(@"^([0-9]+(?:\.[0-9]+)?)(ms|s|m|h)?$")]
    private static partial Regex Pattern();
}
