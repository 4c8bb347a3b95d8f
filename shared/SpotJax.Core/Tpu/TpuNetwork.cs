using System.Text.RegularExpressions;

namespace SpotJax.Core.Tpu;

/// <summary>
/// The private network the TPU VMs are put on (<c>node.networkConfig</c>): one VPC network, one subnetwork
/// per region the deployment has prepared, and the network tags that the firewall rule admitting
/// <c>launch</c>'s SSH targets. Names are full resource names in the form the Cloud TPU API documents
/// (https://cloud.google.com/tpu/docs/configure-networking-access): <c>projects/P/global/networks/N</c> and
/// <c>projects/P/regions/R/subnetworks/S</c>, where P may be a Shared VPC host project.
/// </summary>
public sealed partial record TpuNetwork
{
    /// <summary><c>projects/P/global/networks/N</c>.</summary>
    public required string Network { get; init; }

    /// <summary>Region to <c>projects/P/regions/R/subnetworks/S</c>, R being the key.</summary>
    public required IReadOnlyDictionary<string, string> Subnetworks { get; init; }

    /// <summary>Network tags put on every TPU VM (<c>node.tags</c>), the targets of the SSH firewall rule.</summary>
    public IReadOnlyList<string> Tags { get; init; } = [];

    /// <summary>The region of a zone: <c>us-central2-b</c> is in <c>us-central2</c>.</summary>
    public static string RegionOf(string zone)
    {
        ArgumentNullException.ThrowIfNull(zone);
        var dash = zone.LastIndexOf('-');
        return dash > 0 ? zone[..dash] : zone;
    }

    /// <summary>The subnetwork for a TPU in <paramref name="zone"/>, or null when its region has none.</summary>
    public string? SubnetworkFor(string zone) => Subnetworks.GetValueOrDefault(RegionOf(zone));

    /// <summary>
    /// Why TPUs cannot be made in some of <paramref name="zones"/> (their region has no subnetwork), and what
    /// to change; null when every zone can be used.
    /// </summary>
    public string? Unreachable(IEnumerable<string> zones)
    {
        ArgumentNullException.ThrowIfNull(zones);
        var missing = zones.Where(z => SubnetworkFor(z) is null).ToList();
        if (missing.Count == 0)
        {
            return null;
        }

        var regions = missing.Select(RegionOf).Distinct(StringComparer.Ordinal).ToList();
        var configured = Subnetworks.Count == 0 ? "none" : string.Join(", ", Subnetworks.Keys.Order(StringComparer.Ordinal));
        return $"{string.Join(", ", missing)} {(missing.Count == 1 ? "is" : "are")} in {string.Join(", ", regions)}, where this deployment has no TPU subnetwork "
            + $"(regions with one: {configured}); add {(regions.Count == 1 ? "the region" : "the regions")} to the Terraform variable tpu_subnets and deploy again, or choose a zone in a region that has one";
    }

    /// <summary>
    /// Reads the settings: <paramref name="network"/> as <c>projects/P/global/networks/N</c>,
    /// <paramref name="subnetworks"/> as comma-separated <c>REGION=projects/P/regions/REGION/subnetworks/S</c>,
    /// <paramref name="tags"/> as comma-separated network tags.
    /// </summary>
    /// <exception cref="FormatException">A name is not in the documented form, or a subnetwork is listed under another region than its own.</exception>
    public static TpuNetwork Parse(string network, string? subnetworks, string? tags)
    {
        ArgumentNullException.ThrowIfNull(network);
        network = network.Trim();
        if (!NetworkName().IsMatch(network))
        {
            throw new FormatException($"'{network}' is not a network's full name, projects/PROJECT/global/networks/NAME");
        }

        var byRegion = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var entry in (subnetworks ?? "").Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
        {
            var equals = entry.IndexOf('=', StringComparison.Ordinal);
            var region = equals > 0 ? entry[..equals].Trim() : "";
            var name = equals > 0 ? entry[(equals + 1)..].Trim() : entry;
            var match = SubnetworkName().Match(name);
            if (region.Length == 0 || !match.Success)
            {
                throw new FormatException($"'{entry}' is not REGION=projects/PROJECT/regions/REGION/subnetworks/NAME");
            }

            if (match.Groups["region"].Value != region)
            {
                throw new FormatException($"'{entry}': the subnetwork is in {match.Groups["region"].Value}, not {region} (a TPU's subnetwork must be in the region of its zone)");
            }

            if (!byRegion.TryAdd(region, name) && byRegion[region] != name)
            {
                throw new FormatException($"region {region} is given two subnetworks, {byRegion[region]} and {name}");
            }
        }

        var tagList = (tags ?? "").Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries).Distinct(StringComparer.Ordinal).ToList();
        var badTag = tagList.FirstOrDefault(t => !Tag().IsMatch(t));
        if (badTag is not null)
        {
            throw new FormatException($"'{badTag}' is not a network tag (1 to 63 of a-z, 0-9 and '-', starting with a letter)");
        }

        return new TpuNetwork { Network = network, Subnetworks = byRegion, Tags = tagList };
    }

    /// <summary>Whether <paramref name="name"/> is a full subnetwork name, <c>projects/P/regions/R/subnetworks/S</c>.</summary>
    public static bool IsSubnetworkName(string name) => SubnetworkName().IsMatch(name);

    /// <summary>The region part of a full subnetwork name, or null when it is not one.</summary>
    public static string? RegionOfSubnetwork(string name) => SubnetworkName().Match(name) is { Success: true } m ? m.Groups["region"].Value : null;

    // Project ids are 6-30 characters, but a project number or a domain-scoped id (example.com:proj) also names a project.
    [GeneratedRegex("^projects/[a-z0-9.:-]+/global/networks/[a-z]([-a-z0-9]{0,61}[a-z0-9])?$")]
    private static partial Regex NetworkName();

    [GeneratedRegex("^projects/[a-z0-9.:-]+/regions/(?<region>[a-z]+-[a-z]+[0-9]+)/subnetworks/[a-z]([-a-z0-9]{0,61}[a-z0-9])?$")]
    private static partial Regex SubnetworkName();

    // Compute Engine network tags: RFC 1035 labels.
    [GeneratedRegex("^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$")]
    private static partial Regex Tag();
}
