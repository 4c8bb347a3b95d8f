using SpotJax.Core.Tpu;

namespace SpotJax.Core.Tests.Tpu;

public sealed class TpuNetworkTests
{
    private static readonly TpuNetwork Network = TpuNetwork.Parse(
        "projects/net-host/global/networks/shared",
        "us-central2=projects/net-host/regions/us-central2/subnetworks/a,europe-west4=projects/net-host/regions/europe-west4/subnetworks/b",
        "spotjax-tpu, spotjax-tpu");

    [Theory]
    [InlineData("us-central2-b", "us-central2")]
    [InlineData("europe-west4-a", "europe-west4")]
    [InlineData("northamerica-northeast1-c", "northamerica-northeast1")]
    public void RegionOf_Zone_IsEverythingBeforeTheLastDash(string zone, string region) =>
        Assert.Equal(region, TpuNetwork.RegionOf(zone));

    [Fact]
    public void SubnetworkFor_ZoneOfAConfiguredRegion_IsThatRegionsSubnetwork_OtherwiseNull()
    {
        Assert.Equal("projects/net-host/regions/us-central2/subnetworks/a", Network.SubnetworkFor("us-central2-b"));
        Assert.Equal("projects/net-host/regions/europe-west4/subnetworks/b", Network.SubnetworkFor("europe-west4-a"));
        Assert.Null(Network.SubnetworkFor("us-east5-a"));
        Assert.Equal(["spotjax-tpu"], Network.Tags);
    }

    [Fact]
    public void Unreachable_EveryZoneCovered_IsNull()
    {
        Assert.Null(Network.Unreachable(["us-central2-b", "europe-west4-a"]));
    }

    [Fact]
    public void Unreachable_SomeZonesUncovered_NamesThemTheirRegionsTheCoveredOnesAndTheFix()
    {
        var message = Network.Unreachable(["us-central2-b", "us-east5-a", "asia-east1-c"]);

        Assert.Equal(
            "us-east5-a, asia-east1-c are in us-east5, asia-east1, where this deployment has no TPU subnetwork (regions with one: europe-west4, us-central2); "
            + "add the regions to the Terraform variable tpu_subnets and deploy again, or choose a zone in a region that has one",
            message);
    }

    [Theory]
    [InlineData("projects/p/global/networks/n", "", null)]
    [InlineData("projects/p/global/networks/n", "  , ", "")]
    public void Parse_NoSubnetworks_HasNoneAndRefusesEveryZone(string network, string subnetworks, string? tags)
    {
        var parsed = TpuNetwork.Parse(network, subnetworks, tags);

        Assert.Empty(parsed.Subnetworks);
        Assert.Empty(parsed.Tags);
        Assert.Contains("regions with one: none", parsed.Unreachable(["us-central2-b"]), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("https://www.googleapis.com/compute/v1/projects/p/global/networks/n", "", "not a network's full name")]
    [InlineData("projects/p/global/networks/n", "us-central2=regions/us-central2/subnetworks/s", "is not REGION=")]
    [InlineData("projects/p/global/networks/n", "us-central2=projects/p/regions/us-east5/subnetworks/s", "in us-east5, not us-central2")]
    public void Parse_NotTheDocumentedFullForm_Throws(string network, string subnetworks, string message)
    {
        var error = Assert.Throws<FormatException>(() => TpuNetwork.Parse(network, subnetworks, null));

        Assert.Contains(message, error.Message, StringComparison.Ordinal);
    }
}
