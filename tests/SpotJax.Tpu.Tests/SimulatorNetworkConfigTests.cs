using SpotJax.Core.Ports;
using SpotJax.Core.Tpu;

namespace SpotJax.Tpu.Tests;

/// <summary>
/// The simulator's checks of <c>node.networkConfig</c>, after the forms and the same-region rule of
/// https://cloud.google.com/tpu/docs/configure-networking-access (the real API's error code and message
/// for a violation are unconfirmed; the simulator answers INVALID_ARGUMENT).
/// </summary>
public sealed class SimulatorNetworkConfigTests
{
    private const string Zone = "us-central2-b";

    [Theory]
    [InlineData(null, "projects/spotjax-test/regions/us-central2/subnetworks/spotjax-tpu-us-central2")]
    [InlineData("projects/spotjax-test/global/networks/spotjax-tpu", "projects/spotjax-test/regions/us-central2/subnetworks/spotjax-tpu-us-central2")]
    [InlineData("projects/net-host/global/networks/shared", "projects/net-host/regions/us-central2/subnetworks/tpu")]
    [InlineData("compute/v1/projects/123456789012/global/networks/spotjax-tpu", "compute/v1/projects/123456789012/regions/us-central2/subnetworks/tpu")]
    [InlineData("global/networks/spotjax-tpu", "regions/us-central2/subnetworks/tpu")]
    [InlineData("spotjax-tpu", "tpu")]
    [InlineData(null, null)]
    public async Task Create_DocumentedNetworkAndSubnetworkForms_AreAccepted(string? network, string? subnetwork)
    {
        await using var harness = await SimulatorHarness.StartAsync();

        var operation = await CreateAsync(harness, new NetworkConfig { Network = network, Subnetwork = subnetwork });

        Assert.NotNull(operation);
    }

    [Theory]
    [InlineData("projects/spotjax-test/regions/europe-west4/subnetworks/tpu", "region europe-west4")]
    [InlineData("regions/us-central1/subnetworks/tpu", "region us-central1")]
    [InlineData("projects/spotjax-test/subnetworks/tpu", "is not a subnetwork name")]
    [InlineData("projects/spotjax-test/regions/us-central2/subnetworks/Tpu_Subnet", "is not a subnetwork name")]
    [InlineData("https://www.googleapis.com/compute/v1/projects/p/regions/us-central2/subnetworks/tpu", "is not a subnetwork name")]
    public async Task Create_SubnetworkMalformedOrInAnotherRegionThanTheZone_IsInvalidArgument(string subnetwork, string expected)
    {
        await using var harness = await SimulatorHarness.StartAsync();

        var error = await Assert.ThrowsAsync<GoogleApiException>(() => CreateAsync(harness, new NetworkConfig { Subnetwork = subnetwork }));

        Assert.Equal("INVALID_ARGUMENT", error.Status);
        Assert.Contains(expected, error.Message, StringComparison.Ordinal);
        Assert.Contains("networkConfig.subnetwork", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("projects/spotjax-test/networks/spotjax-tpu")]
    [InlineData("projects/spotjax-test/global/networks/")]
    [InlineData("Default")]
    public async Task Create_MalformedNetwork_IsInvalidArgument(string network)
    {
        await using var harness = await SimulatorHarness.StartAsync();

        var error = await Assert.ThrowsAsync<GoogleApiException>(() => CreateAsync(harness, new NetworkConfig { Network = network }));

        Assert.Equal("INVALID_ARGUMENT", error.Status);
        Assert.Contains("networkConfig.network", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task GetNode_WithoutExternalIps_ReportsInternalAddressesWithoutAccessConfig()
    {
        await using var harness = await SimulatorHarness.StartAsync();
        await CreateAsync(harness, new NetworkConfig { EnableExternalIps = false });

        var node = await harness.Client.GetNodeAsync(Zone, "n1", CancellationToken.None);

        Assert.Equal(2, node?.NetworkEndpoints?.Count);
        Assert.All(node!.NetworkEndpoints!, e => Assert.True(e.IpAddress is { Length: > 0 } && e.AccessConfig is null, $"{e}"));
    }

    private static Task<Operation?> CreateAsync(SimulatorHarness harness, NetworkConfig config)
    {
        var body = SimulatorHarness.SpotBody(Zone, "n1", "v4-16");
        var spec = body.Tpu!.NodeSpec[0];
        body = body with { Tpu = body.Tpu with { NodeSpec = [spec with { Node = spec.Node with { NetworkConfig = config } }] } };
        return harness.Client.CreateQueuedResourceAsync(Zone, "n1", body, "req-1", CancellationToken.None);
    }
}
