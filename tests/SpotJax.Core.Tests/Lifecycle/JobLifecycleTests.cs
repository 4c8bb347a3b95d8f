using SpotJax.Core.Jobs;
using SpotJax.Core.Lifecycle;

namespace SpotJax.Core.Tests.Lifecycle;

public sealed class JobLifecycleTests
{
    private static readonly DateTimeOffset T0 = new(2026, 11, 28, 12, 0, 0, TimeSpan.Zero);
    private static readonly LifecycleOptions Options = new() { BackoffBase = TimeSpan.FromSeconds(10), BackoffMax = TimeSpan.FromMinutes(5), ZoneFailoverAfterPreemptions = 2 };

    private static JobSpec Spec(int maxRetries = 5, int maxPreemptions = 100, StallPolicy? stall = null, params string[] zones) => new()
    {
        Name = "train",
        Tpu = new TpuSpec { Type = "v4-8", Zones = zones.Length == 0 ? ["us-central2-b"] : zones, RuntimeVersion = "tpu-ubuntu2204-base" },
        Code = "gs://bucket/code.tar.gz",
        Script = "train.py",
        MaxRetries = maxRetries,
        MaxPreemptions = maxPreemptions,
        Stall = stall ?? new StallPolicy(60, StallAction.Warn),
    };

    private static Job Queued(JobSpec? spec = null) => JobLifecycle.Submit("train-0123456789", "pubsub:1", spec ?? Spec(), T0).Job;

    private static DateTimeOffset Lease(DateTimeOffset now) => now.AddMinutes(35);

    private static Job Applied(Decision decision)
    {
        Assert.Equal(Verdict.Apply, decision.Verdict);
        return decision.Job;
    }

    /// <summary>QUEUED -> PROVISIONING -> LAUNCHING -> RUNNING for the given attempt.</summary>
    private static Job RunningAttempt(Job job, int attempt, DateTimeOffset at)
    {
        job = Applied(JobLifecycle.StartProvisioning(job, attempt, at));
        job = Applied(JobLifecycle.NodesReady(job, attempt, 1, at, Lease(at)));
        job = Applied(JobLifecycle.AgentsStarted(job, attempt, at));
        return Applied(JobLifecycle.WorkerPrepared(job, attempt, 0, at));
    }

    [Fact]
    public void Submit_ValidSpec_IsQueuedAtAttemptZeroWithHistory()
    {
        var (job, entry) = JobLifecycle.Submit("train-0123456789", "pubsub:1", Spec(), T0);

        Assert.Equal(JobState.Queued, job.State);
        Assert.Equal(0, job.Attempt);
        Assert.Equal("us-central2-b", job.Zone);
        Assert.Equal(new HistoryEntry(T0, null, JobState.Queued, 0, "submitted"), entry);
    }

    [Fact]
    public void Reject_RecordsReasonAndIsTerminal()
    {
        var (job, entry) = JobLifecycle.Reject("bad-0123456789", "pubsub:2", "tpu.type: unknown", T0);

        Assert.Equal(JobState.Rejected, job.State);
        Assert.True(job.State.IsTerminal());
        Assert.Equal("tpu.type: unknown", job.LastError);
        Assert.Contains("tpu.type", entry.Cause, StringComparison.Ordinal);
    }

