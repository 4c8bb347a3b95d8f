using System.Globalization;
using SpotJax.Core.Jobs;

namespace SpotJax.Core.Lifecycle;

/// <summary>
/// The job lifecycle as a pure state machine: every function takes the stored job, an input and
/// the time, and returns a <see cref="Decision"/>. No I/O; the step handlers write the result with
/// compare-and-set and perform the side effects.
/// </summary>
public static class JobLifecycle
{
    /// <summary>A freshly submitted job, QUEUED, attempt 0.</summary>
    public static (Job Job, HistoryEntry Entry) Submit(string jobId, string submission, JobSpec spec, DateTimeOffset now)
    {
        var job = new Job
        {
            Id = jobId,
            Submission = submission,
            Spec = spec,
            State = JobState.Queued,
            Zone = spec.Tpu.Zones[0],
            SubmittedAt = now,
            UpdatedAt = now,
        };
        return (job, new HistoryEntry(now, null, JobState.Queued, 0, "submitted"));
    }

    /// <summary>A submission that failed validation; kept so the user can see why.</summary>
    public static (Job Job, HistoryEntry Entry) Reject(string jobId, string submission, string reason, DateTimeOffset now)
    {
        var job = new Job
        {
            Id = jobId,
            Submission = submission,
            State = JobState.Rejected,
            SubmittedAt = now,
            UpdatedAt = now,
            FinishedAt = now,
            LastError = reason,
        };
        return (job, new HistoryEntry(now, null, JobState.Rejected, 0, $"rejected: {reason}"));
    }

    /// <summary>The queued-resource (and node) id of an attempt: <c>&lt;jobId&gt;-&lt;n&gt;</c>.</summary>
    public static string QueuedResourceId(string jobId, int attempt) =>
        string.Create(CultureInfo.InvariantCulture, $"{jobId}-{attempt}");

    /// <summary>Attempt <paramref name="attempt"/> starts provisioning (QUEUED or RECOVERING -> PROVISIONING).</summary>
    public static Decision StartProvisioning(Job job, int attempt, DateTimeOffset now)
    {
        if (job.State == JobState.Provisioning && job.Attempt == attempt)
        {
            // A failed create waits out its backoff before the next try; the sweep asks again when it is due.
            return job.NextProvisionAt is { } nextTry && now < nextTry
                ? Decision.NotYet(job, $"create try {job.ProvisionTry} not before {nextTry:O}")
                : Decision.Already(job, "already provisioning this attempt");
        }

        var expectedPrevious = job.State switch
        {
            JobState.Queued => 0,
            JobState.Recovering => job.Attempt,
            _ => -1,
        };
        if (expectedPrevious < 0 || attempt != expectedPrevious + 1)
        {
            return Decision.Ignore(job, $"cannot start attempt {attempt} from {job.State.ToWire()} attempt {job.Attempt}");
        }

        if (job.NextAttemptAt is { } notBefore && now < notBefore)
        {
            return Decision.NotYet(job, $"backoff until {notBefore:O}");
        }

        var zone = job.Spec!.Tpu.Zones[job.ZoneIndex % job.Spec.Tpu.Zones.Count];
        var updated = job with
        {
            State = JobState.Provisioning,
            Attempt = attempt,
            Zone = zone,
            QueuedResourceId = QueuedResourceId(job.Id, attempt),
            Workers = 0,
            AttemptStartedAt = now,
            ProvisionTry = 1,
            CapacityRefusals = 0,
            NextProvisionAt = null,
            CreateRateLimitedAt = null,
            CreateOperation = null,
            RunningSince = null,
            NextAttemptAt = null,
            StallWarnedAt = null,
            LaunchLeaseUntil = null,
            AgentsStartedAt = null,
            PreparedWorkers = [],
            UpdatedAt = now,
        };
        return Decision.Apply(updated, Entry(job, updated, now, $"provisioning a Spot {job.Spec.Tpu.Type} in {zone}"));
    }

