using System.Collections.Concurrent;
using SpotJax.Contracts;
using SpotJax.Core;
using SpotJax.Core.Jobs;
using SpotJax.Core.Lifecycle;
using SpotJax.Core.Ports;
using SpotJax.Core.Steps;
using SpotJax.Functions;

namespace SpotJax.Tests.Handlers;

/// <summary>
/// Each attempt is launched once, however often <c>launch</c> is delivered or the sweep runs, and a
/// launch that crashed after taking its lease is taken over once the lease expires (fake clock); an
/// attempt that ended while its agents were being started is stopped.
/// </summary>
public sealed class LaunchLeaseTests : IAsyncLifetime
{
    private const string Forever = "import time\nwhile True:\n    time.sleep(0.1)\n";
    private HandlerHarness h = null!;
    private CountingRunner runner = null!;
    private SpotJaxFunctions functions = null!;

    public async Task InitializeAsync()
    {
        h = await HandlerHarness.StartAsync();
        runner = new CountingRunner(h.Workers);
        functions = new SpotJaxFunctions(h.Store, h.Bus, h.Objects, h.Tpu, runner, h.Options, h.Time);
    }

    public async Task DisposeAsync() => await h.DisposeAsync();

    [Fact]
    public async Task Sweep_RepeatedWhileProvisioningWithAnActiveResource_PublishesLaunchOnce()
    {
        var job = await h.SubmitAsync(HandlerHarness.JobYaml(h.Code(Forever)));
        await functions.Provision.HandleAsync(h.Step(job.Id, 1), CancellationToken.None);
        await h.TakeAsync(Topics.Default.Launch);

        await functions.Sweep.HandleAsync(CancellationToken.None);
        await functions.Sweep.HandleAsync(CancellationToken.None);
        await functions.Sweep.HandleAsync(CancellationToken.None);

        Assert.Single(await h.TakeAsync(Topics.Default.Launch), l => l.JobId == job.Id && l.Attempt == 1);
    }

    [Fact]
    public async Task Launch_DuplicatedMessagesAndRepeatedSweeps_LaunchesEachWorkerOncePerAttempt()
    {
        var job = await h.SubmitAsync(HandlerHarness.JobYaml(h.Code(Forever)));
        await functions.Provision.HandleAsync(h.Step(job.Id, 1), CancellationToken.None);
        await functions.Sweep.HandleAsync(CancellationToken.None);

        // Two copies delivered at once, then late copies between sweeps.
        await Task.WhenAll(
            functions.Launch.HandleAsync(h.Step(job.Id, 1), CancellationToken.None),
            functions.Launch.HandleAsync(h.Step(job.Id, 1), CancellationToken.None));
        foreach (var _ in Enumerable.Range(0, 3))
        {
            await functions.Sweep.HandleAsync(CancellationToken.None);
            foreach (var launch in await h.TakeAsync(Topics.Default.Launch))
            {
                await functions.Launch.HandleAsync(h.Step(launch.JobId, launch.Attempt), CancellationToken.None);
            }

            await functions.Launch.HandleAsync(h.Step(job.Id, 1), CancellationToken.None);
        }

        Assert.Equal(JobState.Running, (await h.PreparedAsync(job.Id)).State);
        Assert.Equal([(1, 0)], runner.Launched.Order());
    }

