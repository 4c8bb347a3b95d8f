using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using SpotJax.Core;
using SpotJax.Core.Jobs;
using SpotJax.Core.Lifecycle;
using SpotJax.Core.Ports;
using SpotJax.Core.Tpu;
using SpotJax.Functions.Local;
using SpotJax.Google.Http;
using SpotJax.Google.Tpu;
using SpotJax.Local.Messaging;
using SpotJax.TpuSimulation;

namespace SpotJax.Benchmarks;

/// <summary>
/// Back-pressure: JOBS jobs RUNNING on one local plane, then one mass preemption of all of them while the
/// TPU simulator admits at most K queued-resource creates per project per "minute". Prints the TPU API calls
/// the control plane made after the preemption (by method, with the errors they ended in), the creates the
/// simulator refused for the rate quota, the admitted creates per window, and the time until every job is
/// RUNNING again (per job: p50/p90/max), and exits non-zero if any job FAILED or did not recover.
/// </summary>
/// <remarks>
/// Time is scaled so that the run fits in minutes: the simulator's "minute" is WINDOW seconds, and every
/// production duration the back-pressure depends on is scaled by WINDOW/60 (sweep every minute, create backoff
/// 30 s to 8 min and 2 min after a rate limit, recovery backoff 30 s to 10 min, a step stuck after 5 min, the transport's 10 s limit on
/// waiting out a Retry-After itself, Pub/Sub's redelivery backoff 10 s to 600 s with 10 deliveries before the
/// dead-letter topic). Workers are stand-ins that write the agents' <c>prepared</c> markers at launch, so the
/// figures are the control plane's alone.
/// Usage: dotnet run -c Release --project tests/SpotJax.Benchmarks -- backpressure [jobs=200] [creates-per-window=20] [window-seconds=6] [seed=1]
/// </remarks>
public static class BackPressure
{
    private const string Zone = "us-central2-b";
    private static readonly TimeSpan Limit = TimeSpan.FromMinutes(10);

    public static async Task<int> RunAsync(string[] args)
    {
        var jobs = args.Length > 0 ? int.Parse(args[0], CultureInfo.InvariantCulture) : 200;
        var perWindow = args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 20;
        var window = TimeSpan.FromSeconds(args.Length > 2 ? double.Parse(args[2], CultureInfo.InvariantCulture) : 6);
        var seed = args.Length > 3 ? int.Parse(args[3], CultureInfo.InvariantCulture) : 1;
        var scale = window / TimeSpan.FromMinutes(1);
        var root = Directory.CreateTempSubdirectory("spotjax-backpressure-bench-").FullName;
        var code = Directory.CreateDirectory(Path.Combine(root, "code")).FullName;
        await File.WriteAllTextAsync(Path.Combine(code, "train.py"), "print('stand-in')\n");

        await using var simulator = await TpuSimulator.StartAsync(
            new TpuSimulatorOptions { NodesRoot = Path.Combine(root, "nodes"), ProvisionDelay = TimeSpan.FromMilliseconds(200), PreemptionGrace = TimeSpan.FromMilliseconds(100) });
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(30) };
        var api = new GoogleApiOptions { BaseDelay = TimeSpan.FromMilliseconds(200) * scale, MaxDelay = TimeSpan.FromSeconds(10) * scale };
        var tpu = new CountingTpuApi(new TpuRestClient(new GoogleApiTransport(http, FixedTokenSource.None, api), new TpuClientOptions { Project = "spotjax-local", BaseUri = simulator.BaseUri }));
        var workers = new MarkerWorkers();
        var random = new Random(seed);
        await using var plane = await LocalControlPlane.StartAsync(
            new LocalControlPlaneOptions
            {
                Root = Path.Combine(root, "state"),
                Simulator = simulator,
                WrapTpuApi = _ => tpu,
                Workers = workers,
                SweepInterval = TimeSpan.FromMinutes(1) * scale,
                Bus = new InProcessBusOptions
                {
                    MinBackoff = TimeSpan.FromSeconds(10) * scale,
                    MaxBackoff = TimeSpan.FromSeconds(600) * scale,
                    MaxDeliveryAttempts = 10,
                    MaxConcurrency = 16,
                },
                Lifecycle = new LifecycleOptions { JitterSample = () => { lock (random) { return random.NextDouble(); } } }.ScaledBy(scale),
            },
            CancellationToken.None);
        workers.Objects = plane.Objects;

        var ids = new List<string>();
        for (var i = 0; i < jobs; i++)
        {
            var spec = new JobSpec
            {
                Name = "backpressure-bench",
                Tpu = new TpuSpec { Type = "v4-8", Zones = [Zone], RuntimeVersion = "tpu-ubuntu2204-base" },
                Code = code,
                Script = "train.py",
                MaxPreemptions = 3,
                Stall = new StallPolicy(600, StallAction.Warn),
            };
            ids.Add(await plane.SubmitAsync(spec, $"backpressure-{seed}-{i}", CancellationToken.None));
        }