    /// <summary>
    /// Create try <paramref name="try"/> was accepted and answered with its long-running operation, which the
    /// sweep reads while the queued resource does not show (no history entry).
    /// </summary>
    public static Decision CreateRequested(Job job, int attempt, int @try, string operation, DateTimeOffset now)
    {
        if (job.Attempt != attempt || job.State != JobState.Provisioning || job.ProvisionTry != @try)
        {
            return Decision.Ignore(job, $"create try {@try} of attempt {attempt} is not the current one");
        }

        return job.CreateOperation == operation
            ? Decision.Already(job, "create operation already recorded")
            : Decision.Update(job with { CreateOperation = operation, UpdatedAt = now }, $"create try {@try} requested: {operation}");
    }

    /// <summary>
    /// Create try <paramref name="try"/> failed for a reason a later try may not meet (quota, a stock-out, an
    /// error inside the create operation): the next try, with a new request id, after a jittered exponential
    /// backoff. A try is counted once, however often its failure is read (PROVISIONING stays PROVISIONING).
    /// </summary>
    /// <param name="jitterSample">A number in [0, 1) that places the backoff inside its random share.</param>
    public static Decision CreateFailed(Job job, int attempt, int @try, ProvisionFailure failure, LifecycleOptions options, DateTimeOffset now, double jitterSample)
    {
        if (job.Attempt != attempt || job.State != JobState.Provisioning)
        {
            return Decision.Ignore(job, $"create of attempt {attempt} failed while {job.State.ToWire()} attempt {job.Attempt}");
        }

        if (job.ProvisionTry != @try)
        {
            return Decision.Already(job, $"create try {@try} already counted");
        }

        var next = now + ProvisionBackoff(@try, options, jitterSample);
        var refusals = job.CapacityRefusals + (failure.IsCapacity ? 1 : 0);
        var what = failure.Kind switch
        {
            ProvisionFailureKind.Quota => "quota",
            ProvisionFailureKind.StockOut => "no capacity",
            _ => "failed",
        };
        var text = $"create try {@try} in {job.Zone}: {what}: {failure}";
        var updated = job with
        {
            ProvisionTry = @try + 1,
            CapacityRefusals = refusals,
            NextProvisionAt = next,
            CreateOperation = null,
            LastError = text,
            UpdatedAt = now,
        };
        return Decision.Apply(updated, Entry(job, updated, now, $"{text}; try {@try + 1} at {next:O}"));
    }

    /// <summary>
    /// Create try <paramref name="try"/> was refused by a rate quota (requests per minute) before anything was
    /// created: the same try, with the same request id, once <see cref="RateLimitBackoff"/> has passed; the sweep
    /// asks for it then. Spends no try and no budget, as a rate limit passes by itself, and writes no history
    /// entry (a mass preemption would write hundreds); the job's error says why it waits.
    /// </summary>
    /// <param name="retryAfter">The wait the server named (<c>Retry-After</c> or RetryInfo), if any.</param>
    /// <param name="jitterSample">A number in [0, 1) that places the wait inside its random share.</param>
    public static Decision CreateRateLimited(Job job, int attempt, int @try, string error, TimeSpan? retryAfter, LifecycleOptions options, DateTimeOffset now, double jitterSample)
    {
        if (job.Attempt != attempt || job.State != JobState.Provisioning || job.ProvisionTry != @try)
        {
            return Decision.Ignore(job, $"create try {@try} of attempt {attempt} is not the current one");
        }

        if (job.NextProvisionAt > now)
        {
            // A duplicate delivery of the same refused try, or a concurrent one: the wait is already set.
            return Decision.Already(job, $"create try {@try} already waits until {job.NextProvisionAt:O}");
        }

        var next = now + RateLimitBackoff(now - job.CreateRateLimitedAt, retryAfter, options, jitterSample);
        var text = $"create try {@try} in {job.Zone}: rate limited, trying again at {next:O}: {error}";
        return Decision.Update(job with { NextProvisionAt = next, CreateRateLimitedAt = now, LastError = text, UpdatedAt = now }, text);
    }

