using SpotJax.Core;
using SpotJax.Core.Jobs;
using SpotJax.Core.Lifecycle;
using SpotJax.Core.Ports;
using SpotJax.Core.Tpu;

namespace SpotJax.Tests.Handlers;

/// <summary>The step handlers on a multislice job (2 x v4-8: two nodes of one worker each) over the simulator.</summary>
public sealed class MultisliceHandlerTests : IAsyncLifetime
{
    private const string Zone = "us-central2-b";
    private const string Forever = "import time\nwhile True:\n    time.sleep(0.1)\n";
    private HandlerHarness h = null!;

    public async Task InitializeAsync() => h = await HandlerHarness.StartAsync();

    public async Task DisposeAsync() => await h.DisposeAsync();

    private async Task<Job> RunningAsync() =>
        await h.RunAsync(await h.SubmitAsync(HandlerHarness.JobYaml(h.Code(Forever)) + "\nslices: 2\n"));

    [Fact]
    public async Task Launch_TwoSlices_BothNodesLaunchedAndTheJobCountsEveryWorker()
    {
        var job = await RunningAsync();

        Assert.Equal((JobState.Running, 2), (job.State, job.Workers));
        var nodes = await Task.WhenAll(SliceNodes.NodeIds(job.QueuedResourceId!, 2).Select(n => h.Tpu.GetNodeAsync(Zone, n, CancellationToken.None)));
        Assert.All(nodes, n => Assert.Equal("READY", n?.State));
    }

    [Fact]
    public async Task Plans_TwoSlicesOfFourWorkers_NumberWorkersAcrossSlicesAndAddTheMegascaleVariables()
    {
        var job = (await h.SubmitAsync(HandlerHarness.JobYaml(h.Code(Forever), type: "v4-32") + "\nslices: 2\n")) with { Attempt = 1, QueuedResourceId = "q-1" };
        Node Node(int slice) => new()
        {
            Name = $"projects/p/locations/{Zone}/nodes/q-1-{slice}",
            NetworkEndpoints = [.. Enumerable.Range(0, 4).Select(w => new NetworkEndpoint { IpAddress = $"10.0.{slice}.{w + 2}", Port = 8470 })],
        };

        var plans = h.Functions.Launch.Plans(job, [Node(0), Node(1)]);

        Assert.Equal([0, 4], plans.Select(p => p.FirstWorker));
        Assert.Equal([4, 5, 6, 7], plans[1].Workers.Select(w => w.Index));
        Assert.Equal([0, 1, 2, 3], plans[1].Workers.Select(plans[1].NodeWorker));
        Assert.Equal($"projects/p/locations/{Zone}/nodes/q-1-1", plans[1].NodeName);
        foreach (var (plan, slice) in plans.Select((p, i) => (p, i)))
        {
            Assert.Equal("10.0.0.2:8081", plan.Environment["MEGASCALE_COORDINATOR_ADDRESS"]);
            Assert.Equal(("2", $"{slice}", "8081"), (plan.Environment["MEGASCALE_NUM_SLICES"], plan.Environment["MEGASCALE_SLICE_ID"], plan.Environment["MEGASCALE_PORT"]));
            Assert.Equal(("4", $"10.0.{slice}.2:8476"), (plan.Environment["SPOT_NUM_WORKERS"], plan.Environment["JAX_COORDINATOR_ADDRESS"]));
        }
    }

    [Fact]
    public void Plans_OneSlice_SetsNoMegascaleVariable()
    {
        var job = new Job
        {
            Id = "j",
            Submission = "s",
            Spec = new JobSpec { Name = "j", Tpu = new TpuSpec { Type = "v4-8", Zones = [Zone] }, Code = "gs://b/c.tar.gz", Script = "t.py" },
            State = JobState.Launching,
            Attempt = 1,
            Zone = Zone,
            QueuedResourceId = "j-1",
            SubmittedAt = DateTimeOffset.UnixEpoch,
            UpdatedAt = DateTimeOffset.UnixEpoch,
        };

        var plan = Assert.Single(h.Functions.Launch.Plans(job, [new Node { Name = $"projects/p/locations/{Zone}/nodes/j-1", NetworkEndpoints = [new NetworkEndpoint { IpAddress = "10.0.0.2" }] }]));

        Assert.DoesNotContain(plan.Environment.Keys, k => k.StartsWith("MEGASCALE_", StringComparison.Ordinal));
        Assert.Equal(0, plan.FirstWorker);
    }