        var started = Stopwatch.StartNew();
        await WaitAsync(plane, ids, j => j is { State: JobState.Running, Attempt: 1 }, "RUNNING (attempt 1)");
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{jobs} jobs RUNNING after {started.Elapsed.TotalSeconds:0.0} s (no quota yet); {Environment.ProcessorCount} cores"));

        simulator.SetFaults(new TpuFaults { CreatesPerMinute = perWindow, CreateQuotaWindow = window });
        tpu.Reset();
        var at = DateTimeOffset.UtcNow;
        var clock = Stopwatch.StartNew();
        foreach (var id in ids)
        {
            var job = await plane.Store.GetAsync(id, CancellationToken.None);
            await simulator.PreemptAsync(job!.Zone!, job.QueuedResourceId!);
        }

        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"mass preemption of all {jobs} jobs in {clock.Elapsed.TotalMilliseconds:0} ms; create quota {perWindow} per {window.TotalSeconds:0.#} s per project (the \"minute\", time scale {scale:0.###}), seed {seed}"));
        var recovered = await WaitAsync(plane, ids, j => j is { State: JobState.Running, Attempt: 2 } || j.State.IsTerminal(), "RUNNING again");
        var allRunning = clock.Elapsed;

        var failed = recovered.Where(j => j.State != JobState.Running).ToList();
        var latencies = new List<double>();
        foreach (var id in ids)
        {
            var history = await plane.Store.GetHistoryAsync(id, CancellationToken.None);
            if (history.FirstOrDefault(e => e.Attempt == 2 && e.To == JobState.Running) is { } running)
            {
                latencies.Add((running.At - at).TotalSeconds);
            }
        }

        Console.WriteLine();
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"all {jobs} RUNNING again after {allRunning.TotalSeconds:0.0} s = {allRunning.TotalMinutes / scale:0.0} scaled minutes"));
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"jobs: {recovered.Count(j => j.State == JobState.Running)} RUNNING, {failed.Count} not ({string.Join(", ", failed.Select(j => $"{j.Id} {j.State.ToWire()}: {j.LastError}"))})"));
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"attempts: max {recovered.Max(j => j.Attempt)}; create tries per attempt: max {recovered.Max(j => j.ProvisionTry)}; preemption budget spent: max {recovered.Max(j => j.PreemptionsSpent)}"));
        Print("recovery, s (preemption -> RUNNING)", latencies, scale);
        Console.WriteLine();
        Console.WriteLine("TPU API calls by the control plane after the preemption (one per client call; the transport's own retries inside a call are not counted here):");
        Console.WriteLine($"{"method",-26}{"calls",8}{"ok",8}  errors");
        foreach (var (method, count) in tpu.Snapshot())
        {
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{method,-26}{count.Calls,8}{count.Calls - count.Errors.Values.Sum(),8}  {string.Join(", ", count.Errors.OrderBy(e => e.Key, StringComparer.Ordinal).Select(e => $"{e.Key} {e.Value}"))}"));
        }

        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"creates answered 429 by the simulator (HTTP, transport retries included): {simulator.CreatesRefusedForRate}"));
        var admitted = tpu.CreatesAdmittedAt.Order().ToList();
        var perBucket = admitted.GroupBy(t => (int)((t - at) / window)).OrderBy(g => g.Key).Select(g => $"{g.Key}:{g.Count()}");
        Console.WriteLine($"creates admitted per window since the preemption (window:count): {string.Join(" ", perBucket)}");
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"bus: {plane.Bus.Published} published, {plane.Bus.Delivered} deliveries ({plane.Bus.Redelivered} redelivered), {plane.Bus.DeadLetters.Count} dead letters"));
        return failed.Count == 0 && latencies.Count == jobs ? 0 : 1;
    }

    private static void Print(string name, List<double> values, double scale)
    {
        if (values.Count == 0)
        {
            Console.WriteLine($"{name}: none");
            return;
        }

        var sorted = values.Order().ToArray();
        double At(double p) => sorted[(int)Math.Min(sorted.Length - 1, Math.Ceiling(p * sorted.Length) - 1)];
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{name}: n {sorted.Length}, p50 {At(0.5):0.0}, p90 {At(0.9):0.0}, max {sorted[^1]:0.0} (scaled minutes: p50 {At(0.5) / 60 / scale:0.0}, p90 {At(0.9) / 60 / scale:0.0}, max {sorted[^1] / 60 / scale:0.0})"));
    }

    /// <summary>Waits until every job meets <paramref name="condition"/>, reading all active and ended jobs each round.</summary>
    private static async Task<List<Job>> WaitAsync(LocalControlPlane plane, List<string> ids, Func<Job, bool> condition, string what)
    {
        var clock = Stopwatch.StartNew();
        while (true)
        {
            var jobs = new List<Job>();
            foreach (var id in ids)
            {
                if (await plane.Store.GetAsync(id, CancellationToken.None) is { } job)
                {
                    jobs.Add(job);
                }
            }

            if (jobs.Count == ids.Count && jobs.All(condition))
            {
                return jobs;
            }

            if (clock.Elapsed > Limit)
            {
                var late = jobs.Where(j => !condition(j)).Take(5).Select(j => $"{j.Id} {j.State.ToWire()} attempt {j.Attempt}: {j.LastError}");
                throw new TimeoutException($"{ids.Count - jobs.Count(condition)} job(s) not {what} after {Limit}: {string.Join("; ", late)}");
            }

            await Task.Delay(250);
        }
    }

    /// <summary>Stand-in workers: a launch writes every worker's <c>prepared</c> marker, as the agents would once ready.</summary>
    private sealed class MarkerWorkers : IWorkerRunner
    {
        public IObjectStore? Objects { get; set; }

        public async Task<IReadOnlyList<WorkerResult>> LaunchAsync(LaunchPlan plan, CancellationToken cancellationToken)
        {
            var results = new List<WorkerResult>();
            foreach (var worker in plan.Workers)
            {
                await Objects!.PutAsync(BucketLayout.Marker(plan.JobId, plan.Attempt, worker.Index, MarkerKind.Prepared), [], cancellationToken);
                results.Add(new WorkerResult(worker.Index, true, 0, "", TimeSpan.Zero));
            }

            return results;
        }

        public Task<IReadOnlyList<WorkerResult>> StopAsync(LaunchPlan plan, CancellationToken cancellationToken) =>
            Task.FromResult<IReadOnlyList<WorkerResult>>([.. plan.Workers.Select(w => new WorkerResult(w.Index, true, 0, "", TimeSpan.Zero))]);
    }

    /// <summary>The control plane's TPU API, counting calls by method and the error status each failed one ended in.</summary>
    private sealed class CountingTpuApi(ITpuApi inner) : ITpuApi
    {
        private ConcurrentDictionary<string, Count> counts = new(StringComparer.Ordinal);

        public ConcurrentBag<DateTimeOffset> CreatesAdmittedAt { get; private set; } = [];

        public void Reset()
        {
            counts = new(StringComparer.Ordinal);
            CreatesAdmittedAt = [];
        }

        public IEnumerable<(string Method, Count Count)> Snapshot() => counts.OrderBy(c => c.Key, StringComparer.Ordinal).Select(c => (c.Key, c.Value));

        public async Task<Operation?> CreateQueuedResourceAsync(string zone, string queuedResourceId, QueuedResource body, string requestId, CancellationToken cancellationToken)
        {
            var operation = await CountAsync("queuedResources.create", () => inner.CreateQueuedResourceAsync(zone, queuedResourceId, body, requestId, cancellationToken));
            CreatesAdmittedAt.Add(DateTimeOffset.UtcNow);
            return operation;
        }

        public Task<QueuedResource?> GetQueuedResourceAsync(string zone, string queuedResourceId, CancellationToken cancellationToken) =>
            CountAsync("queuedResources.get", () => inner.GetQueuedResourceAsync(zone, queuedResourceId, cancellationToken));

        public Task<IReadOnlyList<QueuedResource>> ListQueuedResourcesAsync(string zone, CancellationToken cancellationToken) =>
            CountAsync("queuedResources.list", () => inner.ListQueuedResourcesAsync(zone, cancellationToken));

        public Task<Operation?> DeleteQueuedResourceAsync(string zone, string queuedResourceId, bool force, string requestId, CancellationToken cancellationToken) =>
            CountAsync("queuedResources.delete", () => inner.DeleteQueuedResourceAsync(zone, queuedResourceId, force, requestId, cancellationToken));

        public Task<Node?> GetNodeAsync(string zone, string nodeId, CancellationToken cancellationToken) =>
            CountAsync("nodes.get", () => inner.GetNodeAsync(zone, nodeId, cancellationToken));

        public Task<Operation> GetOperationAsync(string name, CancellationToken cancellationToken) =>
            CountAsync("operations.get", () => inner.GetOperationAsync(name, cancellationToken));

        private async Task<T> CountAsync<T>(string method, Func<Task<T>> call)
        {
            var count = counts.GetOrAdd(method, _ => new Count());
            Interlocked.Increment(ref count.Calls);
            try
            {
                return await call();
            }
            catch (GoogleApiException e)
            {
                count.Errors.AddOrUpdate(e.Status, 1, (_, n) => n + 1);
                throw;
            }
        }
    }

    private sealed class Count
    {
        public int Calls;

        public ConcurrentDictionary<string, int> Errors { get; } = new(StringComparer.Ordinal);
    }
}