    /// <summary>
    /// The wait after a rate-limited create: <see cref="LifecycleOptions.ProvisionBackoffBase"/> the first time, then
    /// twice the time since the previous rate-limited create (so the waits double, as the time between tries includes
    /// the last wait), up to <see cref="LifecycleOptions.RateLimitBackoffMax"/>; never less than the server's
    /// <paramref name="retryAfter"/>; plus up to <see cref="LifecycleOptions.ProvisionJitter"/> of it again at random,
    /// so that jobs refused together come back spread out and never before the server asked.
    /// </summary>
    public static TimeSpan RateLimitBackoff(TimeSpan? sincePrevious, TimeSpan? retryAfter, LifecycleOptions options, double jitterSample)
    {
        var doubled = sincePrevious is { } gap && gap > TimeSpan.Zero && gap.Ticks < long.MaxValue / 2 ? gap * 2 : options.ProvisionBackoffBase;
        var full = doubled < options.ProvisionBackoffBase ? options.ProvisionBackoffBase
            : doubled > options.RateLimitBackoffMax ? options.RateLimitBackoffMax
            : doubled;
        if (retryAfter > full)
        {
            full = retryAfter.Value;
        }

        return full + full * Math.Clamp(options.ProvisionJitter, 0, 1) * Math.Clamp(jitterSample, 0, 1);
    }

    /// <summary>
    /// Whether a PROVISIONING attempt has been refused for quota or capacity often enough in its zone to move
    /// on: the attempt then ends as <see cref="AttemptEnd.ProvisionFailed"/>, and the next one takes the next zone.
    /// With a single zone there is nowhere to go: the tries go on until the provisioning timeout.
    /// </summary>
    public static bool ShouldFailOver(Job job, LifecycleOptions options) =>
        job.State == JobState.Provisioning && job.Spec is { Tpu.Zones.Count: > 1 } && job.CapacityRefusals >= options.CapacityRefusalsPerZone;

    /// <summary>The pause after create try <paramref name="try"/> failed: base, 2x base, ... up to the maximum, the jitter share random.</summary>
    public static TimeSpan ProvisionBackoff(int @try, LifecycleOptions options, double jitterSample)
    {
        var doublings = Math.Clamp(@try - 1, 0, 20);
        var ticks = options.ProvisionBackoffBase.Ticks * (1L << doublings);
        var full = ticks <= 0 || ticks > options.ProvisionBackoffMax.Ticks ? options.ProvisionBackoffMax : TimeSpan.FromTicks(ticks);
        var jitter = Math.Clamp(options.ProvisionJitter, 0, 1);
        return full * (1 - jitter) + full * jitter * Math.Clamp(jitterSample, 0, 1);
    }

    /// <summary>The queued resource is ACTIVE and its node has <paramref name="workers"/> workers (PROVISIONING -> LAUNCHING).</summary>
    public static Decision NodesReady(Job job, int attempt, int workers, DateTimeOffset now, DateTimeOffset leaseUntil)
    {
        if (job.Attempt != attempt)
        {
            return Decision.Ignore(job, $"attempt {attempt} is not the current attempt {job.Attempt}");
        }

        if (job.State == JobState.Launching)
        {
            // Only a launch whose lease ran out (it crashed or was lost) is taken over; a live one is left alone.
            return job.LaunchLeaseUntil > now
                ? Decision.Ignore(job, "already being launched")
                : Decision.Update(job with { Workers = workers, LaunchLeaseUntil = leaseUntil, Billing = OpenBilling(job, now), UpdatedAt = now }, "launch lease expired; launching again");
        }

        if (job.State != JobState.Provisioning)
        {
            return Decision.Ignore(job, $"nodes ready while {job.State.ToWire()}");
        }

        var updated = job with { State = JobState.Launching, Workers = workers, LaunchLeaseUntil = leaseUntil, Billing = OpenBilling(job, now), UpdatedAt = now };
        return Decision.Apply(updated, Entry(job, updated, now, $"TPU ready with {workers} worker(s)"));
    }

