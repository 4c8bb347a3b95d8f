using System.Diagnostics;
using System.Globalization;
using SpotJax.Contracts;
using SpotJax.Core.Jobs;
using SpotJax.Core.Lifecycle;
using SpotJax.Functions.Local;
using SpotJax.Tests.EndToEnd;
using SpotJax.TpuSimulation;

namespace SpotJax.Benchmarks;

/// <summary>
/// Two deployments in one project: planes <c>staging</c> and <c>production</c>, each with its own job
/// store and bucket, on one TPU simulator in one zone. Each runs JOBS quickstart jobs (STEPS steps of
/// 50 ms, a checkpoint every 5); running jobs of both are preempted at random moments (100-400 ms
/// apart, at most PREEMPTIONS per job) until every job has ended, while both sweeps run back to back
/// besides each plane's own loop. The planes' clocks run three minutes ahead of the simulator's, so
/// every queued resource is past the sweep's orphan grace at once. Jobs get 100 s to end. Every
/// delete is written down with its caller and the queued resource's labels as the simulator reports
/// them.
/// Usage: dotnet run -c Release --project tests/SpotJax.Benchmarks -- two-deployments [jobs=3] [preemptions=2] [steps=60] [seed=1]
/// </summary>
public static class TwoDeployments
{
    private const string Zone = "us-central2-b";

    /// <summary>How long the jobs get to end; the figures are printed then whatever their state.</summary>
    private static readonly TimeSpan Limit = TimeSpan.FromSeconds(100);
    private static readonly LifecycleOptions Lifecycle = new() { BackoffBase = TimeSpan.Zero, StuckAfter = TimeSpan.FromSeconds(10) };

    public static async Task<int> RunAsync(string[] args)
    {
        var jobs = args.Length > 0 ? int.Parse(args[0], CultureInfo.InvariantCulture) : 3;
        var maxPreemptions = args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 2;
        var steps = args.Length > 2 ? int.Parse(args[2], CultureInfo.InvariantCulture) : 60;
        var seed = args.Length > 3 ? int.Parse(args[3], CultureInfo.InvariantCulture) : 1;
        var random = new Random(seed);
        var clock = Stopwatch.StartNew();
        var root = Directory.CreateTempSubdirectory("spotjax-two-deployments-bench-").FullName;
        var quickstart = Path.Combine(ColdStart.RepositoryRoot(), "examples", "quickstart");

        await using var simulator = await TpuSimulator.StartAsync(
            new TpuSimulatorOptions { NodesRoot = Path.Combine(root, "nodes"), ProvisionDelay = TimeSpan.FromMilliseconds(200), PreemptionGrace = TimeSpan.FromSeconds(1) });
        var ledger = new DeploymentLedger();
        await using var staging = await SharedSimulatorPlanes.StartAsync(root, "staging", simulator, ledger, Lifecycle);
        await using var production = await SharedSimulatorPlanes.StartAsync(root, "production", simulator, ledger, Lifecycle);
        var planes = new[] { staging, production };
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"two deployments (staging, production) on one TPU simulator in {Zone}: {jobs} jobs each, at most {maxPreemptions} preemption(s) per job, {steps} steps of 50 ms, seed {seed}, {Environment.ProcessorCount} cores"));

        using var stop = new CancellationTokenSource();
        var sweeps = SharedSimulatorPlanes.SweepUntilStoppedAsync(planes, stop.Token);
        var submitted = new List<(LocalControlPlane Plane, string Id)>();
        foreach (var plane in planes)
        {
            for (var i = 0; i < jobs; i++)
            {
                var spec = new JobSpec
                {
                    Name = "two-deployments-bench",
                    Tpu = new TpuSpec { Type = "v4-8", Zones = [Zone], RuntimeVersion = "tpu-ubuntu2204-base" },
                    Code = quickstart,
                    Script = "train.py",
                    Args = ["--steps", steps.ToString(CultureInfo.InvariantCulture), "--step-seconds", "0.05"],
                    MaxPreemptions = maxPreemptions + 2,
                };
                submitted.Add((plane, await plane.SubmitAsync(spec, $"{plane.ControlPlane.Deployment}-{seed}-{i}", CancellationToken.None)));
            }
        }

        var injected = submitted.ToDictionary(j => j.Id, _ => 0);
        while (true)
        {
            // A job is stored once its submission is delivered.
            var states = new List<Job?>();
            foreach (var (plane, id) in submitted)
            {
                states.Add(await plane.Store.GetAsync(id, CancellationToken.None));
            }

            if (states.All(job => job is not null && job.State.IsTerminal()))
            {
                break;
            }

            if (clock.Elapsed > Limit)
            {
                // The figures say which jobs had not ended, and why not, if the deployments touched each other.
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"stopped after {Limit.TotalSeconds:0} s with jobs still active"));
                break;
            }

            var candidates = states.OfType<Job>().Where(job => job is { State: JobState.Running, Zone: not null, QueuedResourceId: not null } && injected[job.Id] < maxPreemptions).ToList();
            if (candidates.Count > 0)
            {
                var job = candidates[random.Next(candidates.Count)];
                try
                {
                    await simulator.PreemptAsync(job.Zone!, job.QueuedResourceId!);
                    injected[job.Id]++;
                }
                catch (InvalidOperationException)
                {
                    // Its queued resource ended between the read and the preemption.
                }
            }

            await Task.Delay(random.Next(100, 400));
        }

        await stop.CancelAsync();
        var sweepsRun = await sweeps;

        var byState = new Dictionary<string, int>(StringComparer.Ordinal);
        var recoveries = 0;
        var unexplained = 0;
        foreach (var (plane, id) in submitted)
        {
            var job = (await plane.Store.GetAsync(id, CancellationToken.None))!;
            var key = $"{plane.ControlPlane.Deployment} {job.State.ToWire()}";
            byState[key] = byState.GetValueOrDefault(key) + 1;
            var recovered = (await plane.Store.GetHistoryAsync(id, CancellationToken.None)).Count(e => e.To == JobState.Recovering);
            recoveries += recovered;
            // Every recovery of a job answers one preemption injected into its own queued resource; any other was caused from outside.
            unexplained += Math.Max(0, recovered - injected[id]);
        }

        var found = ledger.Deletes.Where(d => d.Found).ToList();
        Console.WriteLine("jobs by final state: " + string.Join(", ", byState.OrderBy(e => e.Key, StringComparer.Ordinal).Select(e => $"{e.Key} {e.Value}")));
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"preemptions injected: {injected.Values.Sum()}; recoveries: {recoveries}"));
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"explicit sweeps run: {sweepsRun} (besides each plane's own every 200 ms)"));
        Console.WriteLine("delete calls that found a queued resource, by caller: " + string.Join(", ", planes.Select(p => string.Create(CultureInfo.InvariantCulture,
            $"{p.ControlPlane.Deployment} {found.Count(d => d.Caller == p.ControlPlane.Deployment)} (all labelled {p.ControlPlane.Deployment}: {found.Where(d => d.Caller == p.ControlPlane.Deployment).All(d => d.Labelled == p.ControlPlane.Deployment)})"))));
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"cross-deployment deletes/recoveries: {ledger.CrossDeployment.Count}/{unexplained}"));
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"wall time: {clock.Elapsed.TotalSeconds:0.0} s"));
        return ledger.CrossDeployment.Count == 0 && unexplained == 0 && byState.Keys.All(k => k.EndsWith(" SUCCEEDED", StringComparison.Ordinal)) ? 0 : 1;
    }
}
