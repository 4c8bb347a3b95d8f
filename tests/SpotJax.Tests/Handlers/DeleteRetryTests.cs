using SpotJax.Contracts;
using SpotJax.Core;
using SpotJax.Core.Lifecycle;
using SpotJax.Core.Steps;

namespace SpotJax.Tests.Handlers;

/// <summary>
/// Deletes whose operation fails, against the TPU simulator's request-id semantics (a request id seen before gets its
/// original, failed, operation back and deletes nothing): the handlers try again with a new request id and delete.
/// </summary>
public sealed class DeleteRetryTests : IAsyncLifetime
{
    private const string Forever = "import time\nwhile True:\n    time.sleep(0.1)\n";
    private const string Zone = "us-central2-b";
    private HandlerHarness h = null!;

    public async Task InitializeAsync() => h = await HandlerHarness.StartAsync();

    public async Task DisposeAsync() => await h.DisposeAsync();

    [Fact]
    public async Task Recover_DeleteFailsInItsOperation_DeletesWithANewRequestIdAndAsksForTheNextAttempt()
    {
        var job = await h.RunAsync(await h.SubmitAsync(HandlerHarness.JobYaml(h.Code(Forever))));
        await h.TakeAsync(Topics.Default.Provision);
        await h.Simulator.FailNextDeleteAsync(Zone, $"{job.Id}-1");

        await h.Functions.Recover.HandleAsync(h.Step(job.Id, 1, AttemptEnd.Preempted, "notice"), CancellationToken.None);

        await Eventually.TrueAsync(async () => await h.Tpu.GetQueuedResourceAsync(Zone, $"{job.Id}-1", CancellationToken.None) is null);
        Assert.All(await h.TakeAsync(Topics.Default.Provision), step => Assert.Equal(2, step.Attempt));
    }

    [Fact]
    public async Task Recover_RedeliveredAfterItsDeleteFailed_DeletesAndSendsNoFailedRequestIdAgainAsNew()
    {
        var job = await h.RunAsync(await h.SubmitAsync(HandlerHarness.JobYaml(h.Code(Forever))));
        await h.TakeAsync(Topics.Default.Provision);
        // Try 0 of this attempt's delete already failed, as in an earlier delivery that crashed right after it.
        await h.Simulator.FailNextDeleteAsync(Zone, $"{job.Id}-1");
        var failed = await h.Tpu.DeleteQueuedResourceAsync(Zone, $"{job.Id}-1", force: true, RequestIds.For(job.Id, 1, "delete"), CancellationToken.None);
        Assert.NotNull(failed?.Error);

        await h.Functions.Recover.HandleAsync(h.Step(job.Id, 1, AttemptEnd.Preempted, "notice"), CancellationToken.None);

        await Eventually.TrueAsync(async () => await h.Tpu.GetQueuedResourceAsync(Zone, $"{job.Id}-1", CancellationToken.None) is null);
    }

    [Fact]
    public async Task Finish_DeleteFailsInItsOperation_DeletesWithANewRequestId()
    {
        var job = await h.RunAsync(await h.SubmitAsync(HandlerHarness.JobYaml(h.Code(Forever))));
        var succeeded = JobLifecycle.Succeed(job, 1, h.Time.GetUtcNow());
        Assert.True(await h.Store.TryUpdateAsync(succeeded.Job, job.Revision, succeeded.Entry!, CancellationToken.None));
        await h.Simulator.FailNextDeleteAsync(Zone, $"{job.Id}-1");

        await h.Functions.Finish.HandleAsync(h.Step(job.Id, 1), CancellationToken.None);

        await Eventually.TrueAsync(async () => await h.Tpu.GetQueuedResourceAsync(Zone, $"{job.Id}-1", CancellationToken.None) is null);
    }

    [Fact]
    public async Task Sweep_OrphanWhoseDeleteFailsInItsOperation_IsDeletedWithANewRequestId()
    {
        var job = await h.RunAsync(await h.SubmitAsync(HandlerHarness.JobYaml(h.Code(Forever))));
        var succeeded = JobLifecycle.Succeed(job, 1, h.Time.GetUtcNow());
        Assert.True(await h.Store.TryUpdateAsync(succeeded.Job, job.Revision, succeeded.Entry!, CancellationToken.None));
        h.Time.Advance(TimeSpan.FromMinutes(3));
        await h.Simulator.FailNextDeleteAsync(Zone, $"{job.Id}-1");

        await h.Sweep(h.Options with { SweepZones = [Zone] }).HandleAsync(CancellationToken.None);

        await Eventually.TrueAsync(async () => await h.Tpu.GetQueuedResourceAsync(Zone, $"{job.Id}-1", CancellationToken.None) is null);
    }
}
