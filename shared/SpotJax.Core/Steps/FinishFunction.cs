using SpotJax.Core.Jobs;
using SpotJax.Core.Lifecycle;
using SpotJax.Core.Ports;

namespace SpotJax.Core.Steps;

/// <summary>
/// <c>finish</c>: deletes the queued resource of a job that succeeded, failed or is being
/// cancelled, and completes a cancel.
/// </summary>
public sealed class FinishFunction(
    IJobStore store,
    JobTransitions transitions,
    ITpuApi tpu,
    TimeProvider time) : IPubSubFunction
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
            await QueuedResourceDeletes.DeleteAsync(tpu, zone, id, RequestIds.For(job.Id, job.Attempt, "delete"), cancellationToken);
        }

        if (job.State == JobState.Cancelling)
        {
            await transitions.ApplyAsync(job.Id, j => JobLifecycle.CompleteCancel(j, time.GetUtcNow()), cancellationToken);
        }
    }
}