    [Fact]
    public void HappyPath_EveryTransitionWritesHistoryWithAttempt()
    {
        var job = Queued();
        var provisioning = JobLifecycle.StartProvisioning(job, 1, T0);
        job = Applied(provisioning);
        Assert.Equal((JobState.Provisioning, 1, "train-0123456789-1"), (job.State, job.Attempt, job.QueuedResourceId));
        Assert.Equal(new HistoryEntry(T0, JobState.Queued, JobState.Provisioning, 1, provisioning.Entry!.Cause), provisioning.Entry);

        var ready = JobLifecycle.NodesReady(job, 1, 4, T0.AddMinutes(1), Lease(T0.AddMinutes(1)));
        job = Applied(ready);
        Assert.Equal((JobState.Launching, 4), (job.State, job.Workers));
        Assert.Equal(JobState.Provisioning, ready.Entry!.From);

        job = Applied(JobLifecycle.AgentsStarted(job, 1, T0.AddMinutes(2)));
        Assert.Equal((JobState.Launching, T0.AddMinutes(2)), (job.State, job.AgentsStartedAt));
        foreach (var worker in new[] { 2, 0, 3 })
        {
            job = Applied(JobLifecycle.WorkerPrepared(job, 1, worker, T0.AddMinutes(2)));
            Assert.Equal(JobState.Launching, job.State);
        }

        var started = JobLifecycle.WorkerPrepared(job, 1, 1, T0.AddMinutes(2));
        job = Applied(started);
        Assert.Equal(JobState.Running, job.State);
        Assert.Equal([0, 1, 2, 3], job.PreparedWorkers);
        Assert.Equal(T0.AddMinutes(2), job.StartedAt);
        Assert.Equal(T0.AddMinutes(2), job.RunningSince);

        var succeeded = JobLifecycle.Succeed(job, 1, T0.AddMinutes(3));
        job = Applied(succeeded);
        Assert.Equal(JobState.Succeeded, job.State);
        Assert.Equal(0, job.ExitCode);
        Assert.Equal(T0.AddMinutes(3), job.FinishedAt);
        Assert.Equal((JobState.Running, JobState.Succeeded, 1), (succeeded.Entry!.From, succeeded.Entry.To, succeeded.Entry.Attempt));
    }

    [Fact]
    public void CreateRateLimited_SameTryTwiceOrAnOldTry_SchedulesOnceAndSpendsNothing()
    {
        var options = new LifecycleOptions { JitterSample = () => 0 };
        var job = Applied(JobLifecycle.StartProvisioning(Queued(), 1, T0));

        var limited = JobLifecycle.CreateRateLimited(job, 1, 1, "RESOURCE_EXHAUSTED: per minute", TimeSpan.FromSeconds(40), options, T0, 0);
        job = Applied(limited);
        var duplicate = JobLifecycle.CreateRateLimited(job, 1, 1, "RESOURCE_EXHAUSTED: per minute", null, options, T0.AddSeconds(1), 0);
        var oldTry = JobLifecycle.CreateRateLimited(job, 1, 0, "RESOURCE_EXHAUSTED: per minute", null, options, T0.AddMinutes(5), 0);

        Assert.Null(limited.Entry);
        Assert.Equal((JobState.Provisioning, 1, 0, T0.AddSeconds(40), T0), (job.State, job.ProvisionTry, job.PreemptionsSpent, job.NextProvisionAt, job.CreateRateLimitedAt));
        Assert.Contains("rate limited", job.LastError, StringComparison.Ordinal);
        Assert.Equal(Verdict.AlreadyApplied, duplicate.Verdict);
        Assert.Equal(Verdict.Ignore, oldTry.Verdict);
        // Its wait over, the next refusal doubles the time since this one; a new attempt starts from nothing.
        job = Applied(JobLifecycle.CreateRateLimited(job, 1, 1, "again", null, options, T0.AddSeconds(60), 0));
        Assert.Equal(T0.AddSeconds(180), job.NextProvisionAt);
        Assert.Null(Applied(JobLifecycle.StartProvisioning(job with { State = JobState.Recovering, NextAttemptAt = null }, 2, T0.AddMinutes(10))).CreateRateLimitedAt);
    }

