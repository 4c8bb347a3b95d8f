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