    /// <summary>
    /// The sweep is about to publish <c>launch</c> for a PROVISIONING attempt whose resource is
    /// ACTIVE: it does so only when no launch it published is still awaited, and marks the one it
    /// publishes, so a second pass does not publish another.
    /// </summary>
    public static Decision LaunchPublished(Job job, int attempt, DateTimeOffset now, DateTimeOffset awaitUntil)
    {
        if (job.Attempt != attempt || job.State != JobState.Provisioning)
        {
            return Decision.Ignore(job, $"no launch due for attempt {attempt} while {job.State.ToWire()}");
        }

        return job.LaunchLeaseUntil > now
            ? Decision.Ignore(job, "a launch is already on its way")
            : Decision.Update(job with { LaunchLeaseUntil = awaitUntil, Billing = OpenBilling(job, now) }, "launch published");
    }

    /// <summary>
    /// <c>launch</c> started the agent on every worker; they now prepare (LAUNCHING stays LAUNCHING,
    /// and its preparation timeout starts). Their <c>prepared</c> markers may have come first.
    /// </summary>
    public static Decision AgentsStarted(Job job, int attempt, DateTimeOffset now)
    {
        if (job.Attempt != attempt)
        {
            return Decision.Ignore(job, $"attempt {attempt} is not the current attempt {job.Attempt}");
        }

        if (job.State == JobState.Running || (job.State == JobState.Launching && job.AgentsStartedAt is not null))
        {
            return Decision.Already(job, "agents already started");
        }

        if (job.State != JobState.Launching)
        {
            return Decision.Ignore(job, $"agents started while {job.State.ToWire()}");
        }

        return Decision.Update(job with { AgentsStartedAt = now, UpdatedAt = now }, $"agents started on {job.Workers} worker(s); preparing");
    }

    /// <summary>
    /// Worker <paramref name="worker"/> is prepared and runs the script; the last one moves the job
    /// LAUNCHING -> RUNNING. Duplicates and markers of an attempt that has ended change nothing.
    /// </summary>
    public static Decision WorkerPrepared(Job job, int attempt, int worker, DateTimeOffset now)
    {
        if (job.Attempt != attempt)
        {
            return Decision.Ignore(job, $"attempt {attempt} is not the current attempt {job.Attempt}");
        }

        if (job.State == JobState.Running)
        {
            return Decision.Already(job, "already running");
        }

        if (job.State != JobState.Launching)
        {
            return Decision.Ignore(job, $"worker {worker} prepared while {job.State.ToWire()}");
        }

        if (worker < 0 || worker >= job.Workers)
        {
            return Decision.Ignore(job, $"worker {worker} is not one of the attempt's {job.Workers}");
        }

        if (job.PreparedWorkers.Contains(worker))
        {
            return Decision.Already(job, $"worker {worker} already prepared");
        }

        var prepared = job.PreparedWorkers.Append(worker).Order().ToList();
        if (prepared.Count < job.Workers)
        {
            return Decision.Update(job with { PreparedWorkers = prepared, UpdatedAt = now }, $"worker {worker} prepared");
        }

        var updated = job with
        {
            State = JobState.Running,
            PreparedWorkers = prepared,
            RunningSince = now,
            StartedAt = job.StartedAt ?? now,
            UpdatedAt = now,
        };
        return Decision.Apply(updated, Entry(job, updated, now, $"script started on {job.Workers} worker(s)"));
    }

    /// <summary>
    /// How a worker's exit is read: worker 0 exiting 0 without a preemption notice is success; any
    /// exit after a preemption notice is a preemption (even a clean one); any non-zero exit is a
    /// failure; another worker exiting 0 decides nothing.
    /// </summary>
    public static ExitReading ReadExit(int worker, int exitCode, bool preemptionNotice) => (worker, exitCode, preemptionNotice) switch
    {
        (_, _, true) => ExitReading.Preempted,
        (_, not 0, false) => ExitReading.Failed,
        (0, 0, false) => ExitReading.Succeeded,
        _ => ExitReading.NoDecision,
    };

