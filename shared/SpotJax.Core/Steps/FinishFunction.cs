using SpotJax.Core.Jobs;
using SpotJax.Core.Lifecycle;
using SpotJax.Core.Ports;

namespace SpotJax.Core.Steps;

/// <summary>
/// <c>finish</c>: deletes the queued resource of a job that succeeded, failed or is being
/// cancelled (unless another deployment's label is on it: <see cref="QueuedResourceDeletes.DeleteOwnAsync"/>), and
/// completes a cancel.
/// </summary>
/// <param name="warn">Where a queued resource left alone as another deployment's is reported (the function's log).</param>
public sealed class FinishFunction(
    IJobStore store,
    JobTransitions transitions,
    ITpuApi tpu,
    ControlPlaneOptions options,
    TimeProvider time,
    Action<string>? warn = null) : IPubSubFunction
{
    public async Task HandleAsync(PubSubMessage message, CancellationToken cancellationToken)
    {
        var step = StepMessage.Parse(message);
        var job = await store.GetAsync(step.JobId, cancellationToken);
        if (job is null || job.State is not (JobState.Succeeded or JobState.Failed or JobState.Cancelling or JobState.Cancelled))
        {
            return;
        }

        if (job.Zone is { } zone && job.QueuedResourceId is { } id)
        {
            await QueuedResourceDeletes.DeleteOwnAsync(tpu, zone, id, RequestIds.For(job.Id, job.Attempt, "delete"), options.Deployment, warn, cancellationToken);
        }

        if (job.State == JobState.Cancelling)
        {
            await transitions.ApplyAsync(job.Id, j => JobLifecycle.CompleteCancel(j, time.GetUtcNow()), cancellationToken);
        }
    }
}