    [Fact]
    public void WorkerPrepared_BeforeTheLaunchReportsItsAgentsStarted_StillRunsOnceAllArePrepared()
    {
        var job = Applied(JobLifecycle.StartProvisioning(Queued(), 1, T0));
        job = Applied(JobLifecycle.NodesReady(job, 1, 2, T0, Lease(T0)));

        job = Applied(JobLifecycle.WorkerPrepared(job, 1, 1, T0.AddSeconds(1)));
        Assert.Equal(Verdict.AlreadyApplied, JobLifecycle.WorkerPrepared(job, 1, 1, T0.AddSeconds(2)).Verdict);
        var running = JobLifecycle.WorkerPrepared(job, 1, 0, T0.AddSeconds(3));
        job = Applied(running);
        Assert.Equal((JobState.Running, T0.AddSeconds(3)), (job.State, job.RunningSince));
        Assert.Equal("script started on 2 worker(s)", running.Entry!.Cause);

        // The launch that started the agents reports last: the job stays RUNNING.
        Assert.Equal(Verdict.AlreadyApplied, JobLifecycle.AgentsStarted(job, 1, T0.AddSeconds(4)).Verdict);
    }

    [Fact]
    public void WorkerPrepared_AfterTheAttemptEndedOrForAnUnknownWorker_ChangesNothing()
    {
        var job = Applied(JobLifecycle.StartProvisioning(Queued(), 1, T0));
        job = Applied(JobLifecycle.NodesReady(job, 1, 1, T0, Lease(T0)));
        job = Applied(JobLifecycle.AgentsStarted(job, 1, T0));
        Assert.Equal(Verdict.Ignore, JobLifecycle.WorkerPrepared(job, 1, 1, T0).Verdict);

        // The preemption notice (or exit) of the attempt came first: its late prepared marker is ignored.
        var recovering = Applied(JobLifecycle.EndAttempt(job, 1, AttemptEnd.Preempted, "worker 0 got a preemption notice", null, Options, T0));
        Assert.Equal(Verdict.Ignore, JobLifecycle.WorkerPrepared(recovering, 1, 0, T0).Verdict);

        var next = Applied(JobLifecycle.StartProvisioning(recovering with { NextAttemptAt = null }, 2, T0.AddMinutes(1)));
        Assert.Equal((null, 0), (next.AgentsStartedAt, next.PreparedWorkers.Count));
        Assert.Equal(Verdict.Ignore, JobLifecycle.WorkerPrepared(next, 1, 0, T0).Verdict);
    }

    [Fact]
    public void PrepareFailed_EndsTheAttemptAsALaunchFailureWithTheStepAndTheLogTail()
    {
        var job = Applied(JobLifecycle.StartProvisioning(Queued(Spec(maxRetries: 1)), 1, T0));
        job = Applied(JobLifecycle.NodesReady(job, 1, 1, T0, Lease(T0)));
        job = Applied(JobLifecycle.AgentsStarted(job, 1, T0));

        const string Detail = "worker 0 failed to prepare at step 'setup': 'bash spotax_setup.sh' exited with code 3";
        var first = Applied(JobLifecycle.EndAttempt(job, 1, AttemptEnd.LaunchFailed, Detail, null, Options, T0, "installing\nno such package: jaxx"));
        Assert.Equal((JobState.Recovering, 1, 0), (first.State, first.FailuresSpent, first.PreemptionsSpent));
        Assert.Contains("step 'setup'", first.LastError, StringComparison.Ordinal);
        Assert.EndsWith("installing\nno such package: jaxx", first.LastError, StringComparison.Ordinal);

        var second = Applied(JobLifecycle.StartProvisioning(first with { NextAttemptAt = null }, 2, T0.AddMinutes(1)));
        second = Applied(JobLifecycle.NodesReady(second, 2, 1, T0, Lease(T0)));
        var failed = Applied(JobLifecycle.EndAttempt(second, 2, AttemptEnd.LaunchFailed, Detail, null, Options, T0, "no such package: jaxx"));
        Assert.Equal(JobState.Failed, failed.State);
        Assert.Contains("retry budget exhausted", (JobLifecycle.EndAttempt(second, 2, AttemptEnd.LaunchFailed, Detail, null, Options, T0).Entry!.Cause), StringComparison.Ordinal);
    }