    /// <summary>Worker 0 finished cleanly and the attempt was not preempted (LAUNCHING/RUNNING -> SUCCEEDED).</summary>
    public static Decision Succeed(Job job, int attempt, DateTimeOffset now)
    {
        if (job.Attempt != attempt)
        {
            return Decision.Ignore(job, $"attempt {attempt} is not the current attempt {job.Attempt}");
        }

        if (job.State == JobState.Succeeded)
        {
            return Decision.Already(job, "already succeeded");
        }

        if (job.State is not (JobState.Running or JobState.Launching))
        {
            return Decision.Ignore(job, $"script exited while {job.State.ToWire()}");
        }

        var updated = job with { State = JobState.Succeeded, ExitCode = 0, FinishedAt = now, Billing = CloseBilling(job, now), UpdatedAt = now };
        return Decision.Apply(updated, Entry(job, updated, now, "script exited 0"));
    }

    /// <summary>
    /// The attempt ended without success: spend the matching budget, then RECOVERING with a backoff
    /// (moving zone when needed), or FAILED when the budget is exhausted or the error is permanent.
    /// </summary>
    /// <remarks>
    /// <paramref name="outputTail"/>, the end of a failed script's output, goes into <see cref="Job.LastError"/>
    /// after the one-line cause, so the error says why without a look at the log; the history keeps one line.
    /// </remarks>
    public static Decision EndAttempt(Job job, int attempt, AttemptEnd cause, string detail, int? exitCode, LifecycleOptions options, DateTimeOffset now, string? outputTail = null)
    {
        if (job.Attempt != attempt)
        {
            return Decision.Ignore(job, $"attempt {attempt} is not the current attempt {job.Attempt}");
        }

        if (job.State is JobState.Recovering or JobState.Failed)
        {
            return Decision.Already(job, $"attempt {attempt} already ended");
        }

        if (job.State is not (JobState.Provisioning or JobState.Launching or JobState.Running))
        {
            return Decision.Ignore(job, $"attempt end while {job.State.ToWire()}");
        }

        var spec = job.Spec!;
        var capacityLoss = cause is AttemptEnd.Preempted or AttemptEnd.ProvisionTimeout or AttemptEnd.ProvisionFailed;
        var preemptions = job.PreemptionsSpent + (capacityLoss ? 1 : 0);
        var failures = job.FailuresSpent + (capacityLoss || cause == AttemptEnd.Permanent ? 0 : 1);
        var label = Describe(cause);
        var text = string.IsNullOrEmpty(detail) ? label : $"{label}: {detail}";

        // The history keeps one line per transition: the last line of the output is usually the error itself.
        var lastLine = outputTail?.Split('\n', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries).LastOrDefault();
        var reason = lastLine is null ? text : $"{text}; last output line: {lastLine}";

        string? exhausted = cause switch
        {
            AttemptEnd.Permanent => "permanent error",
            _ when preemptions > spec.MaxPreemptions => $"preemption budget exhausted ({spec.MaxPreemptions})",
            _ when failures > spec.MaxRetries => $"retry budget exhausted ({spec.MaxRetries})",
            _ => null,
        };

        var ended = job with
        {
            PreemptionsSpent = preemptions,
            FailuresSpent = failures,
            ExitCode = exitCode ?? job.ExitCode,
            LastError = string.IsNullOrEmpty(outputTail) ? text : $"{text}; the end of its output:\n{outputTail}",
            Billing = CloseBilling(job, now),
            UpdatedAt = now,
        };

        if (exhausted is not null)
        {
            var failed = ended with { State = JobState.Failed, FinishedAt = now };
            return Decision.Apply(failed, Entry(job, failed, now, $"{reason}; {exhausted}"));
        }

        var zonePreemptions = cause == AttemptEnd.Preempted ? job.ZonePreemptions + 1 : 0;
        var zoneCount = spec.Tpu.Zones.Count;
        var moveZone = zoneCount > 1 &&
            (cause is AttemptEnd.ProvisionTimeout or AttemptEnd.ProvisionFailed ||
             zonePreemptions >= options.ZoneFailoverAfterPreemptions);
        var zoneIndex = moveZone ? (job.ZoneIndex + 1) % zoneCount : job.ZoneIndex;
        var backoff = Backoff(preemptions + failures, options);

        var recovering = ended with
        {
            State = JobState.Recovering,
            ZoneIndex = zoneIndex,
            ZonePreemptions = moveZone ? 0 : zonePreemptions,
            NextAttemptAt = now + backoff,
            RunningSince = null,
        };
        var next = moveZone ? $"; next attempt in {spec.Tpu.Zones[zoneIndex]}" : "";
        return Decision.Apply(recovering, Entry(job, recovering, now, $"{reason}{next}"));
    }

