using SpotJax.Core.Cost;
using SpotJax.Core.Jobs;
using SpotJax.Core.Lifecycle;

namespace SpotJax.Core.Tests.Cost;

/// <summary>A job's cost from the billing its lifecycle transitions write, checked against figures worked out by hand.</summary>
public sealed class JobCostTests
{
    private static readonly DateTimeOffset T0 = new(2026, 12, 1, 8, 0, 0, TimeSpan.Zero);
    private static readonly LifecycleOptions Options = new() { BackoffBase = TimeSpan.FromSeconds(10), BackoffMax = TimeSpan.FromMinutes(5) };

    // A table of its own, so the hand computations below do not move when the shipped prices are updated.
    private static readonly TpuPrices Prices = TpuPrices.Parse("""
        {
          "source": "https://example.com/tpu-prices", "sourceNote": "test figures", "retrieved": "2026-12-01", "asOf": "2026-11-30",
          "prices": [
            { "generation": "v4", "region": "us-central2", "spotUsdPerChipHour": 0.9215, "onDemandUsdPerChipHour": 3.22 },
            { "generation": "v5litepod", "region": "us-west4", "spotUsdPerChipHour": 0.48, "onDemandUsdPerChipHour": 1.2 }
          ]
        }
        """);

    private static JobSpec Spec(string type = "v4-32", params string[] zones) => new()
    {
        Name = "train",
        Tpu = new TpuSpec { Type = type, Zones = zones.Length == 0 ? ["us-central2-b"] : zones, RuntimeVersion = "tpu-ubuntu2204-base" },
        Code = "gs://bucket/code.tar.gz",
        Script = "train.py",
    };

    private static Job Applied(Decision decision)
    {
        Assert.Equal(Verdict.Apply, decision.Verdict);
        return decision.Job;
    }

    /// <summary>Provisioning from <paramref name="asked"/>, ACTIVE (launch takes it) at <paramref name="active"/>, running right after.</summary>
    private static Job Attempt(Job job, int attempt, DateTimeOffset asked, DateTimeOffset active)
    {
        job = Applied(JobLifecycle.StartProvisioning(job, attempt, asked));
        job = Applied(JobLifecycle.NodesReady(job, attempt, 4, active, active.AddMinutes(35)));
        job = Applied(JobLifecycle.AgentsStarted(job, attempt, active));
        for (var worker = 0; worker < 4; worker++)
        {
            job = Applied(JobLifecycle.WorkerPrepared(job, attempt, worker, active));
        }

        return job;
    }

    [Fact]
    public void Of_TwoAttempts_MatchesTheHandComputation()
    {
        // v4-32 is 16 chips (32 TensorCores, 2 per chip); Spot v4 in us-central2 at $0.9215 per chip-hour.
        // Attempt 1: asked 08:00, ACTIVE 08:05 (the 5 min waiting for capacity are not billed), preempted 10:15:
        //   2h10m = 130 min; 130/60 h x 16 chips x $0.9215 = 1916.72/60 = $31.945333...
        // Attempt 2: asked 10:15:10 after the backoff, ACTIVE 10:35:10 (20 min unbilled), succeeded 11:10:10:
        //   35 min; 35/60 h x 16 x $0.9215 = 516.04/60 = $8.600666...
        // Total: (1916.72 + 516.04)/60 = 2432.76/60 = $40.546 exactly.
        var job = JobLifecycle.Submit("train-0123456789", "pubsub:1", Spec(), T0).Job;
        job = Attempt(job, 1, T0, T0.AddMinutes(5));
        job = Applied(JobLifecycle.EndAttempt(job, 1, AttemptEnd.Preempted, "notice", null, Options, T0.AddMinutes(135)));
        var retry = job.NextAttemptAt!.Value;
        Assert.Equal(T0.AddMinutes(135).AddSeconds(10), retry);
        job = Attempt(job, 2, retry, retry.AddMinutes(20));
        job = Applied(JobLifecycle.Succeed(job, 2, retry.AddMinutes(55)));

        var cost = JobCost.Of(job, T0.AddDays(3), Prices);

        Assert.Equal(40.546m, Math.Round(cost.Usd!.Value, 10));
        Assert.Collection(
            cost.Attempts,
            a =>
            {
                Assert.Equal((1, "us-central2-b", 16, true, false), (a.Attempt, a.Zone, a.Chips, a.Spot, a.Open));
                Assert.Equal((T0.AddMinutes(5), T0.AddMinutes(135)), (a.StartedAt, a.EndedAt));
                Assert.Equal(0.9215m, a.UsdPerChipHour);
                Assert.Equal(31.945333m, Math.Round(a.Usd!.Value, 6));
            },
            a =>
            {
                Assert.Equal((2, 16, false), (a.Attempt, a.Chips, a.Open));
                Assert.Equal(35m / 60m, a.Hours);
                Assert.Equal(8.600667m, Math.Round(a.Usd!.Value, 6));
            });
        Assert.Equal("https://example.com/tpu-prices", cost.PriceSource);
        Assert.Equal(new DateOnly(2026, 11, 30), cost.PricesAsOf);
    }

