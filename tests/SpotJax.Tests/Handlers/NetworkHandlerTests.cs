using System.Collections.Concurrent;
using System.Text;
using SpotJax.Core;
using SpotJax.Core.Jobs;
using SpotJax.Core.Lifecycle;
using SpotJax.Core.Ports;
using SpotJax.Core.Steps;
using SpotJax.Core.Tpu;
using SpotJax.Functions;

namespace SpotJax.Tests.Handlers;

/// <summary>
/// A deployment with a private TPU network (a subnetwork in us-central2 only), over the real local parts
/// and the TPU simulator: a job naming a zone in a region without a subnetwork is refused at submission;
/// one whose region lost its subnetwork after submission ends its attempt at provisioning with what to fix.
/// </summary>
public sealed class NetworkHandlerTests : IAsyncLifetime
{
    private const string Script = "print('hi')\n";
    private static readonly TpuNetwork Network = TpuNetwork.Parse(
        "projects/test-project/global/networks/spotjax-tpu",
        "us-central2=projects/test-project/regions/us-central2/subnetworks/spotjax-tpu-us-central2",
        "spotjax-tpu");

    private HandlerHarness h = null!;

    public async Task InitializeAsync() => h = await HandlerHarness.StartAsync();

    public async Task DisposeAsync() => await h.DisposeAsync();

    [Theory]
    [InlineData("zone: europe-west4-a", "europe-west4-a is in europe-west4")]
    [InlineData("zones: [us-central2-b, us-east5-a, us-east5-b]", "us-east5-a, us-east5-b are in us-east5")]
    public async Task Submit_ZoneInARegionWithoutASubnetwork_IsRejectedNamingTheRegionAndTheTerraformVariable(string zones, string expected)
    {
        var functions = Functions(h.Options with { Network = Network });

        await functions.Submit.HandleAsync(h.Message(Encoding.UTF8.GetBytes(Yaml(zones)), new Dictionary<string, string> { [SubmitFunction.SubmissionIdAttribute] = "s1" }), CancellationToken.None);

        var job = await h.JobAsync(JobId.From("network test", "client:s1"));
        Assert.Equal(JobState.Rejected, job.State);
        Assert.Contains("tpu.zones", job.LastError, StringComparison.Ordinal);
        Assert.Contains(expected, job.LastError, StringComparison.Ordinal);
        Assert.Contains("tpu_subnets", job.LastError, StringComparison.Ordinal);
        Assert.Contains("regions with one: us-central2", job.LastError, StringComparison.Ordinal);
        Assert.Empty(await h.TakeAsync(Topics.Default.Provision));
    }

    [Fact]
    public async Task SubmitAndProvision_ZoneInARegionWithASubnetwork_CreatesTheNodeOnThatSubnetworkWithoutExternalIps()
    {
        var functions = Functions(h.Options with { Network = Network });
        await functions.Submit.HandleAsync(h.Message(Encoding.UTF8.GetBytes(Yaml("zone: us-central2-b")), new Dictionary<string, string> { [SubmitFunction.SubmissionIdAttribute] = "s1" }), CancellationToken.None);
        var job = await h.JobAsync(JobId.From("network test", "client:s1"));

        await functions.Provision.HandleAsync(h.Step(job.Id, 1), CancellationToken.None);

        var queued = await h.Tpu.GetQueuedResourceAsync("us-central2-b", $"{job.Id}-1", CancellationToken.None);
        var config = queued?.Tpu?.NodeSpec[0].Node.NetworkConfig;
        Assert.Equal(
            ("projects/test-project/global/networks/spotjax-tpu", "projects/test-project/regions/us-central2/subnetworks/spotjax-tpu-us-central2", false),
            (config?.Network, config?.Subnetwork, config?.EnableExternalIps ?? true));
        var node = await h.Tpu.GetNodeAsync("us-central2-b", $"{job.Id}-1", CancellationToken.None);
        Assert.All(node!.NetworkEndpoints!, e => Assert.Null(e.AccessConfig));
    }

