using System.Collections.Concurrent;
using System.Globalization;
using System.Runtime.ExceptionServices;
using SpotJax.Core.Cost;
using SpotJax.Core.Jobs;
using SpotJax.Core.Lifecycle;
using SpotJax.Core.Ports;
using SpotJax.Core.Tpu;

namespace SpotJax.Core.Steps;

/// <summary>
/// <c>sweep</c>, every minute: compares every active job with what the TPU API says (one
/// <c>list</c> per zone, not one <c>get</c> per job) and publishes the step that is due: launch
/// for a ready resource, recover for a preempted or failed one, a stall warning or restart, a
/// provisioning timeout, a step that was lost; and deletes SpotJax queued resources that belong to
/// no active attempt, in every zone an active job may use and in <see cref="ControlPlaneOptions.SweepZones"/>.
/// </summary>
/// <remarks>
/// Only queued resources labelled with this deployment's name (<see cref="ProvisionFunction.DeploymentLabel"/>
/// = <see cref="ControlPlaneOptions.Deployment"/>) are ever recovered or deleted: another deployment in the
/// same project keeps its own. One without that label but with <see cref="ProvisionFunction.JobLabel"/> was
/// made by a SpotJax older than the label; it is never deleted here, and reported once per process through
/// <paramref name="warn"/> unless it is the current queued resource of one of this deployment's active jobs.
/// </remarks>
/// <param name="warn">Where the operator is told about such a queued resource (the function's log).</param>
public sealed class SweepFunction(
    IJobStore store,
    JobTransitions transitions,
    ITpuApi tpu,
    StepPublisher steps,
    ControlPlaneOptions options,
    TimeProvider time,
    Action<string>? warn = null) : IScheduledFunction
{
    /// <summary>A queued resource younger than this is never taken for an orphan (its job may not show it yet).</summary>
    private static readonly TimeSpan OrphanGrace = TimeSpan.FromMinutes(2);

    /// <summary>The unlabelled queued resources already reported (<c>zone/id</c>), so each is reported once.</summary>
    private readonly ConcurrentDictionary<string, bool> reportedUnlabelled = new(StringComparer.Ordinal);

    /// <summary>
    /// Publishes the job events a crash left in the outbox between a transition's write and its publish,
    /// first thing in every pass (it never fails the pass); null where the store keeps no outbox.
    /// </summary>
    public Events.JobEventRelay? Events { get; init; }

    /// <summary>
    /// One pass. Each job is reconciled on its own: a job whose step fails (a refused TPU call, a failed
    /// publish, a write that lost too many races) does not keep the jobs after it or the orphan sweep from
    /// their turn; nor does a zone whose list fails, whose jobs wait for the next pass (they are neither
    /// lost nor fine while their queued resources cannot be seen). The failures are thrown together at the
    /// end, so the pass is still reported as failed.
    /// </summary>
    public async Task HandleAsync(CancellationToken cancellationToken)
    {
        if (Events is not null)
        {
            await Events.PublishPendingAsync(null, cancellationToken);
        }

        var jobs = await store.ListActiveAsync(cancellationToken);
        var failures = new List<Exception>();
        var zones = jobs.Where(j => j.Zone is not null).Select(j => j.Zone!).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal);
        var byZone = new Dictionary<string, IReadOnlyList<QueuedResource>>(StringComparer.Ordinal);
        var unlisted = new HashSet<string>(StringComparer.Ordinal);
        foreach (var zone in zones)
        {
            try
            {
                byZone[zone] = await tpu.ListQueuedResourcesAsync(zone, cancellationToken);
            }
            catch (Exception e) when (!cancellationToken.IsCancellationRequested)
            {
                unlisted.Add(zone);
                failures.Add(new SweepFailureException($"listing the queued resources of {zone} failed; its jobs wait for the next pass", e));
            }
        }

        var now = time.GetUtcNow();
        foreach (var job in jobs.Where(j => j.Zone is null || !unlisted.Contains(j.Zone)))
        {
            var listed = job.Zone is not null && byZone.TryGetValue(job.Zone, out var list) ? list : [];
            // A queued resource of this id labelled by another deployment is not this job's, whatever its id says.
            var queued = listed.FirstOrDefault(q => q.Id == job.QueuedResourceId && Owner(q) is QueuedResourceOwnership.Ours or QueuedResourceOwnership.Unlabelled);
            try
            {
                await ReconcileAsync(job, queued, now, cancellationToken);
            }
            catch (Exception e) when (!cancellationToken.IsCancellationRequested)
            {
                failures.Add(new SweepFailureException($"job {job.Id} ({job.State.ToWire()}, attempt {job.Attempt}): {e.Message}", e));
            }
        }

        try
        {
            await DeleteOrphansAsync(jobs, byZone, unlisted, now, cancellationToken);
        }
        catch (Exception e) when (!cancellationToken.IsCancellationRequested)
        {
            failures.Add(e);
        }

        if (failures.Count == 1)
        {
            ExceptionDispatchInfo.Throw(failures[0]);
        }

        if (failures.Count > 1)
        {
            throw new AggregateException($"the sweep pass had {failures.Count} failures", failures);
        }
    }

    /// <summary>
    /// Zones where a SpotJax queued resource may be left behind: every zone of each active job's
    /// fail-over list, not only its current one (a recovery that moved the job on may have left the
    /// old attempt's resource behind when its delete failed), and the configured ones, where jobs
    /// that have ended ran.
    /// </summary>
    private IEnumerable<string> OrphanZones(IReadOnlyList<Job> jobs) =>
        jobs.SelectMany(j => (j.Spec?.Tpu.Zones ?? []).Append(j.Zone).OfType<string>())
            .Concat(options.SweepZones)
            .Distinct(StringComparer.Ordinal)
            .Order(StringComparer.Ordinal);

    /// <param name="unlisted">Zones whose list already failed in this pass (listed again next pass, not now).</param>
    private async Task DeleteOrphansAsync(
        IReadOnlyList<Job> jobs, Dictionary<string, IReadOnlyList<QueuedResource>> byZone, HashSet<string> unlisted, DateTimeOffset now, CancellationToken ct)
    {
        var active = jobs.ToDictionary(j => j.Id, StringComparer.Ordinal);
        var failures = new List<GoogleApiException>();
        foreach (var zone in OrphanZones(jobs).Where(z => !unlisted.Contains(z)))
        {
            // One zone the TPU API refuses (a configured zone without TPUs, say) must not keep the others unswept.
            try
            {
                var list = byZone.TryGetValue(zone, out var listed) ? listed : await tpu.ListQueuedResourcesAsync(zone, ct);
                foreach (var queued in list)
                {
                    switch (Owner(queued))
                    {
                        case QueuedResourceOwnership.Ours when await IsOrphanAsync(queued, active, now, ct):
                            await QueuedResourceDeletes.DeleteAsync(tpu, zone, queued.Id, RequestIds.For(queued.Id, 0, $"orphan/{queued.CreateTime}"), ct);
                            break;
                        case QueuedResourceOwnership.Unlabelled:
                            ReportUnlabelled(zone, queued, active);
                            break;
                    }
                }
            }
            catch (GoogleApiException e)
            {
                failures.Add(e);
            }
        }

        if (failures.Count > 1)
        {
            throw new AggregateException("the sweep for orphaned queued resources failed in several zones", failures);
        }

        if (failures.Count == 1)
        {
            ExceptionDispatchInfo.Throw(failures[0]);
        }
    }

    private async Task ReconcileAsync(Job job, QueuedResource? queued, DateTimeOffset now, CancellationToken ct)
    {
        if (await StopOverBudgetAsync(job, now, ct))
        {
            return;
        }

        var stuck = options.Lifecycle.StuckAfter;
        var state = queued?.State?.State;
        var sinceUpdate = now - job.UpdatedAt;
        if (job.State is JobState.Launching or JobState.Running && state == QueuedResourceStates.Active && job.Spec is { Slices: > 1 } &&
            await LostSliceAsync(job, ct) is { } lost)
        {
            await RecoverAsync(job, AttemptEnd.Preempted, lost, ct);
            return;
        }

        switch (job.State)
        {
            case JobState.Queued when sinceUpdate > stuck:
                await steps.ProvisionAsync(job.Id, 1, ct);
                break;

            case JobState.Provisioning:
                await ReconcileProvisioningAsync(job, queued, now, ct);
                break;

            case JobState.Launching or JobState.Running when queued is null || QueuedResourceStates.IsLost(state) || state == QueuedResourceStates.Failed:
                await RecoverAsync(job, AttemptEnd.Preempted, $"queued resource {state ?? "gone"}", ct);
                break;
            case JobState.Launching when job.AgentsStartedAt is { } agentsStarted && now - agentsStarted > TimeSpan.FromMinutes(job.Spec!.PrepareTimeoutMinutes):
                await RecoverAsync(
                    job,
                    AttemptEnd.LaunchFailed,
                    string.Create(CultureInfo.InvariantCulture, $"preparation timed out: {job.PreparedWorkers.Count} of {job.Workers} worker(s) prepared within {job.Spec.PrepareTimeoutMinutes} min"),
                    ct);
                break;
            case JobState.Launching when job.AgentsStartedAt is null && !(job.LaunchLeaseUntil > now):
                // The launch that held the attempt crashed or was lost; the next launch takes the lease over.
                await steps.LaunchAsync(job.Id, job.Attempt, ct);
                break;
            case JobState.Running:
                await CheckStallAsync(job, now, ct);
                break;

            case JobState.Recovering when queued is not null && state != QueuedResourceStates.Deleting:
                // The teardown did not happen (or was lost): recover again; it is idempotent.
                await RecoverAsync(job, AttemptEnd.Preempted, "teardown pending", ct);
                break;
            case JobState.Recovering when now > job.NextAttemptAt + stuck:
                await steps.ProvisionAsync(job.Id, job.Attempt + 1, ct);
                break;

            case JobState.Cancelling:
                await steps.FinishAsync(job.Id, job.Attempt, ct);
                break;
        }
    }

    /// <summary>
    /// The first slice of a multislice attempt whose node is preempted, terminated or gone while its queued
    /// resource is still ACTIVE, in words; null when every node runs. Whether the API ever shows a multislice
    /// queued resource ACTIVE with one of its nodes preempted is not documented (unconfirmed); one <c>nodes.get</c>
    /// per slice, for multislice jobs only, keeps the sweep from waiting on it.
    /// </summary>
    private async Task<string?> LostSliceAsync(Job job, CancellationToken ct)
    {
        var slices = job.Spec!.Slices;
        for (var slice = 0; slice < slices; slice++)
        {
            var nodeId = SliceNodes.NodeId(job.QueuedResourceId!, slices, slice);
            var node = await tpu.GetNodeAsync(job.Zone!, nodeId, ct);
            if (node is null || node.State is "PREEMPTED" or "TERMINATED")
            {
                return string.Create(CultureInfo.InvariantCulture, $"node {nodeId} of slice {slice} {node?.State ?? "gone"}");
            }
        }

        return null;
    }

    /// <summary>
    /// A PROVISIONING attempt: launch an ACTIVE resource; end the attempt for a FAILED one (at once for a
    /// permission or invalid request), a lost one, one that waited too long for capacity in a zone while
    /// other zones are listed, and, whether or not a queued resource was ever created, at the provisioning
    /// timeout counted from the attempt's start. Without a queued resource: read the create operation's
    /// outcome, and ask for the next create try when it is due.
    /// </summary>
    private async Task ReconcileProvisioningAsync(Job job, QueuedResource? queued, DateTimeOffset now, CancellationToken ct)
    {
        var spec = job.Spec!;
        var state = queued?.State?.State;
        if (state == QueuedResourceStates.Active)
        {
            // Marked before it is published, so the next pass does not publish it again while it waits in the bus.
            var marked = await transitions.ApplyAsync(job.Id, j => JobLifecycle.LaunchPublished(j, job.Attempt, now, now + options.Lifecycle.LaunchLease), ct);
            if (marked?.Verdict == Verdict.Apply)
            {
                await steps.LaunchAsync(job.Id, job.Attempt, ct);
            }

            return;
        }

        if (state == QueuedResourceStates.Failed)
        {
            var failure = ProvisionFailure.FromStatus(queued!.State?.FailedData?.Error, CreateFailures.Target(job, options));
            await RecoverAsync(
                job,
                failure.IsPermanent ? AttemptEnd.Permanent : AttemptEnd.ProvisionFailed,
                $"queued resource {queued.Id} FAILED in {job.Zone}: {failure}",
                ct);
            return;
        }

        if (QueuedResourceStates.IsLost(state))
        {
            await RecoverAsync(job, AttemptEnd.Preempted, $"queued resource {state} while provisioning", ct);
            return;
        }

        // A rate limit is not the zone's answer: the timeout counts from the last rate-limited create, so a job
        // whose creates wait their turn (a mass preemption under a create quota) is never timed out by it.
        var timeoutFrom = job.CreateRateLimitedAt > job.AttemptStartedAt ? job.CreateRateLimitedAt : job.AttemptStartedAt;
        if (now - timeoutFrom > TimeSpan.FromMinutes(spec.ProvisionTimeoutMinutes))
        {
            var where = queued is null
                ? $"no queued resource after {job.ProvisionTry - 1} failed create(s){(job.LastError is { } last ? $"; last: {last}" : "")}"
                : $"queued resource still {state}";
            await RecoverAsync(job, AttemptEnd.ProvisionTimeout, $"{where} {spec.ProvisionTimeoutMinutes} min after the attempt started in {job.Zone}", ct);
            return;
        }

        if (queued is not null)
        {
            var waitingSince = DateTimeOffset.TryParse(queued.CreateTime, CultureInfo.InvariantCulture, out var created) ? created : job.AttemptStartedAt!.Value;
            if (state == QueuedResourceStates.WaitingForResources && spec.Tpu.Zones.Count > 1 && now - waitingSince > options.Lifecycle.ZoneCapacityWait)
            {
                await RecoverAsync(
                    job,
                    AttemptEnd.ProvisionFailed,
                    string.Create(CultureInfo.InvariantCulture, $"queued resource {queued.Id} waited {(now - waitingSince).TotalMinutes:0} min for capacity in {job.Zone} (WAITING_FOR_RESOURCES)"),
                    ct);
            }

            return;
        }

        if (job.CreateOperation is { } name && await ReadCreateOperationAsync(name, ct) is { } operation)
        {
            if (operation is { Done: true, Error: { } error })
            {
                var failure = ProvisionFailure.FromStatus(error, CreateFailures.Target(job, options));
                await CreateFailures.RecordAsync(transitions, steps, options.Lifecycle, job, job.ProvisionTry, failure, now, ct);
                return;
            }

            if (!operation.Done)
            {
                // Still being created: the queued resource may not be listed yet.
                return;
            }
        }

        if (JobLifecycle.ShouldFailOver(job, options.Lifecycle))
        {
            // The recover that moves zone was lost; ask again (it is idempotent).
            await CreateFailures.FailOverAsync(steps, job, ct);
            return;
        }

        if (now >= (job.NextProvisionAt ?? job.UpdatedAt + options.Lifecycle.StuckAfter))
        {
            await steps.ProvisionAsync(job.Id, job.Attempt, ct);
        }
    }

    /// <summary>The create operation, or null when it cannot be read now (expired, or a failed call): the next create try is then what tells.</summary>
    private async Task<Operation?> ReadCreateOperationAsync(string name, CancellationToken ct)
    {
        try
        {
            return await tpu.GetOperationAsync(name, ct);
        }
        catch (GoogleApiException)
        {
            return null;
        }
    }

    /// <summary>
    /// A job whose cost (<see cref="JobCost"/>, at <paramref name="now"/>) reached its <see cref="JobSpec.MaxCostUsd"/> is
    /// cancelled with reason <c>budget</c> and handed to <c>finish</c>, which deletes its queued resource as for any
    /// cancel. A job already CANCELLING is left to the cancel path below; an unknown cost stops nothing.
    /// </summary>
    private async Task<bool> StopOverBudgetAsync(Job job, DateTimeOffset now, CancellationToken ct)
    {
        if (job.Spec?.MaxCostUsd is not { } budget || job.State is JobState.Cancelling || job.State.IsTerminal() ||
            JobCost.Of(job, now, options.Prices).Usd is not { } cost || cost < budget)
        {
            return false;
        }

        // Priced again on the job as read inside the compare-and-set, so a lost race decides on fresh billing.
        var stopped = await transitions.ApplyAsync(job.Id, j => JobLifecycle.StopForBudget(j, JobCost.Of(j, now, options.Prices).Usd, now), ct);
        if (stopped?.Verdict is not (Verdict.Apply or Verdict.AlreadyApplied))
        {
            return false;
        }

        await steps.FinishAsync(job.Id, stopped.Job.Attempt, ct);
        return true;
    }

    private async Task CheckStallAsync(Job job, DateTimeOffset now, CancellationToken ct)
    {
        switch (JobLifecycle.CheckStall(job, now))
        {
            case StallCheck.Warn:
                await transitions.ApplyAsync(job.Id, j => JobLifecycle.WarnStall(j, now), ct);
                break;
            case StallCheck.Restart:
                await RecoverAsync(job, AttemptEnd.Stalled, string.Create(CultureInfo.InvariantCulture, $"no checkpoint for {job.Spec!.Stall.Minutes} min"), ct);
                break;
        }
    }

    private Task RecoverAsync(Job job, AttemptEnd cause, string detail, CancellationToken ct) =>
        steps.RecoverAsync(new StepMessage(job.Id, job.Attempt) { Cause = cause, Detail = detail }, ct);

    private QueuedResourceOwnership Owner(QueuedResource queued) => QueuedResourceOwner.Of(queued, options.Deployment);

    /// <summary>
    /// Tells the operator, once per process, about a queued resource made before the deployment label,
    /// unless it is the current one of an active job of this deployment (then it is in use, and ours).
    /// </summary>
    private void ReportUnlabelled(string zone, QueuedResource queued, Dictionary<string, Job> active)
    {
        var inUse = queued.NodeLabels.TryGetValue(ProvisionFunction.JobLabel, out var jobId) &&
            active.TryGetValue(jobId, out var job) && job.QueuedResourceId == queued.Id && job.Zone == zone;
        if (inUse || !reportedUnlabelled.TryAdd($"{zone}/{queued.Id}", true))
        {
            return;
        }

        warn?.Invoke(
            $"queued resource {queued.Id} in {zone} (job {jobId ?? "?"}) has no {ProvisionFunction.DeploymentLabel} label: " +
            $"an older SpotJax made it, so the sweep of deployment {options.Deployment} leaves it alone; " +
            $"delete it with 'gcloud compute tpus queued-resources delete {queued.Id} --zone {zone} --force' once no deployment uses it");
    }

    /// <summary>
    /// A queued resource labelled by this deployment whose job is finished or gone, or which belongs
    /// to an attempt older than the job's current one.
    /// </summary>
    private async Task<bool> IsOrphanAsync(QueuedResource queued, Dictionary<string, Job> active, DateTimeOffset now, CancellationToken ct)
    {
        if (!queued.NodeLabels.TryGetValue(ProvisionFunction.JobLabel, out var jobId) ||
            !queued.NodeLabels.TryGetValue(ProvisionFunction.AttemptLabel, out var attemptText) ||
            !int.TryParse(attemptText, CultureInfo.InvariantCulture, out var attempt))
        {
            return false;
        }

        if (DateTimeOffset.TryParse(queued.CreateTime, CultureInfo.InvariantCulture, out var created) && now - created < OrphanGrace)
        {
            return false;
        }

        if (active.TryGetValue(jobId, out var job))
        {
            return attempt < job.Attempt;
        }

        var stored = JobId.IsValid(jobId) ? await store.GetAsync(jobId, ct) : null;
        return stored is null || stored.State.IsTerminal();
    }
}