    [Fact]
    public void Of_RunningAttempt_CountsUntilNowAndSaysItIsOpen()
    {
        // v5litepod-8 is 8 chips; Spot in us-west4 at $0.48: 45 min so far = 0.75 h x 8 x 0.48 = $2.88.
        var job = JobLifecycle.Submit("train-0123456789", "pubsub:1", Spec("v5litepod-8", "us-west4-a"), T0).Job;
        job = Attempt(job, 1, T0, T0.AddMinutes(1));

        var cost = JobCost.Of(job, T0.AddMinutes(46), Prices);

        Assert.Equal(2.88m, cost.Usd);
        var attempt = Assert.Single(cost.Attempts);
        Assert.True(attempt.Open);
        Assert.Equal(T0.AddMinutes(46), attempt.EndedAt);
    }

    [Fact]
    public void Of_OnDemandEntry_UsesTheOnDemandPrice()
    {
        // 1 h x 4 chips x $3.22 = $12.88.
        var job = JobLifecycle.Submit("train-0123456789", "pubsub:1", Spec("v4-8"), T0).Job with
        {
            Billing = [new BillingEntry(1, "us-central2-b", "v4-8", 4, Spot: false, T0, T0.AddHours(1))],
        };

        Assert.Equal(12.88m, JobCost.Of(job, T0.AddHours(5), Prices).Usd);
    }

    [Fact]
    public void Of_AttemptThatNeverBecameActive_CostsNothing()
    {
        var job = JobLifecycle.Submit("train-0123456789", "pubsub:1", Spec(), T0).Job;
        job = Applied(JobLifecycle.StartProvisioning(job, 1, T0));
        job = Applied(JobLifecycle.EndAttempt(job, 1, AttemptEnd.ProvisionTimeout, "no capacity", null, Options, T0.AddHours(2)));

        var cost = JobCost.Of(job, T0.AddHours(3), Prices);

        Assert.Empty(job.Billing);
        Assert.Equal(0m, cost.Usd);
        Assert.Equal("-", CostText.Short(cost));
    }

    [Fact]
    public void Of_RegionWithoutAPrice_IsUnknownNeverAGuess()
    {
        var job = JobLifecycle.Submit("train-0123456789", "pubsub:1", Spec("v4-8", "europe-west9-a"), T0).Job;
        job = Attempt(job, 1, T0, T0);

        var cost = JobCost.Of(job, T0.AddHours(1), Prices);

        Assert.Null(cost.Usd);
        Assert.Null(Assert.Single(cost.Attempts).Usd);
        Assert.Equal("unknown", CostText.Short(cost));
        Assert.Contains("no list price for v4 in europe-west9", CostText.Line(cost, null), StringComparison.Ordinal);
        Assert.Null(CostText.Json(cost, null)["usd"]);
    }

