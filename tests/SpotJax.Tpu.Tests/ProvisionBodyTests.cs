using System.Net;
using System.Text.Json.Nodes;
using SpotJax.Core.Jobs;
using SpotJax.Core.Steps;
using SpotJax.Core.Tpu;

namespace SpotJax.Tpu.Tests;

/// <summary>
/// The Spot queued resource that <c>provision</c> asks for, as the client puts it on the wire, against the
/// documented create body (Fixtures/create-body-spot.json, after gcp-contracts.md §1.2) and the simulator.
/// </summary>
public sealed class ProvisionBodyTests
{
    private const string QueuedResourceId = "llama-tiny-4f2a-3";
    private static readonly CancellationToken None = CancellationToken.None;

    [Fact]
    public async Task CreateQueuedResourceAsync_ProvisionBody_SendsTheDocumentedSpotCreateBody()
    {
        await using var server = await FixtureServer.StartAsync(HttpStatusCode.OK, Payloads.Read("operation-create-running.json"));

        var operation = await server.Client().CreateQueuedResourceAsync(Payloads.Zone, QueuedResourceId, Provision(Payloads.Project, PrivateNetwork()).Body(Job()), "create-7d3c2b1a", None);

        Assert.False(operation?.Done);
        var request = Assert.Single(server.Requests);
        Assert.Equal(
            ("POST", $"/v2/projects/{Payloads.Project}/locations/{Payloads.Zone}/queuedResources?queuedResourceId={QueuedResourceId}&requestId=create-7d3c2b1a"),
            (request.Method, request.PathAndQuery));
        var documented = JsonNode.Parse(Payloads.Read("create-body-spot.json"));
        var sent = JsonNode.Parse(request.Body);
        Assert.True(JsonNode.DeepEquals(documented, sent), $"sent:\n{sent}\ndocumented:\n{documented}");
    }

    [Theory]
    [InlineData("v4-32", null, "tpu-ubuntu2204-base")]
    [InlineData("v5litepod-16", null, "v2-alpha-tpuv5-lite")]
    [InlineData("v5p-8", null, "v2-alpha-tpuv5")]
    [InlineData("v6e-8", null, "v2-alpha-tpuv6e")]
    [InlineData("v4-8", "tpu-vm-v4-pt-2.0", "tpu-vm-v4-pt-2.0")]
    public void Body_TpuTypeAndRuntime_AcceleratorTypeAndRuntimeVersion(string type, string? runtimeVersion, string expected)
    {
        var node = Provision(Payloads.Project).Body(Job(type, runtimeVersion)).Tpu!.NodeSpec[0].Node;

        Assert.Equal((type, expected), (node.AcceleratorType, node.RuntimeVersion));
    }

    [Theory]
    [InlineData(30, "1800s")]
    [InlineData(120, "7200s")]
    [InlineData(1440, "86400s")]
    public void Body_ProvisionTimeout_IsTheValidUntilDurationOfTheQueueingPolicy(int minutes, string duration)
    {
        var body = Provision(Payloads.Project).Body(Job(provisionTimeoutMinutes: minutes));

        Assert.Equal(duration, body.QueueingPolicy?.ValidUntilDuration);
        Assert.NotNull(body.Spot);
    }

    [Fact]
    public async Task CreateQueuedResourceAsync_NodeServiceAccount_SendsItWithTheCloudPlatformScope()
    {
        var options = new ControlPlaneOptions { Project = Payloads.Project, Bucket = "spotjax-control", NodeServiceAccount = "spotjax-tpu-node@spotjax-prod.iam.gserviceaccount.com" };
        var provision = new ProvisionFunction(null!, null!, null!, options, TimeProvider.System);

        var node = await SentNodeAsync(provision);

        var expected = JsonNode.Parse("""{"email": "spotjax-tpu-node@spotjax-prod.iam.gserviceaccount.com", "scope": ["https://www.googleapis.com/auth/cloud-platform"]}""");
        Assert.True(JsonNode.DeepEquals(expected, node["serviceAccount"]), node.ToJsonString());
    }

