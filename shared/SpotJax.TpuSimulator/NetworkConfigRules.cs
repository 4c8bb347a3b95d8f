using System.Text.RegularExpressions;
using SpotJax.Core.Tpu;

namespace SpotJax.TpuSimulation;

/// <summary>
/// What the simulator checks of <c>node.networkConfig</c>, after the forms the Cloud TPU documentation lists
/// (https://cloud.google.com/tpu/docs/configure-networking-access, "Specify a custom network and
/// subnetwork"): a network is <c>compute/{version}/projects/{project}/global/networks/{network}</c>,
/// <c>projects/{project}/global/networks/{network}</c>, <c>global/networks/{network}</c> or <c>{network}</c>;
/// a subnetwork the same with <c>regions/{region}/subnetworks/{subnetwork}</c>; and "the subnetwork must be in
/// the same region as the zone where the TPU runs".
/// UNCONFIRMED: the real API's status and message for a violation (the simulator answers INVALID_ARGUMENT,
/// the usual code for a malformed field), and whether it refuses at create or only in the operation. A
/// network or subnetwork that is well formed but does not exist, or a subnetwork of another network, the
/// simulator cannot know of and accepts.
/// </summary>
internal static partial class NetworkConfigRules
{
    public static void Validate(NetworkConfig? config, string zone)
    {
        if (config is null)
        {
            return;
        }

        if (!string.IsNullOrEmpty(config.Network) && !Network().IsMatch(config.Network))
        {
            throw SimulatorApiException.InvalidArgument($"tpu.nodeSpec[0].node.networkConfig.network '{config.Network}' is not a network name (projects/PROJECT/global/networks/NAME).");
        }

        if (string.IsNullOrEmpty(config.Subnetwork))
        {
            return;
        }

        var subnetwork = Subnetwork().Match(config.Subnetwork);
        if (!subnetwork.Success)
        {
            throw SimulatorApiException.InvalidArgument($"tpu.nodeSpec[0].node.networkConfig.subnetwork '{config.Subnetwork}' is not a subnetwork name (projects/PROJECT/regions/REGION/subnetworks/NAME).");
        }

        var region = TpuNetwork.RegionOf(zone);
        if (subnetwork.Groups["region"].Success && subnetwork.Groups["region"].Value != region)
        {
            throw SimulatorApiException.InvalidArgument($"tpu.nodeSpec[0].node.networkConfig.subnetwork '{config.Subnetwork}' is in region {subnetwork.Groups["region"].Value}; a TPU in {zone} needs a subnetwork in {region}.");
        }
    }

    private const string Resource = "[a-z]([-a-z0-9]{0,61}[a-z0-9])?";

    [GeneratedRegex($"^((compute/[a-z0-9]+/)?projects/[a-z0-9.:-]+/)?(global/networks/)?{Resource}$")]
    private static partial Regex Network();

    [GeneratedRegex($"^(((compute/[a-z0-9]+/)?projects/[a-z0-9.:-]+/)?regions/(?<region>[a-z]+-[a-z]+[0-9]+)/subnetworks/)?{Resource}$")]
    private static partial Regex Subnetwork();
}
