using System.Net;
using System.Text.Json.Nodes;
using Microsoft.Extensions.Time.Testing;
using SpotJax.Core.Jobs;
using SpotJax.Core.Ports;
using SpotJax.Core.Steps;
using SpotJax.Core.Tpu;

namespace SpotJax.Tpu.Tests;

/// <summary>
/// Multislice queued resources in the simulator: <c>nodeSpec[].multisliceParams {nodeCount, nodeIdPrefix}</c>
/// instead of <c>nodeId</c>, validated as the TPU v2 reference describes them, and a preemption of one node of several.
/// </summary>
public sealed class MultisliceTests
{
    private static readonly TimeSpan Grace = TimeSpan.FromSeconds(30);

    private static QueuedResource MultisliceBody(string zone, int nodeCount, string? prefix, string? nodeId = null, string type = "v4-32")
    {
        var body = SimulatorHarness.SpotBody(zone, "unused", type);
        var spec = body.Tpu!.NodeSpec[0] with { NodeId = nodeId, MultisliceParams = new MultisliceParams { NodeCount = nodeCount, NodeIdPrefix = prefix } };
        return body with { Tpu = new QueuedResourceTpu { NodeSpec = [spec] } };
    }

    [Fact]
    public async Task Create_TwoSlicesOfV4_32_MakesTwoNodesOfFourWorkersNamedPrefixDashIndex()
    {
        await using var harness = await SimulatorHarness.StartAsync();
        var zone = SimulatorHarness.NewZone();
        var id = SimulatorHarness.NewId("qr");

        await harness.Client.CreateQueuedResourceAsync(zone, id, MultisliceBody(zone, 2, id), SimulatorHarness.NewId("req"), CancellationToken.None);
        var queued = await harness.Client.GetQueuedResourceAsync(zone, id, CancellationToken.None);
        var slice0 = await harness.Client.GetNodeAsync(zone, $"{id}-0", CancellationToken.None);
        var slice1 = await harness.Client.GetNodeAsync(zone, $"{id}-1", CancellationToken.None);
        var byQueuedResourceId = await harness.Client.GetNodeAsync(zone, id, CancellationToken.None);
        var listed = await ListNodeNamesAsync(harness, zone);

        Assert.Equal("ACTIVE", queued?.State?.State);
        Assert.Equal(2, queued?.Tpu?.NodeSpec.Single().MultisliceParams?.NodeCount);
        Assert.Equal($"projects/{SimulatorHarness.Project}/locations/{zone}/nodes/{id}-0", slice0?.Name);
        Assert.Equal($"projects/{SimulatorHarness.Project}/locations/{zone}/nodes/{id}-1", slice1?.Name);
        Assert.Equal((4, 4), (slice0?.NetworkEndpoints?.Count, slice1?.NetworkEndpoints?.Count));
        Assert.Equal(("READY", "READY"), (slice0?.State, slice1?.State));
        Assert.Equal(queued?.Name, slice1?.QueuedResource);
        Assert.Null(byQueuedResourceId);
        Assert.Equal([slice0!.Name!, slice1!.Name!], listed);
        Assert.True(Directory.Exists(Path.Combine(harness.Simulator.NodeDirectory(zone, $"{id}-1"), "worker-3")));
    }

    [Fact]
    public async Task Create_WithoutPrefix_NamesNodesAfterTheQueuedResource()
    {
        await using var harness = await SimulatorHarness.StartAsync();
        var zone = SimulatorHarness.NewZone();
        var id = SimulatorHarness.NewId("qr");

        await harness.Client.CreateQueuedResourceAsync(zone, id, MultisliceBody(zone, 3, prefix: null, type: "v4-8"), SimulatorHarness.NewId("req"), CancellationToken.None);

        Assert.Equal([$"{id}-0", $"{id}-1", $"{id}-2"], (await ListNodeNamesAsync(harness, zone)).Select(n => n[(n.LastIndexOf('/') + 1)..]));
    }

    [Theory]
    [InlineData(1, "np", null, "nodeCount must be greater than 1")]
    [InlineData(0, "np", null, "nodeCount must be greater than 1")]
    [InlineData(2, "bad/prefix", null, "nodeIdPrefix 'bad/prefix' must match")]
    [InlineData(2, "", null, "nodeIdPrefix '' must match")]
    [InlineData(2, "np", "node-a", "either nodeId or multisliceParams, not both")]
    public async Task Create_InvalidMultisliceParams_IsInvalidArgumentAndCreatesNothing(int nodeCount, string prefix, string? nodeId, string words)
    {
        await using var harness = await SimulatorHarness.StartAsync();
        var zone = SimulatorHarness.NewZone();
        var id = SimulatorHarness.NewId("qr");

        var error = await Assert.ThrowsAsync<GoogleApiException>(() =>
            harness.Client.CreateQueuedResourceAsync(zone, id, MultisliceBody(zone, nodeCount, prefix, nodeId), SimulatorHarness.NewId("req"), CancellationToken.None));

        Assert.Equal(("INVALID_ARGUMENT", HttpStatusCode.BadRequest), (error.Status, error.HttpStatus));
        Assert.Contains(words, error.ApiMessage, StringComparison.Ordinal);
        Assert.Empty(await harness.Client.ListQueuedResourcesAsync(zone, CancellationToken.None));
    }

