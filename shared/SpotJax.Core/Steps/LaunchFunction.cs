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

        var node = await tpu.GetNodeAsync(zone, job.QueuedResourceId!, cancellationToken);
        var endpoints = node?.NetworkEndpoints ?? [];
        if (node?.Name is null || endpoints.Count == 0)
        {
            throw new TransientException($"node {job.QueuedResourceId} has no network endpoints yet");
        }

        // The lease makes this call the attempt's one launch: a duplicate message, or the sweep's
        // republish while this one runs, finds it held and does nothing.
        var now = time.GetUtcNow();
        var ready = await transitions.ApplyAsync(job.Id, j => JobLifecycle.NodesReady(j, step.Attempt, endpoints.Count, now, now + options.Lifecycle.LaunchLease), cancellationToken);
        if (ready?.Verdict is not Verdict.Apply)
        {
            return;
        }

        var plan = Plan(ready.Job, node.Name, endpoints);
        var results = await workers.LaunchAsync(plan, cancellationToken);
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
            await workers.StopAsync(plan, cancellationToken);
        }
    }

    /// <summary>
    /// The libtpu release index that the original tool adds to every requirements install
    /// (<c>--extra-index-url</c>): <c>jax[tpu]</c> finds its libtpu there.
    /// </summary>
    public const string LibtpuIndexUrl = "https://storage.googleapis.com/jax-releases/libtpu_releases.html";

    /// <summary>The attempt's launch plan, with the environment contract of the original tool.</summary>
    public LaunchPlan Plan(Job job, string nodeName, IReadOnlyList<NetworkEndpoint> endpoints)
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

        return new LaunchPlan
        {
            JobId = job.Id,
            Attempt = job.Attempt,
            NodeName = nodeName,
            Workers = endpoints.Select((e, i) => new WorkerEndpoint(i, e.IpAddress ?? "", e.Port)).ToList(),
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
