using SpotJax.Contracts;
using SpotJax.Core;
using SpotJax.Core.Cost;
using SpotJax.Core.Jobs;

namespace SpotJax.Tests.Handlers;

/// <summary>
/// <c>maxCostUsd</c> over the real local parts: the sweep, on the injected clock, cancels a job whose cost reached
/// its budget through the normal cancel path, and nothing is left running in the TPU simulator.
/// </summary>
public sealed class BudgetTests : IAsyncLifetime
{
    private const string Forever = "import time\nwhile True:\n    time.sleep(0.1)\n";
    private const string Zone = "us-central2-b";
    private HandlerHarness h = null!;

    public async Task InitializeAsync() => h = await HandlerHarness.StartAsync();

    public async Task DisposeAsync() => await h.DisposeAsync();

    [Fact]
    public async Task Sweep_CostReachesMaxCostUsd_CancelsForBudgetAndDeletesTheQueuedResource()
    {
        // v4-8 is 4 chips: at the shipped Spot price for v4 in us-central2 a $1 budget lasts 1/(4 x price) hours.
        var price = TpuPrices.Default.Find("v4-8", Zone)!.SpotUsdPerChipHour;
        var lasts = TimeSpan.FromHours((double)(1m / (4 * price)));
        var job = await h.RunAsync(await h.SubmitAsync(HandlerHarness.JobYaml(h.Code(Forever)) + "\nmaxCostUsd: 1\n"));
        Assert.Equal(JobState.Running, job.State);
        var started = Assert.Single(job.Billing).StartedAt;

        h.Time.Advance(lasts - TimeSpan.FromMinutes(1));
        await h.Functions.Sweep.HandleAsync(CancellationToken.None);
        Assert.Equal(JobState.Running, (await h.JobAsync(job.Id)).State);
        Assert.Empty(await h.TakeAsync(Topics.Default.Finish));

        h.Time.Advance(TimeSpan.FromMinutes(2));
        await h.Functions.Sweep.HandleAsync(CancellationToken.None);
        // A second pass before finish ran, as a duplicate scheduler call would make: no second transition.
        await h.Functions.Sweep.HandleAsync(CancellationToken.None);

        job = await h.JobAsync(job.Id);
        Assert.Equal((JobState.Cancelling, CancelReasons.Budget), (job.State, job.CancelReason));
        Assert.Single(await h.HistoryAsync(job.Id), e => e.Cause.StartsWith("budget reached", StringComparison.Ordinal));
        var finishes = await h.TakeAsync(Topics.Default.Finish);
        Assert.NotEmpty(finishes);
        Assert.All(finishes, f => Assert.Equal((job.Id, 1), (f.JobId, f.Attempt)));

        foreach (var finish in finishes)
        {
            await h.Functions.Finish.HandleAsync(h.Step(finish.JobId, finish.Attempt), CancellationToken.None);
        }

        job = await h.JobAsync(job.Id);
        Assert.Equal((JobState.Cancelled, CancelReasons.Budget), (job.State, job.CancelReason));
        var billed = Assert.Single(job.Billing);
        Assert.Equal((started, job.FinishedAt), (billed.StartedAt, billed.EndedAt));
        Assert.True(JobCost.Of(job, h.Time.GetUtcNow().AddHours(5), TpuPrices.Default).Usd >= 1m);
        await Eventually.TrueAsync(async () => (await h.Tpu.ListQueuedResourcesAsync(Zone, CancellationToken.None)).Count == 0, what: "no queued resource left");

        // Once cancelled, later passes leave the job alone.
        await h.Functions.Sweep.HandleAsync(CancellationToken.None);
        Assert.Equal(JobState.Cancelled, (await h.JobAsync(job.Id)).State);
        Assert.Empty(await h.TakeAsync(Topics.Default.Finish));
    }

    [Fact]
    public async Task Sweep_JobWithoutBudget_RunsOnWhateverItCosts()
    {
        var job = await h.RunAsync(await h.SubmitAsync(HandlerHarness.JobYaml(h.Code(Forever))));

        h.Time.Advance(TimeSpan.FromMinutes(50));
        await h.Functions.Sweep.HandleAsync(CancellationToken.None);

        job = await h.JobAsync(job.Id);
        Assert.Equal(JobState.Running, job.State);
        Assert.Null(job.CancelReason);
        Assert.True(JobCost.Of(job, h.Time.GetUtcNow(), TpuPrices.Default).Usd > 1m);
    }
}