    [Fact]
    public async Task Create_NodeIdOfAnotherQueuedResourcesSlice_IsAlreadyExistsAndCreatesNothing()
    {
        await using var harness = await SimulatorHarness.StartAsync();
        var zone = SimulatorHarness.NewZone();
        await harness.Client.CreateQueuedResourceAsync(zone, "first", MultisliceBody(zone, 2, "np"), SimulatorHarness.NewId("req"), CancellationToken.None);

        // The client reads ALREADY_EXISTS as "made by an earlier delivery": null, and nothing new.
        var second = await harness.Client.CreateQueuedResourceAsync(zone, "second", SimulatorHarness.SpotBody(zone, "np-1"), SimulatorHarness.NewId("req"), CancellationToken.None);

        Assert.Null(second);
        Assert.Equal(["first"], (await harness.Client.ListQueuedResourcesAsync(zone, CancellationToken.None)).Select(q => q.Id));
    }

    [Fact]
    public async Task Preempt_OneSliceOfTwo_OnlyThatNodeIsPreemptedAndSignalledAndTheQueuedResourceSuspends()
    {
        var time = new FakeTimeProvider();
        await using var harness = await SimulatorHarness.StartAsync(o => o with { PreemptionGrace = Grace }, time);
        var zone = SimulatorHarness.NewZone();
        var id = SimulatorHarness.NewId("qr");
        await harness.Client.CreateQueuedResourceAsync(zone, id, MultisliceBody(zone, 2, id), SimulatorHarness.NewId("req"), CancellationToken.None);
        using var onSlice0 = await NodeProcess.StartGracefulAsync(Path.Combine(harness.Simulator.NodeDirectory(zone, $"{id}-0"), "worker-0"));
        using var onSlice1 = await NodeProcess.StartGracefulAsync(Path.Combine(harness.Simulator.NodeDirectory(zone, $"{id}-1"), "worker-0"));

        await harness.Simulator.PreemptAsync(zone, id, slice: 1);
        await onSlice1.WaitForExitAsync();
        var queued = await harness.Client.GetQueuedResourceAsync(zone, id, CancellationToken.None);
        var slice0 = await harness.Client.GetNodeAsync(zone, $"{id}-0", CancellationToken.None);
        var slice1 = await harness.Client.GetNodeAsync(zone, $"{id}-1", CancellationToken.None);
        var metadata0 = await PreemptedFlagAsync(harness, zone, $"{id}-0");
        var metadata1 = await PreemptedFlagAsync(harness, zone, $"{id}-1");

        Assert.Equal("term", File.ReadAllText(onSlice1.TermFile).Trim());
        Assert.False(onSlice0.HasExited);
        Assert.Equal(("SUSPENDING", "SERVICE"), (queued?.State?.State, queued?.State?.StateInitiator));
        Assert.Equal(("READY", "PREEMPTED"), (slice0?.State, slice1?.State));
        Assert.Equal(("FALSE", "TRUE"), (metadata0, metadata1));

        // The whole set goes with one delete.
        await harness.Client.DeleteQueuedResourceAsync(zone, id, force: true, SimulatorHarness.NewId("req"), CancellationToken.None);
        await onSlice0.WaitForExitAsync();
        Assert.Null(await harness.Client.GetQueuedResourceAsync(zone, id, CancellationToken.None));
        Assert.Empty(await ListNodeNamesAsync(harness, zone));
    }

    [Fact]
    public async Task PreemptEndpoint_SliceQuery_PreemptsThatSliceAndRefusesOneThatIsNotThere()
    {
        await using var harness = await SimulatorHarness.StartAsync();
        var zone = SimulatorHarness.NewZone();
        var id = SimulatorHarness.NewId("qr");
        await harness.Client.CreateQueuedResourceAsync(zone, id, MultisliceBody(zone, 2, id, type: "v4-8"), SimulatorHarness.NewId("req"), CancellationToken.None);
        var route = $"simulator/v1/projects/{SimulatorHarness.Project}/locations/{zone}/queuedResources/{id}:preempt";

        using var missing = await harness.Http.PostAsync(new Uri(harness.Simulator.BaseUri, route + "?slice=2"), null);
        using var garbled = await harness.Http.PostAsync(new Uri(harness.Simulator.BaseUri, route + "?slice=one"), null);
        var untouched = await harness.Client.GetQueuedResourceAsync(zone, id, CancellationToken.None);
        using var preempted = await harness.Http.PostAsync(new Uri(harness.Simulator.BaseUri, route + "?slice=0"), null);

        Assert.Equal((HttpStatusCode.BadRequest, HttpStatusCode.BadRequest), (missing.StatusCode, garbled.StatusCode));
        Assert.Equal("ACTIVE", untouched?.State?.State);
        Assert.Equal(HttpStatusCode.OK, preempted.StatusCode);
        Assert.Equal("PREEMPTED", (await harness.Client.GetNodeAsync(zone, $"{id}-0", CancellationToken.None))?.State);
        Assert.Equal("READY", (await harness.Client.GetNodeAsync(zone, $"{id}-1", CancellationToken.None))?.State);
    }