    [Fact]
    public void EveryStep_RepeatedForSameAttempt_IsAlreadyApplied()
    {
        var job = Applied(JobLifecycle.StartProvisioning(Queued(), 1, T0));
        Assert.Equal(Verdict.AlreadyApplied, JobLifecycle.StartProvisioning(job, 1, T0).Verdict);

        job = Applied(JobLifecycle.NodesReady(job, 1, 1, T0, Lease(T0)));
        job = Applied(JobLifecycle.AgentsStarted(job, 1, T0));
        Assert.Equal(Verdict.AlreadyApplied, JobLifecycle.AgentsStarted(job, 1, T0).Verdict);
        job = Applied(JobLifecycle.WorkerPrepared(job, 1, 0, T0));
        Assert.Equal(Verdict.AlreadyApplied, JobLifecycle.WorkerPrepared(job, 1, 0, T0).Verdict);
        Assert.Equal(Verdict.AlreadyApplied, JobLifecycle.AgentsStarted(job, 1, T0).Verdict);

        var recovering = Applied(JobLifecycle.EndAttempt(job, 1, AttemptEnd.Preempted, "", null, Options, T0));
        Assert.Equal(Verdict.AlreadyApplied, JobLifecycle.EndAttempt(recovering, 1, AttemptEnd.Preempted, "", null, Options, T0).Verdict);
        Assert.Equal(1, recovering.PreemptionsSpent);

        var done = Applied(JobLifecycle.Succeed(job, 1, T0));
        Assert.Equal(Verdict.AlreadyApplied, JobLifecycle.Succeed(done, 1, T0).Verdict);
    }

    [Fact]
    public void NodesReady_WhileLaunchingUnderALiveLease_IsIgnoredAndKeepsTheLease()
    {
        var launching = Applied(JobLifecycle.NodesReady(Applied(JobLifecycle.StartProvisioning(Queued(), 1, T0)), 1, 1, T0, Lease(T0)));

        var again = JobLifecycle.NodesReady(launching, 1, 1, T0.AddMinutes(34), Lease(T0.AddMinutes(34)));

        Assert.Equal(Verdict.Ignore, again.Verdict);
        Assert.Equal(Lease(T0), again.Job.LaunchLeaseUntil);
    }

    [Fact]
    public void NodesReady_WhileLaunchingAfterTheLeaseExpired_TakesTheLeaseWithoutAHistoryEntry()
    {
        var launching = Applied(JobLifecycle.NodesReady(Applied(JobLifecycle.StartProvisioning(Queued(), 1, T0)), 1, 1, T0, Lease(T0)));

        var retaken = JobLifecycle.NodesReady(launching, 1, 1, Lease(T0), Lease(Lease(T0)));

        Assert.Equal(Verdict.Apply, retaken.Verdict);
        Assert.Null(retaken.Entry);
        Assert.Equal((JobState.Launching, Lease(Lease(T0))), (retaken.Job.State, retaken.Job.LaunchLeaseUntil));
    }

    [Fact]
    public void LaunchPublished_TwiceWhileProvisioning_MarksOnceUntilTheMarkExpires()
    {
        var provisioning = Applied(JobLifecycle.StartProvisioning(Queued(), 1, T0));

        var marked = Applied(JobLifecycle.LaunchPublished(provisioning, 1, T0, Lease(T0)));

        Assert.Equal(Verdict.Ignore, JobLifecycle.LaunchPublished(marked, 1, T0.AddMinutes(1), Lease(T0.AddMinutes(1))).Verdict);
        Assert.Equal(Verdict.Apply, JobLifecycle.LaunchPublished(marked, 1, Lease(T0), Lease(Lease(T0))).Verdict);
        Assert.Equal(Verdict.Ignore, JobLifecycle.LaunchPublished(marked, 2, T0, Lease(T0)).Verdict);
    }