    /// <summary>Exponential backoff: base, 2x base, 4x base, ... up to the maximum.</summary>
    public static TimeSpan Backoff(int attemptsSpent, LifecycleOptions options)
    {
        if (options.BackoffBase <= TimeSpan.Zero)
        {
            return TimeSpan.Zero;
        }

        var doublings = Math.Clamp(attemptsSpent - 1, 0, 20);
        var ticks = options.BackoffBase.Ticks * (1L << doublings);
        return ticks <= 0 || ticks > options.BackoffMax.Ticks ? options.BackoffMax : TimeSpan.FromTicks(ticks);
    }

    /// <summary>A user asked to cancel (any non-terminal state -> CANCELLING).</summary>
    public static Decision RequestCancel(Job job, DateTimeOffset now) => Cancel(job, now, CancelReasons.User, "cancel requested");

    /// <summary>
    /// The job's cost reached its <see cref="JobSpec.MaxCostUsd"/>: CANCELLING with reason <c>budget</c>, then the
    /// normal cancel path (<c>finish</c> deletes the queued resource). <paramref name="costUsd"/> is the cost now;
    /// below the budget, or unknown, nothing happens.
    /// </summary>
    public static Decision StopForBudget(Job job, decimal? costUsd, DateTimeOffset now)
    {
        if (job.Spec?.MaxCostUsd is not { } budget || costUsd is not { } cost || cost < budget)
        {
            return Decision.Ignore(job, "within its budget");
        }

        var text = string.Create(CultureInfo.InvariantCulture, $"budget reached: cost ${cost:0.00} of maxCostUsd ${budget:0.##}");
        return Cancel(job with { LastError = text }, now, CancelReasons.Budget, text);
    }

    private static Decision Cancel(Job job, DateTimeOffset now, string reason, string cause)
    {
        if (job.State == JobState.Cancelling)
        {
            return Decision.Already(job, "already cancelling");
        }

        if (job.State.IsTerminal())
        {
            return Decision.Ignore(job, $"job already {job.State.ToWire()}");
        }

        var updated = job with { State = JobState.Cancelling, CancelReason = reason, UpdatedAt = now };
        return Decision.Apply(updated, Entry(job, updated, now, cause));
    }

    /// <summary>The cancelled job's resources are gone (CANCELLING -> CANCELLED).</summary>
    public static Decision CompleteCancel(Job job, DateTimeOffset now)
    {
        if (job.State == JobState.Cancelled)
        {
            return Decision.Already(job, "already cancelled");
        }

        if (job.State != JobState.Cancelling)
        {
            return Decision.Ignore(job, $"not cancelling ({job.State.ToWire()})");
        }

        var updated = job with { State = JobState.Cancelled, FinishedAt = now, Billing = CloseBilling(job, now), UpdatedAt = now };
        return Decision.Apply(updated, Entry(job, updated, now, "queued resource deleted"));
    }

    /// <summary>
    /// How much newer a checkpoint object must be than the recorded checkpoint time to move it (with no
    /// higher step): the files of one checkpoint, written seconds apart, then cost one job write, not one
    /// each. The stall timer may thus run up to this much early, against stall windows of whole minutes.
    /// </summary>
    public static readonly TimeSpan CheckpointTimeResolution = TimeSpan.FromSeconds(10);