    [Fact]
    public async Task CreateQueuedResourceAsync_WithoutNodeServiceAccount_LeavesTheTpuApisDefault()
    {
        var node = await SentNodeAsync(Provision(Payloads.Project));

        Assert.Null(node["serviceAccount"]);
        Assert.Equal("v4-32", node["acceleratorType"]?.GetValue<string>());
    }

    [Fact]
    public async Task CreateQueuedResourceAsync_PrivateNetwork_SendsTheNetworkTheZonesSubnetworkTheTagAndNoExternalIps()
    {
        var node = await SentNodeAsync(Provision(Payloads.Project, PrivateNetwork()));

        var expected = JsonNode.Parse("""
            {
              "network": "projects/spotjax-prod/global/networks/spotjax-tpu",
              "subnetwork": "projects/spotjax-prod/regions/us-central2/subnetworks/spotjax-tpu-us-central2",
              "enableExternalIps": false
            }
            """);
        Assert.True(JsonNode.DeepEquals(expected, node["networkConfig"]), node.ToJsonString());
        Assert.True(JsonNode.DeepEquals(JsonNode.Parse("""["spotjax-tpu"]"""), node["tags"]), node.ToJsonString());
    }

    [Fact]
    public async Task CreateQueuedResourceAsync_SharedVpcSubnetworkOfAHostProject_IsSentAsItsFullName()
    {
        var network = TpuNetwork.Parse(
            "projects/net-host/global/networks/shared",
            "us-central2=projects/net-host/regions/us-central2/subnetworks/tpu-central2",
            null);

        var node = await SentNodeAsync(Provision(Payloads.Project, network));

        Assert.Equal("projects/net-host/global/networks/shared", node["networkConfig"]?["network"]?.GetValue<string>());
        Assert.Equal("projects/net-host/regions/us-central2/subnetworks/tpu-central2", node["networkConfig"]?["subnetwork"]?.GetValue<string>());
        Assert.Null(node["tags"]);
    }

    [Fact]
    public async Task CreateQueuedResourceAsync_ExternalIpsOptedIn_SendsEnableExternalIpsTrue()
    {
        var options = new ControlPlaneOptions { Project = Payloads.Project, Bucket = "spotjax-control", Network = PrivateNetwork(), EnableExternalIps = true };

        var node = await SentNodeAsync(new ProvisionFunction(null!, null!, null!, options, TimeProvider.System));

        Assert.True(node["networkConfig"]?["enableExternalIps"]?.GetValue<bool>());
    }

    [Fact]
    public async Task CreateQueuedResourceAsync_LocalModeWithoutANetwork_LeavesNetworkAndSubnetworkUnsetAndNoExternalIps()
    {
        var node = await SentNodeAsync(Provision(Payloads.Project));

        Assert.True(JsonNode.DeepEquals(JsonNode.Parse("""{"enableExternalIps": false}"""), node["networkConfig"]), node.ToJsonString());
        Assert.Null(node["tags"]);
    }

    [Fact]
    public async Task CreateQueuedResourceAsync_ProvisionBodyOnTheSimulator_NodeHasTheLabelsTheTagAndInternalAddressesOnly()
    {
        // A harness of its own, so a real zone name (whose region the subnetwork must match) is free.
        await using var harness = await SimulatorHarness.StartAsync();
        var zone = Payloads.Zone;
        var job = Job();
        var network = TpuNetwork.Parse(
            $"projects/{SimulatorHarness.Project}/global/networks/spotjax-tpu",
            $"{TpuNetwork.RegionOf(zone)}=projects/{SimulatorHarness.Project}/regions/{TpuNetwork.RegionOf(zone)}/subnetworks/spotjax-tpu",
            "spotjax-tpu");

        await harness.Client.CreateQueuedResourceAsync(zone, QueuedResourceId, Provision(SimulatorHarness.Project, network).Body(job), "create-1", None);
        var node = await harness.Client.GetNodeAsync(zone, QueuedResourceId, None);

        Assert.NotNull(node);
        Assert.Equal(new Dictionary<string, string> { [ProvisionFunction.JobLabel] = job.Id, [ProvisionFunction.AttemptLabel] = "3", [ProvisionFunction.DeploymentLabel] = DeploymentName.Default }, node.Labels);
        Assert.Equal(["spotjax-tpu"], node.Tags);
        Assert.Equal(4, node.NetworkEndpoints?.Count);
        Assert.All(node.NetworkEndpoints!, e => Assert.True(e.IpAddress is { Length: > 0 } && e.AccessConfig is null, $"{e}"));
        Assert.Equal($"projects/{SimulatorHarness.Project}/locations/{zone}/queuedResources/{QueuedResourceId}", node.QueuedResource);
    }

