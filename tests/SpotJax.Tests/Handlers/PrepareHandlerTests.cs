using System.Text;
using SpotJax.Core;
using SpotJax.Core.Jobs;
using SpotJax.Core.Lifecycle;
using SpotJax.Core.Ports;
using SpotJax.Core.Steps;

namespace SpotJax.Tests.Handlers;

/// <summary>
/// The agents prepare after <c>launch</c> returned: their <c>prepare-failed</c> marker ends the attempt as a
/// launch failure, and the sweep ends a preparation that outlives <c>prepareTimeoutMinutes</c> (fake clock).
/// </summary>
public sealed class PrepareHandlerTests : IAsyncLifetime
{
    private const string Forever = "import time\nwhile True:\n    time.sleep(0.1)\n";
    private HandlerHarness h = null!;

    public async Task InitializeAsync() => h = await HandlerHarness.StartAsync();

    public async Task DisposeAsync() => await h.DisposeAsync();

    [Fact]
    public async Task PrepareFailedMarker_SetupScriptFails_EndsTheAttemptWithTheStepAndTailThenFailsWhenTheBudgetIsSpent()
    {
        var code = h.Code(Forever);
        File.WriteAllText(Path.Combine(code, "spotjax_setup.sh"), "for i in $(seq 1 30); do echo \"building $i\"; done\necho 'uv: package jaxx not found' >&2\nexit 5\n");
        var job = await h.SubmitAsync(HandlerHarness.JobYaml(code, maxRetries: 1));

        await h.Functions.Provision.HandleAsync(h.Step(job.Id, 1), CancellationToken.None);
        await h.Functions.Launch.HandleAsync(h.Step(job.Id, 1), CancellationToken.None);
        Assert.Equal(JobState.Launching, (await h.JobAsync(job.Id)).State);
        await h.MarkerAsync(job.Id, 1, 0, MarkerKind.PrepareFailed);
        var recover = Assert.Single(await h.TakeAsync(Topics.Default.Recover));
        await h.Functions.Recover.HandleAsync(h.Message(recover.ToBytes()), CancellationToken.None);

        job = await h.JobAsync(job.Id);
        Assert.Equal((JobState.Recovering, 1, 0), (job.State, job.FailuresSpent, job.PreemptionsSpent));
        Assert.Contains("launch failed", job.LastError, StringComparison.OrdinalIgnoreCase);
        Assert.Contains("step 'setup'", job.LastError, StringComparison.Ordinal);
        Assert.Contains("exited with code 5", job.LastError, StringComparison.Ordinal);
        Assert.Contains("uv: package jaxx not found", job.LastError, StringComparison.Ordinal);
        var logName = BucketLayout.PrepareLogObject(BucketLayout.GsUri(HandlerHarness.Bucket, BucketLayout.LogPrefix(job.Id)), 1, 0);
        Assert.Contains(logName, job.LastError, StringComparison.Ordinal);

        // The whole preparation log is in the bucket, not only its tail.
        var log = Encoding.UTF8.GetString((await h.Objects.GetAsync(logName[$"gs://{HandlerHarness.Bucket}/".Length..], CancellationToken.None))!);
        Assert.Contains("building 1\n", log, StringComparison.Ordinal);
        Assert.Contains("uv: package jaxx not found", log, StringComparison.Ordinal);

        // The second attempt gets a fresh node, prepares again, fails again, and spends the budget.
        h.Time.Advance(TimeSpan.FromHours(1));
        await h.Functions.Provision.HandleAsync(h.Step(job.Id, 2), CancellationToken.None);
        await h.Functions.Launch.HandleAsync(h.Step(job.Id, 2), CancellationToken.None);
        await h.MarkerAsync(job.Id, 2, 0, MarkerKind.PrepareFailed);
        foreach (var step in await h.TakeAsync(Topics.Default.Recover))
        {
            await h.Functions.Recover.HandleAsync(h.Message(step.ToBytes()), CancellationToken.None);
        }

        job = await h.JobAsync(job.Id);
        Assert.Equal((JobState.Failed, 2), (job.State, job.FailuresSpent));
        Assert.Contains("uv: package jaxx not found", job.LastError, StringComparison.Ordinal);
        Assert.Contains(await h.HistoryAsync(job.Id), e => e.To == JobState.Failed && e.Cause.Contains("retry budget exhausted", StringComparison.Ordinal));
    }

