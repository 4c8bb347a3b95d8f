using System.Globalization;
using System.Text.Json;
using SpotJax.Core.Jobs;
using SpotJax.Core.Lifecycle;
using SpotJax.Core.Ports;
using SpotJax.Core.Tpu;

namespace SpotJax.Core.Steps;

/// <summary>
/// <c>bucket-events</c>: object-finalize events of the control bucket. A manifest under
/// <c>jobs/</c> submits a job; an object under a job's checkpoint folder resets its stall timer and
/// records its step (<see cref="CheckpointStep"/>; the highest seen is kept); the node agent's
/// markers advance the attempt (prepared, prepare-failed, preempted, exited). The agent's own log files
/// in the job's default log folder (<see cref="BucketLayout.IsAgentLogObject"/>) are never taken for
/// checkpoints, even under a <c>checkpointDir</c> that contains that folder.
/// </summary>
public sealed class BucketEventsFunction(
    JobSubmitter submitter,
    JobTransitions transitions,
    IJobStore store,
    IObjectStore objects,
    ITpuApi tpu,
    StepPublisher steps,
    ControlPlaneOptions options,
    TimeProvider time) : IStorageFunction
{
    public async Task HandleAsync(StorageObjectEvent storageEvent, CancellationToken cancellationToken)
    {
        if (storageEvent.Bucket != options.Bucket)
        {
            return;
        }

        var name = storageEvent.Name;
        if (name.StartsWith(BucketLayout.ManifestPrefix, StringComparison.Ordinal) && IsManifest(name))
        {
            var document = await objects.GetAsync(name, cancellationToken);
            if (document is not null)
            {
                var key = string.Create(CultureInfo.InvariantCulture, $"gcs:{storageEvent.Bucket}/{name}#{storageEvent.Generation}");
                await submitter.SubmitAsync(document, key, cancellationToken);
            }

            return;
        }

        if (BucketLayout.TryParseMarker(name, out var marker))
        {
            await OnMarkerAsync(marker, cancellationToken);
            return;
        }

        // The agent's log uploads are most of the bucket's events (one a second per worker while a script
        // prints) and never checkpoints: answered without the Firestore read of the job each would cost.
        if (BucketLayout.JobIdOf(name) is { } jobId && !BucketLayout.IsAgentLogObject(name))
        {
            await OnJobObjectAsync(jobId, storageEvent, cancellationToken);
        }
    }

    private static bool IsManifest(string name) =>
        name.EndsWith(".yaml", StringComparison.OrdinalIgnoreCase) || name.EndsWith(".yml", StringComparison.OrdinalIgnoreCase) ||
        name.EndsWith(".json", StringComparison.OrdinalIgnoreCase);

    private async Task OnJobObjectAsync(string jobId, StorageObjectEvent storageEvent, CancellationToken ct)
    {
        var job = await store.GetAsync(jobId, ct);
        if (job is null)
        {
            return;
        }

        var checkpointDir = JobPaths.CheckpointDir(job, options.Bucket) + "/";
        var uri = BucketLayout.GsUri(options.Bucket, storageEvent.Name);
        if (!uri.StartsWith(checkpointDir, StringComparison.Ordinal))
        {
            return;
        }

        var step = CheckpointStep.Of(uri[checkpointDir.Length..]);
        // Most files of a checkpoint change nothing (same step, seconds later): decided on the job just read,
        // without the transition's second read.
        if (JobLifecycle.RecordCheckpoint(job, step, storageEvent.Updated).Verdict != Verdict.Apply)
        {
            return;
        }

        await transitions.ApplyAsync(jobId, j => JobLifecycle.RecordCheckpoint(j, step, storageEvent.Updated), ct);
    }

    private async Task OnMarkerAsync(MarkerRef marker, CancellationToken ct)
    {
        var job = await store.GetAsync(marker.JobId, ct);
        if (job is null || job.Attempt != marker.Attempt || job.State is not (JobState.Provisioning or JobState.Launching or JobState.Running))
        {
            return;
        }

        switch (marker.Kind)
        {
            case MarkerKind.Preempted:
                await steps.RecoverAsync(new StepMessage(job.Id, job.Attempt) { Cause = AttemptEnd.Preempted, Detail = $"worker {marker.Worker} got a preemption notice" }, ct);
                break;
            case MarkerKind.Exited:
                await OnExitedAsync(job, marker, ct);
                break;
            case MarkerKind.Prepared:
                await transitions.ApplyAsync(job.Id, j => JobLifecycle.WorkerPrepared(j, marker.Attempt, marker.Worker, time.GetUtcNow()), ct);
                break;
            case MarkerKind.PrepareFailed:
                await OnPrepareFailedAsync(job, marker, ct);
                break;
        }
    }

    private async Task OnPrepareFailedAsync(Job job, MarkerRef marker, CancellationToken ct)
    {
        var body = await objects.GetAsync(BucketLayout.Marker(job.Id, marker.Attempt, marker.Worker, MarkerKind.PrepareFailed), ct);
        if (body is null)
        {
            return;
        }

        var failure = PrepareFailedMarker.Parse(body);
        var log = BucketLayout.PrepareLogObject(JobPaths.LogDir(job, options.Bucket), marker.Attempt, marker.Worker);
        await steps.RecoverAsync(
            new StepMessage(job.Id, marker.Attempt)
            {
                Cause = AttemptEnd.LaunchFailed,
                Detail = $"worker {marker.Worker} failed to prepare at step '{failure.SafeStep()}': {failure.SafeMessage()} (its preparation log: {log})",
                OutputTail = failure.SafeOutputTail(),
            },
            ct);
    }

    private async Task OnExitedAsync(Job job, MarkerRef marker, CancellationToken ct)
    {
        var body = await objects.GetAsync(BucketLayout.Marker(job.Id, marker.Attempt, marker.Worker, MarkerKind.Exited), ct);
        if (body is null)
        {
            return;
        }

        var exit = ExitMarker.Parse(body);
        var notice = exit.PreemptionNotice || await AttemptWasPreemptedAsync(job, ct);
        var reading = JobLifecycle.ReadExit(marker.Worker, exit.ExitCode, notice);
        if (reading != ExitReading.Preempted)
        {
            // The script ran on this worker, so the worker was prepared. Its prepared marker is written
            // just before and may be delivered after this one (events are not ordered): a short script
            // would otherwise end the job from LAUNCHING, with no RUNNING in its history.
            await transitions.ApplyAsync(job.Id, j => JobLifecycle.WorkerPrepared(j, marker.Attempt, marker.Worker, time.GetUtcNow()), ct);
        }

        switch (reading)
        {
            case ExitReading.Succeeded:
                var decision = await transitions.ApplyAsync(job.Id, j => JobLifecycle.Succeed(j, marker.Attempt, time.GetUtcNow()), ct);
                if (decision?.Verdict is Verdict.Apply or Verdict.AlreadyApplied)
                {
                    await steps.FinishAsync(job.Id, marker.Attempt, ct);
                }

                break;
            case ExitReading.Preempted:
                await steps.RecoverAsync(new StepMessage(job.Id, marker.Attempt) { Cause = AttemptEnd.Preempted, Detail = $"worker {marker.Worker} exited {exit.ExitCode} after a preemption notice", ExitCode = exit.ExitCode }, ct);
                break;
            case ExitReading.Failed:
                var log = BucketLayout.LogObject(JobPaths.LogDir(job, options.Bucket), marker.Attempt, marker.Worker);
                await steps.RecoverAsync(
                    new StepMessage(job.Id, marker.Attempt)
                    {
                        Cause = AttemptEnd.Failed,
                        Detail = $"worker {marker.Worker} exited {exit.ExitCode} (its log: {log})",
                        ExitCode = exit.ExitCode,
                        OutputTail = exit.SafeOutputTail(),
                    },
                    ct);
                break;
        }
    }

    /// <summary>
    /// A clean exit may race with the preemption that caused it: a preempted marker of any worker,
    /// or a queued resource or a node of any slice that is being taken back, makes the exit a preemption.
    /// </summary>
    private async Task<bool> AttemptWasPreemptedAsync(Job job, CancellationToken ct)
    {
        var markers = await objects.ListAsync(BucketLayout.MarkersPrefix(job.Id) + $"attempt-{job.Attempt.ToString(CultureInfo.InvariantCulture)}/", ct);
        if (markers.Any(m => BucketLayout.TryParseMarker(m.Name, out var r) && r.Kind == MarkerKind.Preempted))
        {
            return true;
        }

        var queued = await tpu.GetQueuedResourceAsync(job.Zone!, job.QueuedResourceId!, ct);
        if (queued is null || QueuedResourceStates.IsLost(queued.State?.State))
        {
            return true;
        }

        // Any slice's node taken back is the attempt's preemption: a clean exit on another slice follows from it.
        foreach (var nodeId in SliceNodes.NodeIds(job.QueuedResourceId!, job.Spec?.Slices ?? 1))
        {
            var node = await tpu.GetNodeAsync(job.Zone!, nodeId, ct);
            if (node?.State is "PREEMPTED" or "TERMINATED")
            {
                return true;
            }
        }

        return false;
    }
}
