using System.Collections;
using SpotJax.Functions.Host;
using SpotJax.Google;

namespace SpotJax.Tests.Host;

/// <summary>What <see cref="Deployment"/> reads from the container's environment into the step functions' settings.</summary>
public sealed class DeploymentTests : IDisposable
{
    private readonly DirectoryInfo root = Directory.CreateTempSubdirectory("spotjax-deployment-");

    /// <summary>A step function's environment over local stand-ins; nothing is called while it is built.</summary>
    private Hashtable Environment(string? sweepZones) => new()
    {
        [Deployment.ProjectVariable] = "p",
        [Deployment.BucketVariable] = "spotjax-test",
        [Deployment.StateDbVariable] = Path.Combine(root.FullName, "jobs.db"),
        [Deployment.BucketDirVariable] = Path.Combine(root.FullName, "bucket"),
        [Deployment.WorkersVariable] = "local",
        [Deployment.NodesRootVariable] = Path.Combine(root.FullName, "nodes"),
        [GoogleEndpoints.TpuApiVariable] = "http://127.0.0.1:9/",
        [GoogleEndpoints.PubSubEmulatorHostVariable] = "127.0.0.1:9",
        [Deployment.SweepZonesVariable] = sweepZones,
    };

    [Theory]
    [InlineData("us-central2-b", new[] { "us-central2-b" })]
    [InlineData(" us-central2-b , europe-west4-a,,us-central2-b,", new[] { "us-central2-b", "europe-west4-a" })]
    public async Task Create_SweepZones_AreTheSweepsZones(string value, string[] expected)
    {
        await using var deployment = await Deployment.CreateAsync(Environment(value), TimeProvider.System, CancellationToken.None);

        Assert.Equal(expected, deployment.Options.SweepZones);
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData(" , ")]
    public async Task Create_NoSweepZones_LeavesOnlyTheActiveJobsZones(string? value)
    {
        await using var deployment = await Deployment.CreateAsync(Environment(value), TimeProvider.System, CancellationToken.None);

        Assert.Empty(deployment.Options.SweepZones);
    }