    [Fact]
    public void Billing_SweepAndLaunchBothSeeActive_OpensOneEntryAtTheFirstSight()
    {
        var job = JobLifecycle.Submit("train-0123456789", "pubsub:1", Spec(), T0).Job;
        job = Applied(JobLifecycle.StartProvisioning(job, 1, T0));

        job = Applied(JobLifecycle.LaunchPublished(job, 1, T0.AddMinutes(3), T0.AddMinutes(4)));
        job = Applied(JobLifecycle.NodesReady(job, 1, 4, T0.AddMinutes(4), T0.AddMinutes(40)));

        var entry = Assert.Single(job.Billing);
        Assert.Equal(new BillingEntry(1, "us-central2-b", "v4-32", 16, true, T0.AddMinutes(3), null), entry);
    }

    [Fact]
    public void Of_TwoSlices_BillsEverySlicesChips()
    {
        // 2 x v4-32 is 2 x 16 = 32 chips; ACTIVE 08:03, succeeded 09:33: 1.5 h x 32 x $0.9215 = $44.232.
        var job = JobLifecycle.Submit("train-0123456789", "pubsub:1", Spec() with { Slices = 2 }, T0).Job;
        job = Applied(JobLifecycle.StartProvisioning(job, 1, T0));
        job = Applied(JobLifecycle.LaunchPublished(job, 1, T0.AddMinutes(3), T0.AddMinutes(4)));
        job = Applied(JobLifecycle.NodesReady(job, 1, 8, T0.AddMinutes(4), T0.AddMinutes(40)));
        job = Applied(JobLifecycle.AgentsStarted(job, 1, T0.AddMinutes(4)));
        for (var worker = 0; worker < 8; worker++)
        {
            job = Applied(JobLifecycle.WorkerPrepared(job, 1, worker, T0.AddMinutes(4)));
        }

        job = Applied(JobLifecycle.Succeed(job, 1, T0.AddMinutes(93)));

        Assert.Equal(32, Assert.Single(job.Billing).Chips);
        Assert.Equal(44.232m, Math.Round(JobCost.Of(job, T0.AddDays(1), Prices).Usd!.Value, 10));
    }

    [Fact]
    public void Billing_CancelledWhileRunning_EndsWhenTheDeleteFinished()
    {
        var job = Attempt(JobLifecycle.Submit("train-0123456789", "pubsub:1", Spec(), T0).Job, 1, T0, T0);

        job = Applied(JobLifecycle.RequestCancel(job, T0.AddHours(1)));
        Assert.Null(Assert.Single(job.Billing).EndedAt);
        job = Applied(JobLifecycle.CompleteCancel(job, T0.AddHours(1).AddMinutes(1)));

        Assert.Equal(T0.AddHours(1).AddMinutes(1), Assert.Single(job.Billing).EndedAt);
        Assert.Equal(CancelReasons.User, job.CancelReason);
    }

    [Fact]
    public void StopForBudget_AtTheBudget_CancelsWithReasonBudgetOnce()
    {
        var spec = Spec() with { MaxCostUsd = 10m };
        var job = Attempt(JobLifecycle.Submit("train-0123456789", "pubsub:1", spec, T0).Job, 1, T0, T0);

        Assert.Equal(Verdict.Ignore, JobLifecycle.StopForBudget(job, 9.99m, T0).Verdict);
        Assert.Equal(Verdict.Ignore, JobLifecycle.StopForBudget(job, null, T0).Verdict);
        var stopped = JobLifecycle.StopForBudget(job, 10m, T0.AddMinutes(1));
        var again = JobLifecycle.StopForBudget(stopped.Job, 11m, T0.AddMinutes(2));

        Assert.Equal(Verdict.Apply, stopped.Verdict);
        Assert.Equal((JobState.Cancelling, CancelReasons.Budget), (stopped.Job.State, stopped.Job.CancelReason));
        Assert.Equal("budget reached: cost $10.00 of maxCostUsd $10", stopped.Entry!.Cause);
        Assert.Equal(Verdict.AlreadyApplied, again.Verdict);
    }
}