    [Fact]
    public async Task Preempt_WithoutSlice_PreemptsEveryNode()
    {
        await using var harness = await SimulatorHarness.StartAsync();
        var zone = SimulatorHarness.NewZone();
        var id = SimulatorHarness.NewId("qr");
        await harness.Client.CreateQueuedResourceAsync(zone, id, MultisliceBody(zone, 2, id, type: "v4-8"), SimulatorHarness.NewId("req"), CancellationToken.None);

        await harness.Simulator.PreemptAsync(zone, id);

        Assert.Equal("PREEMPTED", (await harness.Client.GetNodeAsync(zone, $"{id}-0", CancellationToken.None))?.State);
        Assert.Equal("PREEMPTED", (await harness.Client.GetNodeAsync(zone, $"{id}-1", CancellationToken.None))?.State);
    }

    [Fact]
    public async Task ProvisionBody_TwoSlices_SendsMultisliceParamsWithoutNodeIdAndTheSimulatorMakesBothNodes()
    {
        await using var harness = await SimulatorHarness.StartAsync();
        var zone = SimulatorHarness.NewZone();
        const string id = "llama-tiny-4f2a-3";
        var provision = new ProvisionFunction(null!, null!, null!, new ControlPlaneOptions { Project = SimulatorHarness.Project, Bucket = "spotjax-control" }, TimeProvider.System);
        var job = new Job
        {
            Id = "llama-tiny-4f2a",
            Submission = "pubsub:1",
            Spec = new JobSpec { Name = "llama-tiny", Tpu = new TpuSpec { Type = "v4-32", Zones = [zone] }, Code = "gs://spotjax-control/c.tar.gz", Script = "train.py", Slices = 2 },
            State = JobState.Provisioning,
            Attempt = 3,
            Zone = zone,
            QueuedResourceId = id,
            SubmittedAt = DateTimeOffset.UnixEpoch,
            UpdatedAt = DateTimeOffset.UnixEpoch,
        };

        var spec = JsonNode.Parse(System.Text.Json.JsonSerializer.Serialize(provision.Body(job), SpotJax.Google.Http.GoogleJson.Options))!["tpu"]!["nodeSpec"]!.AsArray().Single()!;
        await harness.Client.CreateQueuedResourceAsync(zone, id, provision.Body(job), "create-1", CancellationToken.None);

        Assert.Null(spec["nodeId"]);
        Assert.True(JsonNode.DeepEquals(JsonNode.Parse($$"""{"nodeCount": 2, "nodeIdPrefix": "{{id}}"}"""), spec["multisliceParams"]));
        Assert.Equal(
            SliceNodes.NodeIds(id, 2).Select(n => $"projects/{SimulatorHarness.Project}/locations/{zone}/nodes/{n}"),
            await ListNodeNamesAsync(harness, zone));
    }

    [Fact]
    public void ProvisionBody_OneSlice_KeepsTheNodeIdAndNoMultisliceParams()
    {
        var provision = new ProvisionFunction(null!, null!, null!, new ControlPlaneOptions { Project = "p", Bucket = "b" }, TimeProvider.System);
        var job = new Job
        {
            Id = "j",
            Submission = "pubsub:1",
            Spec = new JobSpec { Name = "j", Tpu = new TpuSpec { Type = "v4-8", Zones = ["us-central2-b"] }, Code = "gs://b/c.tar.gz", Script = "t.py" },
            State = JobState.Provisioning,
            Attempt = 1,
            Zone = "us-central2-b",
            QueuedResourceId = "j-1",
            SubmittedAt = DateTimeOffset.UnixEpoch,
            UpdatedAt = DateTimeOffset.UnixEpoch,
        };

        var spec = provision.Body(job).Tpu!.NodeSpec.Single();

        Assert.Equal(("j-1", null), (spec.NodeId, spec.MultisliceParams));
    }

    private static async Task<List<string>> ListNodeNamesAsync(SimulatorHarness harness, string zone)
    {
        var body = await harness.Http.GetStringAsync(new Uri(harness.Simulator.BaseUri, $"v2/projects/{SimulatorHarness.Project}/locations/{zone}/nodes"));
        return JsonNode.Parse(body)!["nodes"]?.AsArray().Select(n => (string)n!["name"]!).ToList() ?? [];
    }

    private static async Task<string> PreemptedFlagAsync(SimulatorHarness harness, string zone, string nodeId)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, new Uri(harness.Simulator.MetadataUrl(zone, nodeId), "instance/preempted"));
        request.Headers.Add("Metadata-Flavor", "Google");
        using var response = await harness.Http.SendAsync(request);
        return (await response.Content.ReadAsStringAsync()).Trim();
    }
}