    [Fact]
    public async Task Provision_RegionLostItsSubnetworkAfterSubmission_CreatesNothingAndEndsTheAttemptAsPermanentWithTheFix()
    {
        // Submitted while the deployment had a subnetwork in europe-west4; provisioned after it was removed.
        var before = TpuNetwork.Parse(Network.Network, "europe-west4=projects/test-project/regions/europe-west4/subnetworks/spotjax-tpu-europe-west4", null);
        await Functions(h.Options with { Network = before }).Submit.HandleAsync(
            h.Message(Encoding.UTF8.GetBytes(Yaml("zone: europe-west4-a")), new Dictionary<string, string> { [SubmitFunction.SubmissionIdAttribute] = "s1" }),
            CancellationToken.None);
        var job = await h.JobAsync(JobId.From("network test", "client:s1"));
        var functions = Functions(h.Options with { Network = Network });

        await functions.Provision.HandleAsync(h.Step(job.Id, 1), CancellationToken.None);
        var recover = Assert.Single(await h.TakeAsync(Topics.Default.Recover));
        await functions.Recover.HandleAsync(h.Message(recover.ToBytes()), CancellationToken.None);

        Assert.Null(await h.Tpu.GetQueuedResourceAsync("europe-west4-a", $"{job.Id}-1", CancellationToken.None));
        Assert.Equal((job.Id, 1, AttemptEnd.Permanent), (recover.JobId, recover.Attempt, recover.Cause));
        Assert.Contains("europe-west4", recover.Detail, StringComparison.Ordinal);
        Assert.Contains("tpu_subnets", recover.Detail, StringComparison.Ordinal);
        job = await h.JobAsync(job.Id);
        Assert.Equal(JobState.Failed, job.State);
        Assert.Contains("tpu_subnets", job.LastError, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Launch_NodeReportingExternalAddresses_PlansEveryWorkerAndTheCoordinatorOnTheInternalAddress()
    {
        // The node as the API reports it with enableExternalIps: an accessConfig.externalIp per worker
        // (TEST-NET-3 addresses, routed nowhere). launch must never need them.
        var tpu = new ExternalAddressTpuApi(h.Tpu);
        var runner = new PlanRecordingRunner(h.Workers);
        var functions = new SpotJaxFunctions(h.Store, h.Bus, h.Objects, tpu, runner, h.Options with { EnableExternalIps = true }, h.Time);
        await functions.Submit.HandleAsync(h.Message(Encoding.UTF8.GetBytes(Yaml("zone: us-central2-b", "v4-16")), new Dictionary<string, string> { [SubmitFunction.SubmissionIdAttribute] = "s1" }), CancellationToken.None);
        var job = await h.JobAsync(JobId.From("network test", "client:s1"));
        await functions.Provision.HandleAsync(h.Step(job.Id, 1), CancellationToken.None);

        await functions.Launch.HandleAsync(h.Step(job.Id, 1), CancellationToken.None);

        var node = await tpu.GetNodeAsync("us-central2-b", $"{job.Id}-1", CancellationToken.None);
        var plan = Assert.Single(runner.Plans);
        Assert.Equal(node!.NetworkEndpoints!.Select(e => e.IpAddress), plan.Workers.Select(w => w.IpAddress));
        Assert.All(node.NetworkEndpoints!, e => Assert.StartsWith("203.0.113.", e.AccessConfig?.ExternalIp, StringComparison.Ordinal));
        Assert.DoesNotContain(plan.Workers, w => w.IpAddress.StartsWith("203.0.113.", StringComparison.Ordinal));
        Assert.StartsWith($"{node.NetworkEndpoints![0].IpAddress}:", plan.Environment["JAX_COORDINATOR_ADDRESS"], StringComparison.Ordinal);
    }

    private SpotJaxFunctions Functions(ControlPlaneOptions options) => new(h.Store, h.Bus, h.Objects, h.Tpu, h.Workers, options, h.Time);

    private string Yaml(string zones, string type = "v4-8") =>
        $"""
        name: network test
        tpu: {"{"}type: {type}, {zones}{"}"}
        code: {h.Code(Script)}
        script: train.py
        """;

    /// <summary>The simulator's node with an external address per worker that differs from its internal one.</summary>
    private sealed class ExternalAddressTpuApi(ITpuApi inner) : ITpuApi
    {
        public async Task<Node?> GetNodeAsync(string zone, string nodeId, CancellationToken cancellationToken) =>
            await inner.GetNodeAsync(zone, nodeId, cancellationToken) is { } node
                ? node with { NetworkEndpoints = node.NetworkEndpoints?.Select((e, i) => e with { AccessConfig = new AccessConfig { ExternalIp = $"203.0.113.{i + 1}" } }).ToList() }
                : null;

        public Task<IReadOnlyList<QueuedResource>> ListQueuedResourcesAsync(string zone, CancellationToken cancellationToken) => inner.ListQueuedResourcesAsync(zone, cancellationToken);

        public Task<Operation?> CreateQueuedResourceAsync(string zone, string queuedResourceId, QueuedResource body, string requestId, CancellationToken cancellationToken) =>
            inner.CreateQueuedResourceAsync(zone, queuedResourceId, body, requestId, cancellationToken);

        public Task<QueuedResource?> GetQueuedResourceAsync(string zone, string queuedResourceId, CancellationToken cancellationToken) =>
            inner.GetQueuedResourceAsync(zone, queuedResourceId, cancellationToken);

        public Task<Operation?> DeleteQueuedResourceAsync(string zone, string queuedResourceId, bool force, string requestId, CancellationToken cancellationToken) =>
            inner.DeleteQueuedResourceAsync(zone, queuedResourceId, force, requestId, cancellationToken);

        public Task<Operation> GetOperationAsync(string name, CancellationToken cancellationToken) => inner.GetOperationAsync(name, cancellationToken);
    }

    /// <summary>The local runner, keeping every plan it is asked to launch.</summary>
    private sealed class PlanRecordingRunner(IWorkerRunner inner) : IWorkerRunner
    {
        private readonly ConcurrentQueue<LaunchPlan> plans = new();

        public IReadOnlyList<LaunchPlan> Plans => [.. plans];

        public Task<IReadOnlyList<WorkerResult>> LaunchAsync(LaunchPlan plan, CancellationToken cancellationToken)
        {
            plans.Enqueue(plan);
            return inner.LaunchAsync(plan, cancellationToken);
        }

        public Task<IReadOnlyList<WorkerResult>> StopAsync(LaunchPlan plan, CancellationToken cancellationToken) => inner.StopAsync(plan, cancellationToken);
    }
}
