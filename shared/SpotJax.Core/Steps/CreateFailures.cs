using SpotJax.Core.Jobs;
using SpotJax.Core.Lifecycle;

namespace SpotJax.Core.Steps;

/// <summary>
/// What <c>provision</c> and the sweep do with a failed queued-resource create once it is classified:
/// a permission or invalid request fails the job at once (through <c>recover</c>, which also deletes
/// anything left behind); anything else is counted as a try of the attempt, and enough quota or
/// capacity refusals in one zone end the attempt so that the next one moves zone.
/// </summary>
internal static class CreateFailures
{
    /// <summary>The project, zone and TPU of the job's current attempt, for the fix a failure names.</summary>
    public static ProvisionTarget Target(Job job, ControlPlaneOptions options) => new(
        options.Project,
        job.Zone!,
        job.Spec!.Tpu.Type,
        job.Spec.Tpu.RuntimeVersion ?? TpuDefaults.RuntimeVersion(job.Spec.Tpu.Type),
        string.IsNullOrWhiteSpace(options.NodeServiceAccount) ? null : options.NodeServiceAccount.Trim());

    public static async Task RecordAsync(
        JobTransitions transitions, StepPublisher steps, LifecycleOptions lifecycle, Job job, int @try, ProvisionFailure failure, DateTimeOffset now, CancellationToken ct)
    {
        if (failure.IsPermanent)
        {
            await steps.RecoverAsync(
                new StepMessage(job.Id, job.Attempt) { Cause = AttemptEnd.Permanent, Detail = $"the TPU API refused the queued resource in {job.Zone}: {failure}" },
                ct);
            return;
        }

        var decision = await transitions.ApplyAsync(job.Id, j => JobLifecycle.CreateFailed(j, job.Attempt, @try, failure, lifecycle, now, lifecycle.JitterSample()), ct);
        if (decision?.Verdict is Verdict.Apply or Verdict.AlreadyApplied && JobLifecycle.ShouldFailOver(decision.Job, lifecycle))
        {
            await FailOverAsync(steps, decision.Job, ct);
        }
    }

    /// <summary>Ends the attempt so that the next one provisions in the next zone (recover is idempotent).</summary>
    public static Task FailOverAsync(StepPublisher steps, Job job, CancellationToken ct) =>
        steps.RecoverAsync(
            new StepMessage(job.Id, job.Attempt)
            {
                Cause = AttemptEnd.ProvisionFailed,
                Detail = $"{job.CapacityRefusals} create(s) refused for quota or capacity in {job.Zone}; last: {job.LastError}",
            },
            ct);
}