    [Fact]
    public void StartProvisioning_NextAttempt_ClearsTheLaunchLease()
    {
        var running = RunningAttempt(Queued(), 1, T0);
        var recovering = Applied(JobLifecycle.EndAttempt(running, 1, AttemptEnd.Preempted, "", null, Options, T0));

        var next = Applied(JobLifecycle.StartProvisioning(recovering, 2, T0.AddHours(1)));

        Assert.NotNull(running.LaunchLeaseUntil);
        Assert.Null(next.LaunchLeaseUntil);
    }

    [Fact]
    public void OutOfOrderSteps_ForOtherAttemptsOrStates_AreIgnored()
    {
        var queued = Queued();
        Assert.Equal(Verdict.Ignore, JobLifecycle.StartProvisioning(queued, 2, T0).Verdict);
        Assert.Equal(Verdict.Ignore, JobLifecycle.NodesReady(queued, 0, 1, T0, Lease(T0)).Verdict);
        Assert.Equal(Verdict.Ignore, JobLifecycle.AgentsStarted(queued, 0, T0).Verdict);
        Assert.Equal(Verdict.Ignore, JobLifecycle.WorkerPrepared(queued, 0, 0, T0).Verdict);
        Assert.Equal(Verdict.Ignore, JobLifecycle.Succeed(queued, 0, T0).Verdict);
        Assert.Equal(Verdict.Ignore, JobLifecycle.EndAttempt(queued, 0, AttemptEnd.Failed, "", 1, Options, T0).Verdict);

        var running = RunningAttempt(queued, 1, T0);
        Assert.Equal(Verdict.Ignore, JobLifecycle.AgentsStarted(running with { State = JobState.Provisioning }, 1, T0).Verdict);
        Assert.Equal(Verdict.Ignore, JobLifecycle.WorkerPrepared(running with { State = JobState.Provisioning }, 1, 0, T0).Verdict);
        Assert.Equal(Verdict.Ignore, JobLifecycle.NodesReady(running, 1, 1, T0, Lease(T0)).Verdict);

        var recovering = Applied(JobLifecycle.EndAttempt(running, 1, AttemptEnd.Preempted, "", null, Options, T0));
        var second = RunningAttempt(recovering, 2, T0.AddHours(1));

        // A late marker or message of attempt 1 must not touch attempt 2.
        Assert.Equal(Verdict.Ignore, JobLifecycle.Succeed(second, 1, T0).Verdict);
        Assert.Equal(Verdict.Ignore, JobLifecycle.EndAttempt(second, 1, AttemptEnd.Failed, "", 1, Options, T0).Verdict);
        Assert.Equal(Verdict.Ignore, JobLifecycle.StartProvisioning(second, 3, T0).Verdict);
        Assert.Equal(Verdict.Ignore, JobLifecycle.NodesReady(second, 1, 1, T0, Lease(T0)).Verdict);
    }

    [Fact]
    public void StartProvisioning_BeforeBackoffElapsed_IsNotYet()
    {
        var running = RunningAttempt(Queued(), 1, T0);
        var recovering = Applied(JobLifecycle.EndAttempt(running, 1, AttemptEnd.Preempted, "", null, Options, T0));

        Assert.Equal(T0 + Options.BackoffBase, recovering.NextAttemptAt);
        Assert.Equal(Verdict.NotYet, JobLifecycle.StartProvisioning(recovering, 2, T0.AddSeconds(9)).Verdict);

        var second = Applied(JobLifecycle.StartProvisioning(recovering, 2, T0.AddSeconds(10)));
        Assert.Equal((JobState.Provisioning, 2, "train-0123456789-2"), (second.State, second.Attempt, second.QueuedResourceId));
        Assert.Null(second.NextAttemptAt);
    }

    [Theory]
    [InlineData(0, 0, false, ExitReading.Succeeded)]
    [InlineData(0, 0, true, ExitReading.Preempted)]
    [InlineData(0, 143, true, ExitReading.Preempted)]
    [InlineData(0, 1, false, ExitReading.Failed)]
    [InlineData(3, 2, false, ExitReading.Failed)]
    [InlineData(3, 0, false, ExitReading.NoDecision)]
    [InlineData(3, 0, true, ExitReading.Preempted)]
    public void ReadExit_CleanExitAfterPreemptionNotice_IsPreemptionNotSuccess(int worker, int exitCode, bool notice, ExitReading expected)
    {
        Assert.Equal(expected, JobLifecycle.ReadExit(worker, exitCode, notice));
    }