    [Fact]
    public async Task Launch_CrashedAfterTakingTheLease_IsLaunchedAgainOnlyAfterTheLeaseExpires()
    {
        var job = await h.SubmitAsync(HandlerHarness.JobYaml(h.Code(Forever)));
        await functions.Provision.HandleAsync(h.Step(job.Id, 1), CancellationToken.None);
        await h.TakeAsync(Topics.Default.Launch);
        // What a launch that died right after its compare-and-set leaves behind.
        var now = h.Time.GetUtcNow();
        await new JobTransitions(h.Store).ApplyAsync(job.Id, j => JobLifecycle.NodesReady(j, 1, 1, now, now + h.Options.Lifecycle.LaunchLease), CancellationToken.None);

        await functions.Sweep.HandleAsync(CancellationToken.None);
        await functions.Launch.HandleAsync(h.Step(job.Id, 1), CancellationToken.None);
        Assert.Empty(await h.TakeAsync(Topics.Default.Launch));
        Assert.Empty(runner.Launched);

        h.Time.Advance(h.Options.Lifecycle.LaunchLease);
        await functions.Sweep.HandleAsync(CancellationToken.None);
        var republished = await h.TakeAsync(Topics.Default.Launch);
        Assert.Single(republished, l => l.JobId == job.Id && l.Attempt == 1);
        await functions.Launch.HandleAsync(h.Step(job.Id, 1), CancellationToken.None);

        var launched = await h.JobAsync(job.Id);
        Assert.Equal((JobState.Launching, now + h.Options.Lifecycle.LaunchLease), (launched.State, launched.AgentsStartedAt));
        Assert.Equal(now + (2 * h.Options.Lifecycle.LaunchLease), launched.LaunchLeaseUntil);
        Assert.Equal([(1, 0)], runner.Launched);

        // The agents started: however long they prepare, the sweep never launches the attempt again.
        h.Time.Advance(2 * h.Options.Lifecycle.LaunchLease);
        await functions.Sweep.HandleAsync(CancellationToken.None);
        Assert.Empty(await h.TakeAsync(Topics.Default.Launch));
        Assert.Equal(JobState.Running, (await h.PreparedAsync(job.Id)).State);
        Assert.Equal([(1, 0)], runner.Launched);
    }

    [Fact]
    public async Task Launch_RecoveryDeletesTheResourceWhileAgentsStart_StopsTheStartedAttempt()
    {
        var job = await h.SubmitAsync(HandlerHarness.JobYaml(h.Code(Forever)));
        await functions.Provision.HandleAsync(h.Step(job.Id, 1), CancellationToken.None);
        // The recovery lands after the agents started and before launch reads the job again.
        runner.AfterLaunch = () => functions.Recover.HandleAsync(h.Step(job.Id, 1, AttemptEnd.Preempted, "preempted during launch"), CancellationToken.None);

        await functions.Launch.HandleAsync(h.Step(job.Id, 1), CancellationToken.None);

        Assert.Equal([(1, 0)], runner.Launched);
        Assert.Equal([(1, 0)], runner.Stopped);
        var recovering = await h.JobAsync(job.Id);
        Assert.Equal(JobState.Recovering, recovering.State);
        Assert.DoesNotContain(await h.HistoryAsync(job.Id), e => e.To == JobState.Running);
        Assert.True(h.Objects.TryResolve(BucketLayout.GsUri(HandlerHarness.Bucket, BucketLayout.Marker(job.Id, 1, 0, MarkerKind.Exited)), out var exited));
        await Eventually.TrueAsync(() => File.Exists(exited), "the stopped attempt's exited marker");
        Assert.Contains("\"preemptionNotice\": true", await File.ReadAllTextAsync(exited), StringComparison.Ordinal);
    }

    /// <summary>The local runner, counting every (attempt, worker) it is asked to launch or stop.</summary>
    private sealed class CountingRunner(IWorkerRunner inner) : IWorkerRunner
    {
        private readonly ConcurrentQueue<(int Attempt, int Worker)> launched = new();
        private readonly ConcurrentQueue<(int Attempt, int Worker)> stopped = new();

        public IReadOnlyList<(int Attempt, int Worker)> Launched => [.. launched];

        public IReadOnlyList<(int Attempt, int Worker)> Stopped => [.. stopped];

        /// <summary>Runs after the agents started, before the launch returns: a step racing the launch.</summary>
        public Func<Task>? AfterLaunch { get; set; }

        public async Task<IReadOnlyList<WorkerResult>> LaunchAsync(LaunchPlan plan, CancellationToken cancellationToken)
        {
            foreach (var worker in plan.Workers)
            {
                launched.Enqueue((plan.Attempt, worker.Index));
            }

            var results = await inner.LaunchAsync(plan, cancellationToken);
            if (AfterLaunch is { } racing)
            {
                await racing();
            }

            return results;
        }

        public Task<IReadOnlyList<WorkerResult>> StopAsync(LaunchPlan plan, CancellationToken cancellationToken)
        {
            foreach (var worker in plan.Workers)
            {
                stopped.Enqueue((plan.Attempt, worker.Index));
            }

            return inner.StopAsync(plan, cancellationToken);
        }
    }
}