    [Fact]
    public async Task ExitedMarker_DeliveredBeforePrepared_RecordsRunningBeforeSucceeded()
    {
        var job = await h.SubmitAsync(HandlerHarness.JobYaml(h.Code("print('done')\n")));
        await h.Functions.Provision.HandleAsync(h.Step(job.Id, 1), CancellationToken.None);
        await h.Functions.Launch.HandleAsync(h.Step(job.Id, 1), CancellationToken.None);

        await h.MarkerAsync(job.Id, 1, 0, MarkerKind.Exited);
        await h.MarkerAsync(job.Id, 1, 0, MarkerKind.Prepared);

        Assert.Equal(JobState.Succeeded, (await h.JobAsync(job.Id)).State);
        Assert.Equal(
            [JobState.Queued, JobState.Provisioning, JobState.Launching, JobState.Running, JobState.Succeeded],
            (await h.HistoryAsync(job.Id)).Select(e => e.To));
    }

    [Fact]
    public async Task Sweep_PreparationOutlivesPrepareTimeoutMinutes_EndsTheAttemptAsALaunchFailure()
    {
        var code = h.Code(Forever);
        var release = Path.Combine(h.Root, "release");
        File.WriteAllText(Path.Combine(code, "spotjax_setup.sh"), $"echo installing\nwhile [ ! -e {release} ]; do sleep 0.05; done\n");
        var job = await h.SubmitAsync(HandlerHarness.JobYaml(code) + "\nprepareTimeoutMinutes: 20\n");
        await h.Functions.Provision.HandleAsync(h.Step(job.Id, 1), CancellationToken.None);
        await h.Functions.Launch.HandleAsync(h.Step(job.Id, 1), CancellationToken.None);
        job = await h.JobAsync(job.Id);
        Assert.Equal((JobState.Launching, h.Time.GetUtcNow()), (job.State, job.AgentsStartedAt));
        await h.TakeAsync(Topics.Default.Launch);

        h.Time.Advance(TimeSpan.FromMinutes(20));
        await h.Functions.Sweep.HandleAsync(CancellationToken.None);
        Assert.Empty(await h.TakeAsync(Topics.Default.Recover));
        Assert.Empty(await h.TakeAsync(Topics.Default.Launch));

        h.Time.Advance(TimeSpan.FromSeconds(1));
        await h.Functions.Sweep.HandleAsync(CancellationToken.None);
        var recover = Assert.Single(await h.TakeAsync(Topics.Default.Recover));
        Assert.Equal((job.Id, 1, AttemptEnd.LaunchFailed), (recover.JobId, recover.Attempt, recover.Cause));
        Assert.Contains("preparation timed out", recover.Detail, StringComparison.Ordinal);
        Assert.Contains("0 of 1 worker(s) prepared within 20 min", recover.Detail, StringComparison.Ordinal);

        await h.Functions.Recover.HandleAsync(h.Message(recover.ToBytes()), CancellationToken.None);
        job = await h.JobAsync(job.Id);
        Assert.Equal((JobState.Recovering, 1), (job.State, job.FailuresSpent));
        Assert.Contains("preparation timed out", job.LastError, StringComparison.Ordinal);
    }

    [Fact]
    public async Task PreparedMarker_OfAnAttemptThatEnded_ChangesNothing()
    {
        var job = await h.SubmitAsync(HandlerHarness.JobYaml(h.Code(Forever)));
        await h.Functions.Provision.HandleAsync(h.Step(job.Id, 1), CancellationToken.None);
        await h.Functions.Launch.HandleAsync(h.Step(job.Id, 1), CancellationToken.None);
        await h.Functions.Recover.HandleAsync(h.Step(job.Id, 1, AttemptEnd.Preempted, "preempted while preparing"), CancellationToken.None);

        var late = BucketLayout.Marker(job.Id, 1, 0, MarkerKind.Prepared);
        await h.Objects.PutAsync(late, Encoding.UTF8.GetBytes("{\"pid\": 7}"), CancellationToken.None);
        await h.Functions.BucketEvents.HandleAsync(new StorageObjectEvent(HandlerHarness.Bucket, late, 2, 10, h.Time.GetUtcNow()), CancellationToken.None);

        job = await h.JobAsync(job.Id);
        Assert.Equal(JobState.Recovering, job.State);
        Assert.DoesNotContain(await h.HistoryAsync(job.Id), e => e.To == JobState.Running);
    }
}