    [Fact]
    public void Preemptions_SpendOnlyThePreemptionBudget_UntilExhausted()
    {
        var job = Queued(Spec(maxRetries: 0, maxPreemptions: 2));
        var now = T0;
        for (var attempt = 1; attempt <= 2; attempt++)
        {
            job = RunningAttempt(job, attempt, now);
            job = Applied(JobLifecycle.EndAttempt(job, attempt, AttemptEnd.Preempted, "notice", null, Options, now));
            Assert.Equal(JobState.Recovering, job.State);
            Assert.Equal((attempt, 0), (job.PreemptionsSpent, job.FailuresSpent));
            now = job.NextAttemptAt!.Value;
        }

        job = RunningAttempt(job, 3, now);
        var final = JobLifecycle.EndAttempt(job, 3, AttemptEnd.Preempted, "notice", null, Options, now);
        job = Applied(final);

        Assert.Equal(JobState.Failed, job.State);
        Assert.Equal(3, job.PreemptionsSpent);
        Assert.Contains("preemption budget exhausted (2)", final.Entry!.Cause, StringComparison.Ordinal);
    }

    [Fact]
    public void Failures_SpendOnlyTheRetryBudget_AndRecordTheExitCode()
    {
        var job = Queued(Spec(maxRetries: 2, maxPreemptions: 0));
        var now = T0;
        for (var attempt = 1; attempt <= 2; attempt++)
        {
            job = RunningAttempt(job, attempt, now);
            job = Applied(JobLifecycle.EndAttempt(job, attempt, AttemptEnd.Failed, "worker 0 exited 7", 7, Options, now));
            Assert.Equal(JobState.Recovering, job.State);
            Assert.Equal((0, attempt), (job.PreemptionsSpent, job.FailuresSpent));
            now = job.NextAttemptAt!.Value;
        }

        job = RunningAttempt(job, 3, now);
        var final = JobLifecycle.EndAttempt(job, 3, AttemptEnd.Failed, "worker 0 exited 7", 7, Options, now);
        job = Applied(final);

        Assert.Equal(JobState.Failed, job.State);
        Assert.Equal(7, job.ExitCode);
        Assert.Equal(3, job.FailuresSpent);
        Assert.Contains("retry budget exhausted (2)", final.Entry!.Cause, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(AttemptEnd.Stalled, 0, 1)]
    [InlineData(AttemptEnd.LaunchFailed, 0, 1)]
    [InlineData(AttemptEnd.ProvisionTimeout, 1, 0)]
    [InlineData(AttemptEnd.ProvisionFailed, 1, 0)]
    public void EndAttempt_SpendsTheBudgetOfItsCause(AttemptEnd cause, int preemptions, int failures)
    {
        var job = Applied(JobLifecycle.StartProvisioning(Queued(), 1, T0));
        job = Applied(JobLifecycle.EndAttempt(job, 1, cause, "", null, Options, T0));

        Assert.Equal(JobState.Recovering, job.State);
        Assert.Equal((preemptions, failures), (job.PreemptionsSpent, job.FailuresSpent));
    }

    [Fact]
    public void EndAttempt_PermanentError_FailsAtOnceWithoutSpendingBudgets()
    {
        var job = Applied(JobLifecycle.StartProvisioning(Queued(), 1, T0));
        var decision = JobLifecycle.EndAttempt(job, 1, AttemptEnd.Permanent, "INVALID_ARGUMENT", null, Options, T0);
        job = Applied(decision);

        Assert.Equal(JobState.Failed, job.State);
        Assert.Equal((0, 0), (job.PreemptionsSpent, job.FailuresSpent));
        Assert.Contains("INVALID_ARGUMENT", job.LastError, StringComparison.Ordinal);
    }

    [Fact]
    public void Backoff_DoublesPerAttemptSpent_UpToTheMaximum()
    {
        Assert.Equal(TimeSpan.FromSeconds(10), JobLifecycle.Backoff(1, Options));
        Assert.Equal(TimeSpan.FromSeconds(20), JobLifecycle.Backoff(2, Options));
        Assert.Equal(TimeSpan.FromSeconds(80), JobLifecycle.Backoff(4, Options));
        Assert.Equal(TimeSpan.FromMinutes(5), JobLifecycle.Backoff(9, Options));
        Assert.Equal(TimeSpan.FromMinutes(5), JobLifecycle.Backoff(1000, Options));
        Assert.Equal(TimeSpan.Zero, JobLifecycle.Backoff(3, Options with { BackoffBase = TimeSpan.Zero }));
    }

    [Fact]
    public void Zones_MoveAfterRepeatedPreemptionsOrProvisioningTimeout()
    {
        var job = Queued(Spec(zones: ["us-central2-b", "us-east1-d"]));
        job = RunningAttempt(job, 1, T0);
        job = Applied(JobLifecycle.EndAttempt(job, 1, AttemptEnd.Preempted, "", null, Options, T0));
        Assert.Equal((0, 1), (job.ZoneIndex, job.ZonePreemptions));

        job = RunningAttempt(job, 2, job.NextAttemptAt!.Value);
        Assert.Equal("us-central2-b", job.Zone);
        job = Applied(JobLifecycle.EndAttempt(job, 2, AttemptEnd.Preempted, "", null, Options, T0.AddHours(1)));
        Assert.Equal((1, 0), (job.ZoneIndex, job.ZonePreemptions));

        job = Applied(JobLifecycle.StartProvisioning(job, 3, job.NextAttemptAt!.Value));
        Assert.Equal("us-east1-d", job.Zone);
        job = Applied(JobLifecycle.EndAttempt(job, 3, AttemptEnd.ProvisionTimeout, "", null, Options, T0.AddHours(4)));
        job = Applied(JobLifecycle.StartProvisioning(job, 4, job.NextAttemptAt!.Value));
        Assert.Equal("us-central2-b", job.Zone);
    }

    [Fact]
    public void Cancel_FromAnyActiveState_GoesThroughCancellingToCancelled()
    {
        var running = RunningAttempt(Queued(), 1, T0);
        foreach (var job in new[] { Queued(), running, running with { State = JobState.Recovering } })
        {
            var cancelling = Applied(JobLifecycle.RequestCancel(job, T0));
            Assert.Equal(JobState.Cancelling, cancelling.State);
            Assert.Equal(Verdict.AlreadyApplied, JobLifecycle.RequestCancel(cancelling, T0).Verdict);

            var cancelled = Applied(JobLifecycle.CompleteCancel(cancelling, T0.AddMinutes(1)));
            Assert.Equal(JobState.Cancelled, cancelled.State);
            Assert.Equal(Verdict.AlreadyApplied, JobLifecycle.CompleteCancel(cancelled, T0).Verdict);
            Assert.Equal(Verdict.Ignore, JobLifecycle.RequestCancel(cancelled, T0).Verdict);
        }

        Assert.Equal(Verdict.Ignore, JobLifecycle.CompleteCancel(running, T0).Verdict);
    }

    [Fact]
    public void RecordCheckpoint_KeepsTheNewestTimeAndHighestStep()
    {
        var job = RunningAttempt(Queued(), 1, T0);
        job = Applied(JobLifecycle.RecordCheckpoint(job, 10, T0.AddMinutes(1)));
        Assert.Equal((10L, T0.AddMinutes(1)), (job.LastCheckpointStep!.Value, job.LastCheckpointAt!.Value));

        Assert.Equal(Verdict.AlreadyApplied, JobLifecycle.RecordCheckpoint(job, 5, T0.AddSeconds(30)).Verdict);

        job = Applied(JobLifecycle.RecordCheckpoint(job, 5, T0.AddMinutes(2)));
        Assert.Equal((10L, T0.AddMinutes(2)), (job.LastCheckpointStep!.Value, job.LastCheckpointAt!.Value));
        Assert.Null(JobLifecycle.RecordCheckpoint(job, 20, T0.AddMinutes(3)).Entry);
    }

    [Fact]
    public void RecordCheckpoint_AnotherFileOfTheSameCheckpointSecondsLater_IsAlreadyRecorded()
    {
        var job = Applied(JobLifecycle.RecordCheckpoint(RunningAttempt(Queued(), 1, T0), 10, T0.AddMinutes(1)));

        Assert.Equal(Verdict.AlreadyApplied, JobLifecycle.RecordCheckpoint(job, 10, T0.AddMinutes(1).AddSeconds(3)).Verdict);
        Assert.Equal(Verdict.Apply, JobLifecycle.RecordCheckpoint(job, 11, T0.AddMinutes(1).AddSeconds(3)).Verdict);
        Assert.Equal(Verdict.Apply, JobLifecycle.RecordCheckpoint(job, 10, T0.AddMinutes(1) + JobLifecycle.CheckpointTimeResolution + TimeSpan.FromSeconds(1)).Verdict);
    }

    [Fact]
    public void Stall_WithWarn_WarnsOncePerStallWindow()
    {
        var job = RunningAttempt(Queued(Spec(stall: new StallPolicy(60, StallAction.Warn))), 1, T0);
        Assert.Equal(StallCheck.None, JobLifecycle.CheckStall(job, T0.AddMinutes(59)));
        Assert.Equal(StallCheck.Warn, JobLifecycle.CheckStall(job, T0.AddMinutes(60)));

        var warned = JobLifecycle.WarnStall(job, T0.AddMinutes(60));
        job = Applied(warned);
        Assert.Equal(JobState.Running, job.State);
        Assert.Contains("stalled", warned.Entry!.Cause, StringComparison.Ordinal);
        Assert.Equal(StallCheck.None, JobLifecycle.CheckStall(job, T0.AddMinutes(90)));
        Assert.Equal(Verdict.Ignore, JobLifecycle.WarnStall(job, T0.AddMinutes(90)).Verdict);

        // A checkpoint resets the timer; a new silence of 60 minutes warns again.
        job = Applied(JobLifecycle.RecordCheckpoint(job, 100, T0.AddMinutes(95)));
        Assert.Equal(StallCheck.None, JobLifecycle.CheckStall(job, T0.AddMinutes(154)));
        Assert.Equal(StallCheck.Warn, JobLifecycle.CheckStall(job, T0.AddMinutes(155)));
    }

    [Fact]
    public void Stall_WithRestart_AsksForARestartThatSpendsTheRetryBudget()
    {
        var job = RunningAttempt(Queued(Spec(stall: new StallPolicy(30, StallAction.Restart))), 1, T0);
        job = Applied(JobLifecycle.RecordCheckpoint(job, 1, T0.AddMinutes(10)));

        Assert.Equal(StallCheck.None, JobLifecycle.CheckStall(job, T0.AddMinutes(39)));
        Assert.Equal(StallCheck.Restart, JobLifecycle.CheckStall(job, T0.AddMinutes(40)));

        job = Applied(JobLifecycle.EndAttempt(job, 1, AttemptEnd.Stalled, "no checkpoint for 30 min", null, Options, T0.AddMinutes(40)));
        Assert.Equal((JobState.Recovering, 1), (job.State, job.FailuresSpent));
    }

    [Fact]
    public void Stall_OnlyWhileRunning()
    {
        var provisioning = Applied(JobLifecycle.StartProvisioning(Queued(), 1, T0));
        Assert.Equal(StallCheck.None, JobLifecycle.CheckStall(provisioning, T0.AddDays(3)));
    }
}