    /// <summary>
    /// A checkpoint object appeared: reset the stall timer and record the step (never moves backwards);
    /// a time within <see cref="CheckpointTimeResolution"/> of the recorded one is already recorded.
    /// </summary>
    public static Decision RecordCheckpoint(Job job, long? step, DateTimeOffset at)
    {
        if (job.State.IsTerminal())
        {
            return Decision.Ignore(job, "job finished");
        }

        var newerTime = job.LastCheckpointAt is null || at > job.LastCheckpointAt + CheckpointTimeResolution;
        var newerStep = step is not null && (job.LastCheckpointStep is null || step > job.LastCheckpointStep);
        if (!newerTime && !newerStep)
        {
            return Decision.Already(job, "checkpoint already recorded");
        }

        var updated = job with
        {
            LastCheckpointAt = newerTime ? at : job.LastCheckpointAt,
            LastCheckpointStep = newerStep ? step : job.LastCheckpointStep,
        };
        return Decision.Update(updated, $"checkpoint at step {updated.LastCheckpointStep}");
    }

    /// <summary>Whether a RUNNING job has gone without a checkpoint for its stall window.</summary>
    public static StallCheck CheckStall(Job job, DateTimeOffset now)
    {
        if (job.State != JobState.Running || job.Spec is null || job.RunningSince is null)
        {
            return StallCheck.None;
        }

        var since = job.LastCheckpointAt is { } checkpoint && checkpoint > job.RunningSince ? checkpoint : job.RunningSince.Value;
        if (now - since < TimeSpan.FromMinutes(job.Spec.Stall.Minutes))
        {
            return StallCheck.None;
        }

        if (job.Spec.Stall.Action == StallAction.Restart)
        {
            return StallCheck.Restart;
        }

        return job.StallWarnedAt is { } warned && warned >= since ? StallCheck.None : StallCheck.Warn;
    }

    /// <summary>Records a stall warning once per stall window (RUNNING stays RUNNING).</summary>
    public static Decision WarnStall(Job job, DateTimeOffset now)
    {
        if (CheckStall(job, now) != StallCheck.Warn)
        {
            return Decision.Ignore(job, "no stall to warn about");
        }

        var updated = job with { StallWarnedAt = now, UpdatedAt = now };
        return Decision.Apply(updated, Entry(job, updated, now, $"stalled: no checkpoint for {job.Spec!.Stall.Minutes} min"));
    }

    private static string Describe(AttemptEnd cause) => cause switch
    {
        AttemptEnd.Preempted => "preempted",
        AttemptEnd.Failed => "script failed",
        AttemptEnd.Stalled => "stalled",
        AttemptEnd.LaunchFailed => "launch failed",
        AttemptEnd.ProvisionTimeout => "no TPU within the provisioning timeout",
        AttemptEnd.ProvisionFailed => "provisioning failed in the zone",
        AttemptEnd.Permanent => "permanent error",
        _ => cause.ToString(),
    };

    /// <summary>
    /// The billing with the current attempt's entry opened at <paramref name="now"/> unless it already is: called
    /// wherever the control plane first learns that the attempt's queued resource is ACTIVE (its nodes exist and
    /// are billed from then on).
    /// </summary>
    private static IReadOnlyList<BillingEntry> OpenBilling(Job job, DateTimeOffset now)
    {
        if (job.Spec is not { } spec || job.Zone is not { } zone || job.Billing.Any(b => b.Attempt == job.Attempt))
        {
            return job.Billing;
        }

        // Every attempt of SpotJax is a Spot queued resource.
        var chips = TpuChips.Billed(spec) ?? 0;
        return [.. job.Billing, new BillingEntry(job.Attempt, zone, spec.Tpu.Type, chips, Spot: true, StartedAt: now, EndedAt: null)];
    }

    /// <summary>The billing with the current attempt's open entry ended at <paramref name="now"/>.</summary>
    private static IReadOnlyList<BillingEntry> CloseBilling(Job job, DateTimeOffset now) =>
        job.Billing.Any(b => b.Attempt == job.Attempt && b.EndedAt is null)
            ? [.. job.Billing.Select(b => b.Attempt == job.Attempt && b.EndedAt is null ? b with { EndedAt = now } : b)]
            : job.Billing;

    private static HistoryEntry Entry(Job from, Job to, DateTimeOffset now, string cause) =>
        new(now, from.State, to.State, to.Attempt, cause);
}