    [Theory]
    [InlineData("us-central2", "'us-central2' is not a zone")]
    [InlineData("us-central2-b,US-EAST1-C", "'US-EAST1-C' is not a zone")]
    [InlineData("us-central2-b;europe-west4-a", "'us-central2-b;europe-west4-a' is not a zone")]
    [InlineData("us-central2-b us-west4-a,uscentral", "'us-central2-b us-west4-a', 'uscentral' are not zones")]
    public async Task Create_InvalidSweepZone_FailsNamingTheVariableAndTheValue(string value, string message)
    {
        var error = await Assert.ThrowsAsync<HostConfigurationException>(() => Deployment.CreateAsync(Environment(value), TimeProvider.System, CancellationToken.None));

        Assert.StartsWith($"{Deployment.SweepZonesVariable}: ", error.Message, StringComparison.Ordinal);
        Assert.Contains(message, error.Message, StringComparison.Ordinal);
        Assert.EndsWith("expected region-zone such as us-central2-b or europe-west4-a", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Create_TpuNetworkSubnetworksTagsAndExternalIps_AreProvisioningsNetworkSettings()
    {
        var environment = Environment(null);
        environment[Deployment.TpuNetworkVariable] = "projects/net-host/global/networks/shared";
        environment[Deployment.TpuSubnetworksVariable] = "us-central2=projects/net-host/regions/us-central2/subnetworks/tpu-a, europe-west4=projects/net-host/regions/europe-west4/subnetworks/tpu-b";
        environment[Deployment.TpuNetworkTagsVariable] = "spotjax-tpu";
        environment[Deployment.TpuExternalIpsVariable] = "true";

        await using var deployment = await Deployment.CreateAsync(environment, TimeProvider.System, CancellationToken.None);

        var network = deployment.Options.Network!;
        Assert.Equal("projects/net-host/global/networks/shared", network.Network);
        Assert.Equal("projects/net-host/regions/europe-west4/subnetworks/tpu-b", network.SubnetworkFor("europe-west4-a"));
        Assert.Equal("projects/net-host/regions/us-central2/subnetworks/tpu-a", network.SubnetworkFor("us-central2-b"));
        Assert.Null(network.SubnetworkFor("us-east5-a"));
        Assert.Equal(["spotjax-tpu"], network.Tags);
        Assert.True(deployment.Options.EnableExternalIps);
    }

    [Fact]
    public async Task Create_NoTpuNetwork_LeavesTheNetworkUnsetAndExternalIpsOff()
    {
        await using var deployment = await Deployment.CreateAsync(Environment(null), TimeProvider.System, CancellationToken.None);

        Assert.Null(deployment.Options.Network);
        Assert.False(deployment.Options.EnableExternalIps);
    }

    [Theory]
    [InlineData(Deployment.TpuNetworkVariable, "spotjax-tpu", "is not a network's full name")]
    [InlineData(Deployment.TpuSubnetworksVariable, "projects/p/regions/us-central2/subnetworks/s", "is not REGION=")]
    [InlineData(Deployment.TpuSubnetworksVariable, "us-central2=projects/p/regions/europe-west4/subnetworks/s", "the subnetwork is in europe-west4, not us-central2")]
    [InlineData(Deployment.TpuSubnetworksVariable, "us-central2=projects/p/regions/us-central2/subnetworks/a,us-central2=projects/p/regions/us-central2/subnetworks/b", "two subnetworks")]
    [InlineData(Deployment.TpuNetworkTagsVariable, "Spotjax_TPU", "is not a network tag")]
    [InlineData(Deployment.TpuExternalIpsVariable, "yes", "expected true or false")]
    public async Task Create_MalformedNetworkSetting_FailsNamingTheVariable(string variable, string value, string message)
    {
        var environment = Environment(null);
        environment[Deployment.TpuNetworkVariable] = "projects/p/global/networks/spotjax-tpu";
        environment[variable] = value;

        var error = await Assert.ThrowsAsync<HostConfigurationException>(() => Deployment.CreateAsync(environment, TimeProvider.System, CancellationToken.None));

        Assert.Contains(variable, error.Message, StringComparison.Ordinal);
        Assert.Contains(message, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Create_SubnetworksWithoutANetwork_FailsSayingTheNetworkIsNeeded()
    {
        var environment = Environment(null);
        environment[Deployment.TpuSubnetworksVariable] = "us-central2=projects/p/regions/us-central2/subnetworks/s";

        var error = await Assert.ThrowsAsync<HostConfigurationException>(() => Deployment.CreateAsync(environment, TimeProvider.System, CancellationToken.None));

        Assert.Contains($"need {Deployment.TpuNetworkVariable}", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(null, null)]
    [InlineData("auto", null)]
    [InlineData("oslogin", "TRUE")]
    [InlineData("metadata", "FALSE")]
    public async Task Create_SshLogin_SetsTheNodesEnableOsLoginOnlyForAnExplicitMode(string? value, string? nodeOsLogin)
    {
        var environment = Environment(null);
        environment[Deployment.SshLoginVariable] = value;

        await using var deployment = await Deployment.CreateAsync(environment, TimeProvider.System, CancellationToken.None);

        Assert.Equal(nodeOsLogin, deployment.Options.NodeOsLogin);
    }

    [Fact]
    public async Task Create_UnknownSshLogin_FailsNamingTheVariableAndTheChoices()
    {
        var environment = Environment(null);
        environment[Deployment.SshLoginVariable] = "ssh-keys";

        var error = await Assert.ThrowsAsync<HostConfigurationException>(() => Deployment.CreateAsync(environment, TimeProvider.System, CancellationToken.None));

        Assert.StartsWith($"{Deployment.SshLoginVariable}: 'ssh-keys' is not an SSH login mode: expected auto, oslogin or metadata", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Create_SshWorkersWithOsLoginButNoServiceAccount_FailsSayingWhatToSet()
    {
        var environment = Environment(null);
        environment[Deployment.WorkersVariable] = "ssh";
        environment[Deployment.SshKeyFileVariable] = Path.Combine(root.FullName, "key");
        environment[Deployment.SshPublicKeyVariable] = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGx9 spotjax";
        environment[Deployment.SshLoginVariable] = "oslogin";

        var error = await Assert.ThrowsAsync<HostConfigurationException>(() => Deployment.CreateAsync(environment, TimeProvider.System, CancellationToken.None));

        Assert.Equal($"{Deployment.SshLoginVariable}=oslogin needs {Deployment.LaunchServiceAccountVariable} (launch's service account email) and {Deployment.SshPublicKeyVariable}", error.Message);
    }

    [Theory]
    [InlineData(null, "spotjax")]
    [InlineData("", "spotjax")]
    [InlineData("staging", "staging")]
    public async Task Create_Deployment_NamesTheStepsAndTheStatusPage(string? value, string expected)
    {
        var environment = Environment(null);
        environment[Deployment.DeploymentVariable] = value;

        await using var deployment = await Deployment.CreateAsync(environment, TimeProvider.System, CancellationToken.None);

        Assert.Equal((expected, expected), (deployment.Options.Deployment, deployment.Name));
    }

    [Theory]
    [InlineData("Staging")]
    [InlineData("prod.eu")]
    public async Task Create_DeploymentThatIsNotALabelValue_FailsNamingTheVariableAndTheRule(string value)
    {
        var environment = Environment(null);
        environment[Deployment.DeploymentVariable] = value;

        var error = await Assert.ThrowsAsync<HostConfigurationException>(() => Deployment.CreateAsync(environment, TimeProvider.System, CancellationToken.None));

        Assert.Equal($"{Deployment.DeploymentVariable}='{value}': {SpotJax.Core.Steps.DeploymentName.Rule}", error.Message);
    }

    [Theory]
    [InlineData(null, "spotjax")]
    [InlineData("", "spotjax")]
    [InlineData("staging", "staging")]
    public async Task Create_NamePrefix_NamesTheStepsTopics(string? value, string expected)
    {
        var environment = Environment(null);
        environment[Deployment.NamePrefixVariable] = value;

        await using var deployment = await Deployment.CreateAsync(environment, TimeProvider.System, CancellationToken.None);

        Assert.Equal(new SpotJax.Core.Topics(expected), deployment.Options.Topics);
        Assert.Equal([$"{expected}-jobs", $"{expected}-provision", $"{expected}-launch", $"{expected}-recover", $"{expected}-finish", $"{expected}-job-events"], deployment.Functions.ByTopic.Keys);
    }

    [Theory]
    [InlineData("Staging")]
    [InlineData("staging-")]
    [InlineData("a-very-long-prefix")]
    public async Task Create_NamePrefixOutsideTerraformsRule_FailsNamingTheVariableAndTheRule(string value)
    {
        var environment = Environment(null);
        environment[Deployment.NamePrefixVariable] = value;

        var error = await Assert.ThrowsAsync<HostConfigurationException>(() => Deployment.CreateAsync(environment, TimeProvider.System, CancellationToken.None));

        Assert.Equal($"{Deployment.NamePrefixVariable}='{value}': {SpotJax.Core.NamePrefix.Rule}", error.Message);
    }

    [Theory]
    [InlineData(null, 30, 360)]
    [InlineData("30", 1, 12)]
    public async Task Create_LifecycleScale_DividesEveryLifecycleWait(string? value, int backoffSeconds, int leaseSeconds)
    {
        var environment = Environment(null);
        environment[Deployment.LifecycleScaleVariable] = value;

        await using var deployment = await Deployment.CreateAsync(environment, TimeProvider.System, CancellationToken.None);

        var lifecycle = deployment.Options.Lifecycle;
        Assert.Equal(
            (TimeSpan.FromSeconds(backoffSeconds), TimeSpan.FromSeconds(backoffSeconds), TimeSpan.FromSeconds(leaseSeconds)),
            (lifecycle.BackoffBase, lifecycle.ProvisionBackoffBase, lifecycle.LaunchLease));
    }

    [Theory]
    [InlineData("0")]
    [InlineData("-2")]
    [InlineData("1.5")]
    [InlineData("3601")]
    public async Task Create_LifecycleScaleThatIsNotAWholeNumberInRange_FailsNamingTheVariable(string value)
    {
        var environment = Environment(null);
        environment[Deployment.LifecycleScaleVariable] = value;

        var error = await Assert.ThrowsAsync<HostConfigurationException>(() => Deployment.CreateAsync(environment, TimeProvider.System, CancellationToken.None));

        Assert.Equal($"{Deployment.LifecycleScaleVariable}='{value}': expected a whole number from 1 to 3600", error.Message);
    }

    public void Dispose()
    {
        try
        {
            root.Delete(recursive: true);
        }
        catch (IOException)
        {
            // The SQLite file of a deployment that failed half-way may still be open; the folder is temporary anyway.
        }
    }
}
