using SpotJax.Contracts;
using SpotJax.Core.Jobs;
using SpotJax.Core.Lifecycle;
using SpotJax.Core.Steps;
using SpotJax.Functions.Local;
using SpotJax.TpuSimulation;

namespace SpotJax.Tests.EndToEnd;

/// <summary>
/// Two deployments in one project: two control planes, each with its own job store and bucket, on
/// one TPU simulator in one zone, running jobs through preemptions and sweeps side by side.
/// </summary>
public sealed class TwoDeploymentsTests
{
    private const string Zone = "us-central2-b";
    private static readonly string Quickstart = Path.Combine(Repository.Root, "examples", "quickstart");
    private static readonly LifecycleOptions Lifecycle = new() { BackoffBase = TimeSpan.FromMilliseconds(200), BackoffMax = TimeSpan.FromSeconds(1), StuckAfter = TimeSpan.FromSeconds(10) };

    [Fact]
    public async Task TwoPlanesOnOneSimulator_WithPreemptionsAndSweeps_NeverDeleteOrRecoverEachOthersQueuedResources()
    {
        var root = Directory.CreateTempSubdirectory("spotjax-two-deployments-").FullName;
        await using var simulator = await TpuSimulator.StartAsync(
            new TpuSimulatorOptions { NodesRoot = Path.Combine(root, "nodes"), ProvisionDelay = TimeSpan.FromMilliseconds(200), PreemptionGrace = TimeSpan.FromSeconds(3) });
        var ledger = new DeploymentLedger();
        await using var staging = await SharedSimulatorPlanes.StartAsync(root, "staging", simulator, ledger, Lifecycle);
        await using var production = await SharedSimulatorPlanes.StartAsync(root, "production", simulator, ledger, Lifecycle);
        var planes = new[] { staging, production };

        // Besides each plane's own sweep loop, both sweeps run back to back for the whole test.
        using var stop = new CancellationTokenSource();
        var sweeps = SharedSimulatorPlanes.SweepUntilStoppedAsync(planes, stop.Token);

        var jobs = new List<(LocalControlPlane Plane, string Id)>();
        foreach (var plane in planes)
        {
            for (var i = 0; i < 2; i++)
            {
                // Distinct submissions, as `spotjax submit` makes them (a fresh id each).
                var id = await plane.SubmitAsync(Spec(), $"{plane.ControlPlane.Deployment}-{i}", CancellationToken.None);
                jobs.Add((plane, id));
            }
        }

        foreach (var (plane, id) in jobs)
        {
            await WaitAsync(plane, id, j => j.State == JobState.Running && j.Attempt == 1 && j.LastCheckpointStep >= 3);
            await plane.PreemptAsync(id, CancellationToken.None);
        }

        var ended = new List<Job>();
        foreach (var (plane, id) in jobs)
        {
            ended.Add(await WaitAsync(plane, id, j => j.State.IsTerminal(), seconds: 120));
        }

        // finish deletes a job's last queued resource after the job has ended: wait for those deletes, not for the state.
        await Eventually.TrueAsync(
            () => jobs.All(j => ledger.Deletes.Any(d => d.Found && d.QueuedResourceId == $"{j.Id}-2")),
            "every job's attempt-2 queued resource deleted");
        await stop.CancelAsync();
        var sweepsRun = await sweeps;

        Assert.All(ended, j => Assert.Equal((JobState.Succeeded, 2, 1, 0), (j.State, j.Attempt, j.PreemptionsSpent, j.FailuresSpent)));
        Assert.All(jobs, j => Assert.Equal(j.Plane.ControlPlane.Deployment, ended.Single(e => e.Id == j.Id).Deployment));
        Assert.True(sweepsRun > 10, $"only {sweepsRun} sweeps ran");
        foreach (var plane in planes)
        {
            // Each plane deleted its own queued resources: attempt 1 on recovery, attempt 2 when the job ended.
            var own = ledger.Deletes.Where(d => d.Found && d.Caller == plane.ControlPlane.Deployment).Select(d => d.QueuedResourceId).ToHashSet();
            Assert.Superset(jobs.Where(j => j.Plane == plane).SelectMany(j => new[] { $"{j.Id}-1", $"{j.Id}-2" }).ToHashSet(), own);
        }

        Assert.Empty(ledger.CrossDeployment);
        Assert.All(ledger.Deletes.Where(d => d.Found), d => Assert.Equal(d.Caller, d.Labelled));
    }

    private static JobSpec Spec() => new()
    {
        Name = "two-deployments",
        Tpu = new TpuSpec { Type = "v4-8", Zones = [Zone], RuntimeVersion = "tpu-ubuntu2204-base" },
        Code = Quickstart,
        Script = "train.py",
        Args = ["--steps", "20", "--step-seconds", "0.1", "--wait-for-preemption"],
        MaxRetries = 5,
    };

    private static async Task<Job> WaitAsync(LocalControlPlane plane, string jobId, Func<Job, bool> condition, int seconds = 60)
    {
        Job? job = null;
        await Eventually.TrueAsync(
            async () => (job = await plane.Store.GetAsync(jobId, CancellationToken.None)) is { } j && condition(j),
            TimeSpan.FromSeconds(seconds),
            $"job {jobId} of {plane.ControlPlane.Deployment}");
        return job!;
    }
}