    [Fact]
    public async Task CreateQueuedResourceAsync_ExternalIpsOnTheSimulator_EveryWorkerHasAnExternalAddress()
    {
        await using var harness = await SimulatorHarness.StartAsync();
        var zone = SimulatorHarness.NewZone();
        var options = new ControlPlaneOptions { Project = SimulatorHarness.Project, Bucket = "spotjax-control", EnableExternalIps = true };

        await harness.Client.CreateQueuedResourceAsync(zone, QueuedResourceId, new ProvisionFunction(null!, null!, null!, options, TimeProvider.System).Body(Job() with { Zone = zone }), "create-1", None);
        var node = await harness.Client.GetNodeAsync(zone, QueuedResourceId, None);

        Assert.All(node!.NetworkEndpoints!, e => Assert.False(string.IsNullOrEmpty(e.AccessConfig?.ExternalIp)));
    }

    /// <summary>The attempt-3 job of the fixtures: a v4-32 in us-central2-b.</summary>
    private static Job Job(string type = "v4-32", string? runtimeVersion = null, int provisionTimeoutMinutes = 120) => new()
    {
        Id = "llama-tiny-4f2a",
        Submission = "pubsub:13582934759",
        Spec = new JobSpec
        {
            Name = "llama-tiny",
            Tpu = new TpuSpec { Type = type, Zones = [Payloads.Zone], RuntimeVersion = runtimeVersion },
            Code = "gs://spotjax-control/code/llama.tar.gz",
            Script = "train.py",
            ProvisionTimeoutMinutes = provisionTimeoutMinutes,
        },
        State = JobState.Provisioning,
        Attempt = 3,
        Zone = Payloads.Zone,
        QueuedResourceId = QueuedResourceId,
        SubmittedAt = new DateTimeOffset(2024, 11, 28, 13, 0, 0, TimeSpan.Zero),
        UpdatedAt = new DateTimeOffset(2024, 11, 28, 13, 20, 41, TimeSpan.Zero),
    };

    /// <summary>The node of the queued resource the client puts on the wire for <paramref name="provision"/>'s body.</summary>
    private static async Task<JsonNode> SentNodeAsync(ProvisionFunction provision)
    {
        await using var server = await FixtureServer.StartAsync(HttpStatusCode.OK, Payloads.Read("operation-create-running.json"));
        await server.Client().CreateQueuedResourceAsync(Payloads.Zone, QueuedResourceId, provision.Body(Job()), "create-7d3c2b1a", None);
        return JsonNode.Parse(Assert.Single(server.Requests).Body)!["tpu"]!["nodeSpec"]![0]!["node"]!;
    }

    // Body reads only the options; the handler's other parts take no part in building it.
    private static ProvisionFunction Provision(string project, TpuNetwork? network = null) =>
        new(null!, null!, null!, new ControlPlaneOptions { Project = project, Bucket = "spotjax-control", Network = network }, TimeProvider.System);

    /// <summary>What infra/ sets up by default: the VPC spotjax-tpu with a subnetwork per TPU region, and the SSH firewall's tag.</summary>
    private static TpuNetwork PrivateNetwork() => TpuNetwork.Parse(
        "projects/spotjax-prod/global/networks/spotjax-tpu",
        "us-central2=projects/spotjax-prod/regions/us-central2/subnetworks/spotjax-tpu-us-central2,europe-west4=projects/spotjax-prod/regions/europe-west4/subnetworks/spotjax-tpu-europe-west4",
        "spotjax-tpu");
}
