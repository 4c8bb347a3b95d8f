using System.Text.RegularExpressions;

namespace SpotJax.Ssh;

/// <summary>The parts of a full node name, <c>projects/P/locations/ZONE/nodes/NODE</c>.</summary>
public sealed partial record TpuNodeName(string Project, string Zone, string NodeId)
{
    /// <exception cref="ArgumentException">The name does not have that shape.</exception>
    public static TpuNodeName Parse(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        var match = Pattern().Match(name);
        return match.Success
            ? new TpuNodeName(match.Groups["project"].Value, match.Groups["zone"].Value, match.Groups["node"].Value)
            : throw new ArgumentException($"node name '{name}' is not projects/P/locations/ZONE/nodes/NODE", nameof(name));
    }

    [GeneratedRegex("^projects/(?<project>[^/]+)/locations/(?<zone>[a-z0-9][a-z0-9-]*)/nodes/(?<node>[a-z0-9][a-z0-9-]*)$")]
    private static partial Regex Pattern();
}
