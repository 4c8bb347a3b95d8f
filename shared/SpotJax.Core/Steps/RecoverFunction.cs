using SpotJax.Core.Jobs;
using SpotJax.Core.Lifecycle;
using SpotJax.Core.Ports;

namespace SpotJax.Core.Steps;

/// <summary>
/// <c>recover</c>: ends an attempt (spending the preemption or the failure budget), deletes its
/// queued resource (unless another deployment's label is on it: <see cref="QueuedResourceDeletes.DeleteOwnAsync"/>),
/// and asks for the next attempt after the backoff, or fails the job.
/// </summary>
/// <param name="warn">Where a queued resource left alone as another deployment's is reported (the function's log).</param>
public sealed class RecoverFunction(
    JobTransitions transitions,
    ITpuApi tpu,
    StepPublisher steps,
    ControlPlaneOptions options,
    TimeProvider time,
    Action<string>? warn = null) : IPubSubFunction
{
    public async Task HandleAsync(PubSubMessage message, CancellationToken cancellationToken)
    {
        var step = StepMessage.Parse(message);
        var cause = step.Cause ?? throw new MalformedMessageException($"recover message {message.MessageId} has no cause");
        var decision = await transitions.ApplyAsync(
            step.JobId,
            job => JobLifecycle.EndAttempt(job, step.Attempt, cause, step.Detail ?? "", step.ExitCode, options.Lifecycle, time.GetUtcNow(), step.OutputTail),
            cancellationToken);
        if (decision?.Verdict is not (Verdict.Apply or Verdict.AlreadyApplied))
        {
            return;
        }

        var job = decision.Job;
        if (job.Zone is { } zone && job.QueuedResourceId is { } id)
        {
            await QueuedResourceDeletes.DeleteOwnAsync(tpu, zone, id, RequestIds.For(job.Id, job.Attempt, "delete"), options.Deployment, warn, cancellationToken);
        }

        if (job.State == JobState.Recovering)
        {
            await steps.ProvisionAsync(job.Id, job.Attempt + 1, cancellationToken);
        }
        else if (job.State == JobState.Failed)
        {
            await steps.FinishAsync(job.Id, job.Attempt, cancellationToken);
        }
    }
}