    [Fact]
    public async Task Sweep_OneSlicesNodePreemptedWhileTheQueuedResourceShowsActive_AsksForRecoveryOfTheAttempt()
    {
        var job = await RunningAsync();
        var sweep = h.Sweep(h.Options, new ActiveQueuedResources(h.Tpu));
        await sweep.HandleAsync(CancellationToken.None);
        Assert.Empty(await h.TakeAsync(Topics.Default.Recover));

        await h.Simulator.PreemptAsync(Zone, job.QueuedResourceId!, slice: 1);
        await sweep.HandleAsync(CancellationToken.None);

        var recover = Assert.Single(await h.TakeAsync(Topics.Default.Recover));
        Assert.Equal((job.Id, 1, AttemptEnd.Preempted), (recover.JobId, recover.Attempt, recover.Cause));
        Assert.Equal($"node {job.QueuedResourceId}-1 of slice 1 PREEMPTED", recover.Detail);
    }

    [Fact]
    public async Task Recover_DeliveredTwiceAfterASlicePreemption_OneRecoveryAndTheWholeQueuedResourceDeleted()
    {
        var job = await RunningAsync();
        await h.Simulator.PreemptAsync(Zone, job.QueuedResourceId!, slice: 1);

        var step = h.Step(job.Id, 1, AttemptEnd.Preempted, "worker 1 got a preemption notice");
        await Task.WhenAll(h.Functions.Recover.HandleAsync(step, CancellationToken.None), h.Functions.Recover.HandleAsync(step, CancellationToken.None));

        job = await h.JobAsync(job.Id);
        Assert.Equal((JobState.Recovering, 1), (job.State, job.PreemptionsSpent));
        Assert.Single(await h.HistoryAsync(job.Id), e => e.To == JobState.Recovering);
        var queued = await h.Tpu.GetQueuedResourceAsync(Zone, job.QueuedResourceId!, CancellationToken.None);
        Assert.True(queued is null || queued.State?.State == QueuedResourceStates.Deleting, queued?.State?.State);
        Assert.All(
            await Task.WhenAll(SliceNodes.NodeIds(job.QueuedResourceId!, 2).Select(n => h.Tpu.GetNodeAsync(Zone, n, CancellationToken.None))),
            n => Assert.True(n is null || n.State == "DELETING", n?.State));
    }

    /// <summary>
    /// The TPU API as it might look when one node of a multislice queued resource is preempted and the queued
    /// resource itself stays ACTIVE (the API's behaviour there is unconfirmed; the simulator suspends it).
    /// </summary>
    private sealed class ActiveQueuedResources(ITpuApi inner) : ITpuApi
    {
        private static QueuedResource Active(QueuedResource q) => q with { State = new QueuedResourceState { State = QueuedResourceStates.Active } };

        public async Task<IReadOnlyList<QueuedResource>> ListQueuedResourcesAsync(string zone, CancellationToken cancellationToken) =>
            [.. (await inner.ListQueuedResourcesAsync(zone, cancellationToken)).Select(Active)];

        public async Task<QueuedResource?> GetQueuedResourceAsync(string zone, string queuedResourceId, CancellationToken cancellationToken) =>
            await inner.GetQueuedResourceAsync(zone, queuedResourceId, cancellationToken) is { } q ? Active(q) : null;

        public Task<Operation?> CreateQueuedResourceAsync(string zone, string queuedResourceId, QueuedResource body, string requestId, CancellationToken cancellationToken) =>
            inner.CreateQueuedResourceAsync(zone, queuedResourceId, body, requestId, cancellationToken);

        public Task<Operation?> DeleteQueuedResourceAsync(string zone, string queuedResourceId, bool force, string requestId, CancellationToken cancellationToken) =>
            inner.DeleteQueuedResourceAsync(zone, queuedResourceId, force, requestId, cancellationToken);

        public Task<Node?> GetNodeAsync(string zone, string nodeId, CancellationToken cancellationToken) => inner.GetNodeAsync(zone, nodeId, cancellationToken);

        public Task<Operation> GetOperationAsync(string name, CancellationToken cancellationToken) => inner.GetOperationAsync(name, cancellationToken);
    }
}
