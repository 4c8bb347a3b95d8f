using System.Globalization;
using SpotJax.Core.Jobs;
using SpotJax.Core.Lifecycle;
using SpotJax.Core.Ports;
using SpotJax.Core.Tpu;

namespace SpotJax.Core.Steps;

/// <summary>
/// <c>launch</c>: once the attempt's queued resource is ACTIVE, puts the agent and its configuration
/// on every worker and starts it detached (in parallel, through <see cref="IWorkerRunner"/>), in
/// seconds: the agents prepare on their own and report <c>prepared</c> (the job moves to RUNNING
/// when every worker has) or <c>prepare-failed</c>, through <see cref="BucketEventsFunction"/>. Each attempt is launched once: the launch that moves the job to LAUNCHING holds a lease
/// (<see cref="Job.LaunchLeaseUntil"/>) and any other launch message for the attempt does nothing
/// until that lease expires (the holder crashed); the agent also refuses a second copy. An attempt
/// that ended while its agents were being started is stopped again.
/// </summary>
public sealed class LaunchFunction(
    JobTransitions transitions,
    IJobStore store,
    ITpuApi tpu,
    IWorkerRunner workers,
    StepPublisher steps,
    ControlPlaneOptions options,
    TimeProvider time) : IPubSubFunction
{
    public async Task HandleAsync(PubSubMessage message, CancellationToken cancellationToken)
    {
        var step = StepMessage.Parse(message);
        var job = await store.GetAsync(step.JobId, cancellationToken);
        if (job is null || job.Attempt != step.Attempt || job.State is not (JobState.Provisioning or JobState.Launching))
        {
            return;
        }

        var zone = job.Zone!;
        var queued = await tpu.GetQueuedResourceAsync(zone, job.QueuedResourceId!, cancellationToken);
        var state = queued?.State?.State;
        if (state != QueuedResourceStates.Active)
        {
            if (queued is null || QueuedResourceStates.IsLost(state))
            {
                await steps.RecoverAsync(new StepMessage(job.Id, job.Attempt) { Cause = AttemptEnd.Preempted, Detail = $"queued resource {state ?? "gone"} before launch" }, cancellationToken);
            }

            // Still on its way: the sweep publishes launch again when it is ACTIVE.
            return;
        }

        var nodes = new List<Node>();
        foreach (var nodeId in SliceNodes.NodeIds(job.QueuedResourceId!, job.Spec!.Slices))
        {
            var node = await tpu.GetNodeAsync(zone, nodeId, cancellationToken);
            if (node?.State is "PREEMPTED" or "TERMINATED")
            {
                // One slice taken back ends the attempt of them all, whatever the queued resource says.
                await steps.RecoverAsync(new StepMessage(job.Id, job.Attempt) { Cause = AttemptEnd.Preempted, Detail = $"node {nodeId} {node.State} before launch" }, cancellationToken);
                return;
            }

            if (node?.Name is null || node.NetworkEndpoints is not { Count: > 0 })
            {
                throw new TransientException($"node {nodeId} has no network endpoints yet");
            }

            nodes.Add(node);
        }

        // The lease makes this call the attempt's one launch: a duplicate message, or the sweep's
        // republish while this one runs, finds it held and does nothing.
        var now = time.GetUtcNow();
        var total = nodes.Sum(n => n.NetworkEndpoints!.Count);
        var ready = await transitions.ApplyAsync(job.Id, j => JobLifecycle.NodesReady(j, step.Attempt, total, now, now + options.Lifecycle.LaunchLease), cancellationToken);
        if (ready?.Verdict is not Verdict.Apply)
        {
            return;
        }

        var plans = Plans(ready.Job, nodes);
        var results = (await Task.WhenAll(plans.Select(p => workers.LaunchAsync(p, cancellationToken)))).SelectMany(r => r);
        var failed = results.Where(r => !r.Succeeded).OrderBy(r => r.Index).ToList();
        if (failed.Count > 0)
        {
            var detail = string.Join("; ", failed.Select(r => string.Create(CultureInfo.InvariantCulture, $"worker {r.Index} exited {r.ExitCode}: {Tail(r.StderrTail)}")));
            await steps.RecoverAsync(new StepMessage(job.Id, job.Attempt) { Cause = AttemptEnd.LaunchFailed, Detail = detail }, cancellationToken);
            return;
        }

        // Read again after the agents started: a recovery that ended the attempt meanwhile (its
        // resource deleted while this launch ran) leaves a script nobody would ever stop.
        var started = await transitions.ApplyAsync(job.Id, j => JobLifecycle.AgentsStarted(j, step.Attempt, time.GetUtcNow()), cancellationToken);
        if (started?.Verdict is not (Verdict.Apply or Verdict.AlreadyApplied))
        {
            await Task.WhenAll(plans.Select(p => workers.StopAsync(p, cancellationToken)));
        }
    }

    /// <summary>
    /// The libtpu release index that the original tool adds to every requirements install
    /// (<c>--extra-index-url</c>): <c>jax[tpu]</c> finds its libtpu there.
    /// </summary>
    public const string LibtpuIndexUrl = "https://storage.googleapis.com/jax-releases/libtpu_releases.html";

    /// <summary>
    /// The port of libtpu's multislice (DCN) coordinator in <c>MEGASCALE_COORDINATOR_ADDRESS</c> and
    /// <c>MEGASCALE_PORT</c>: the value Ray's and XPK-style launchers set (unconfirmed: not in Google's documentation).
    /// </summary>
    public const int MegascalePort = 8081;

    /// <summary>The attempt's launch plan on a node of one slice, with the environment contract of the original tool.</summary>
    public LaunchPlan Plan(Job job, string nodeName, IReadOnlyList<NetworkEndpoint> endpoints) =>
        Plans(job, [new Node { Name = nodeName, NetworkEndpoints = endpoints }])[0];

    /// <summary>
    /// One plan per slice, <paramref name="nodes"/> being the slices' nodes in order. Each slice keeps the
    /// single-slice contract (<c>SPOT_WORKER_ID</c>, <c>SPOT_NUM_WORKERS</c> and <c>JAX_COORDINATOR_ADDRESS</c> of its
    /// own node); with several slices every worker also gets the <c>MEGASCALE_*</c> variables, slice 0 worker 0 being
    /// the coordinator. Worker indexes (markers, logs) run on across the slices: slice 1's first worker follows
    /// slice 0's last.
    /// </summary>
    public IReadOnlyList<LaunchPlan> Plans(Job job, IReadOnlyList<Node> nodes)
    {
        var plans = new List<LaunchPlan>();
        var firstWorker = 0;
        for (var slice = 0; slice < nodes.Count; slice++)
        {
            var endpoints = nodes[slice].NetworkEndpoints!;
            var env = new Dictionary<string, string>();
            if (nodes.Count > 1)
            {
                var coordinator = nodes[0].NetworkEndpoints![0].IpAddress;
                env["MEGASCALE_COORDINATOR_ADDRESS"] = string.Create(CultureInfo.InvariantCulture, $"{coordinator}:{MegascalePort}");
                env["MEGASCALE_NUM_SLICES"] = nodes.Count.ToString(CultureInfo.InvariantCulture);
                env["MEGASCALE_SLICE_ID"] = slice.ToString(CultureInfo.InvariantCulture);
                env["MEGASCALE_PORT"] = MegascalePort.ToString(CultureInfo.InvariantCulture);
            }

            plans.Add(SlicePlan(job, nodes[slice].Name!, endpoints, firstWorker, env));
            firstWorker += endpoints.Count;
        }

        return plans;
    }

    private LaunchPlan SlicePlan(Job job, string nodeName, IReadOnlyList<NetworkEndpoint> endpoints, int firstWorker, Dictionary<string, string> sliceEnv)
    {
        var spec = job.Spec!;
        var env = new Dictionary<string, string>(spec.Env)
        {
            ["SPOT_CHECKPOINT_DIR"] = JobPaths.CheckpointDir(job, options.Bucket),
            ["SPOT_LOG_DIR"] = JobPaths.LogDir(job, options.Bucket),
            ["SPOT_JOB_ID"] = job.Id,
            ["SPOT_IS_RESTART"] = job.Attempt > 1 ? "true" : "false",
            ["SPOT_ATTEMPT"] = job.Attempt.ToString(CultureInfo.InvariantCulture),
            ["SPOT_NUM_WORKERS"] = endpoints.Count.ToString(CultureInfo.InvariantCulture),
        };
        if (endpoints.Count > 1)
        {
            env["JAX_COORDINATOR_ADDRESS"] = string.Create(CultureInfo.InvariantCulture, $"{endpoints[0].IpAddress}:{options.CoordinatorPort}");
        }

        foreach (var (name, value) in sliceEnv)
        {
            env[name] = value;
        }

        return new LaunchPlan
        {
            JobId = job.Id,
            Attempt = job.Attempt,
            NodeName = nodeName,
            Workers = endpoints.Select((e, i) => new WorkerEndpoint(firstWorker + i, e.IpAddress ?? "", e.Port)).ToList(),
            FirstWorker = firstWorker,
            CodeUri = spec.Code,
            Script = spec.Script,
            Args = spec.Args,
            Environment = env,
            MarkersUri = BucketLayout.GsUri(options.Bucket, BucketLayout.MarkersPrefix(job.Id)),
            LogUri = JobPaths.LogDir(job, options.Bucket),
            Python = spec.Python,
            ExtraIndexUrls = [LibtpuIndexUrl, .. spec.ExtraIndexUrls.Where(u => u != LibtpuIndexUrl)],
            PipArgs = spec.PipArgs,
            SecretEnvironment = spec.SecretEnv,
        };
    }

    private static string Tail(string text)
    {
        var trimmed = text.Trim();
        return trimmed.Length <= 300 ? trimmed : trimmed[^300..];
    }
}
