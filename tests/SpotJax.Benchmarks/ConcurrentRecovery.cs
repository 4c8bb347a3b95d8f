using System.Diagnostics;
using System.Globalization;
using SpotJax.Core.Jobs;
using SpotJax.Functions.Local;
using SpotJax.Local.Messaging;

namespace SpotJax.Benchmarks;

/// <summary>
/// Recovery under load on the local plane: JOBS jobs running at once, ROUNDS preemptions of randomly
/// chosen running jobs at random moments (0-300 ms apart, not waiting for the recoveries), the bus
/// duplicating each delivery with probability DUP (and holding messages up to 50 ms, so they are
/// reordered), the sweep every 500 ms. Then every job is preempted at once and cancelled while
/// those recoveries run. Prints detection (the preemption notice -> RECOVERING), recovery (-> the
/// next attempt RUNNING) and the cancel's latency (published -> CANCELLING applied), in ms.
/// Usage: dotnet run -c Release --project tests/SpotJax.Benchmarks -- concurrent [jobs=10] [rounds=30] [dup=0.3] [seed=1]
/// </summary>
public static class ConcurrentRecovery
{
    public static async Task<int> RunAsync(string[] args)
    {
        var jobs = args.Length > 0 ? int.Parse(args[0], CultureInfo.InvariantCulture) : 10;
        var rounds = args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 30;
        var duplicate = args.Length > 2 ? double.Parse(args[2], CultureInfo.InvariantCulture) : 0.3;
        var seed = args.Length > 3 ? int.Parse(args[3], CultureInfo.InvariantCulture) : 1;
        var random = new Random(seed);
        var root = Directory.CreateTempSubdirectory("spotjax-concurrent-bench-").FullName;
        var code = Directory.CreateDirectory(Path.Combine(root, "code")).FullName;
        await File.WriteAllTextAsync(Path.Combine(code, "train.py"), "import time\nwhile True:\n    time.sleep(0.05)\n");

        await using var plane = await LocalControlPlane.StartAsync(
            new LocalControlPlaneOptions
            {
                Root = Path.Combine(root, "state"),
                ProvisionDelay = TimeSpan.FromMilliseconds(200),
                PreemptionGrace = TimeSpan.FromSeconds(1),
                SweepInterval = TimeSpan.FromMilliseconds(500),
                Bus = new InProcessBusOptions { DuplicateProbability = duplicate, MaxReorderDelay = TimeSpan.FromMilliseconds(50), Seed = seed },
                Lifecycle = new() { BackoffBase = TimeSpan.Zero, StuckAfter = TimeSpan.FromMinutes(2) },
            },
            CancellationToken.None);
        var ids = new List<string>();
        for (var i = 0; i < jobs; i++)
        {
            var spec = new JobSpec
            {
                Name = "concurrent-bench",
                Tpu = new TpuSpec { Type = "v4-8", Zones = ["us-central2-b"], RuntimeVersion = "tpu-ubuntu2204-base" },
                Code = code,
                Script = "train.py",
                MaxPreemptions = rounds + 2,
            };
            ids.Add(await plane.SubmitAsync(spec, $"concurrent-{seed}-{i}", CancellationToken.None));
        }

        foreach (var id in ids)
        {
            await WaitAsync(plane, id, j => j.State == JobState.Running);
        }

        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{jobs} jobs running; {rounds} random preemptions, duplicate probability {duplicate}, seed {seed}, sweep every 500 ms, {Environment.ProcessorCount} cores"));
        var preemptions = new List<(string JobId, int Attempt, DateTimeOffset At)>();
        while (preemptions.Count < rounds)
        {
            await Task.Delay(random.Next(0, 300));
            var id = ids[random.Next(ids.Count)];
            if (await PreemptRunningAsync(plane, id) is { } preempted)
            {
                preemptions.Add(preempted);
            }
        }

        // The load for the cancels: every job recovers at once while its cancel arrives.
        var storm = new List<(string JobId, int Attempt, DateTimeOffset At)>();
        foreach (var id in ids)
        {
            await WaitAsync(plane, id, j => j.State == JobState.Running && j.Attempt > preemptions.Where(p => p.JobId == id).Select(p => p.Attempt).DefaultIfEmpty(0).Max());
            if (await PreemptRunningAsync(plane, id) is { } preempted)
            {
                storm.Add(preempted);
            }
        }

        var cancels = new List<(string JobId, DateTimeOffset At)>();
        foreach (var id in ids)
        {
            await Task.Delay(random.Next(0, 100));
            cancels.Add((id, DateTimeOffset.UtcNow));
            await plane.CancelAsync(id, CancellationToken.None);
        }

        foreach (var id in ids)
        {
            await WaitAsync(plane, id, j => j.State.IsTerminal());
        }

        var detection = new List<double>();
        var recovery = new List<double>();
        foreach (var (id, attempt, at) in preemptions.Concat(storm))
        {
            var history = await plane.Store.GetHistoryAsync(id, CancellationToken.None);
            if (history.FirstOrDefault(e => e.Attempt == attempt && e.To == JobState.Recovering) is { } recovering)
            {
                detection.Add((recovering.At - at).TotalMilliseconds);
            }

            if (preemptions.Contains((id, attempt, at)) && history.FirstOrDefault(e => e.Attempt == attempt + 1 && e.To == JobState.Running) is { } running)
            {
                recovery.Add((running.At - at).TotalMilliseconds);
            }
        }

        var cancelled = new List<double>();
        foreach (var (id, at) in cancels)
        {
            var history = await plane.Store.GetHistoryAsync(id, CancellationToken.None);
            if (history.FirstOrDefault(e => e.To == JobState.Cancelling) is { } applied)
            {
                cancelled.Add((applied.At - at).TotalMilliseconds);
            }
        }

        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"bus: {plane.Bus.Published} published, {plane.Bus.Delivered} deliveries ({plane.Bus.Redelivered} redelivered), {plane.Bus.DeadLetters.Count} dead letters"));
        Console.WriteLine($"{"latency, ms",-34}{"n",5}{"p50",8}{"p90",8}{"max",8}");
        Print("detection (notice -> RECOVERING)", detection);
        Print("recovery (notice -> RUNNING)", recovery);
        Print("cancel (published -> CANCELLING)", cancelled);
        return 0;
    }

    /// <summary>Preempts the job's attempt if it is running now; null when it is between attempts.</summary>
    private static async Task<(string, int, DateTimeOffset)?> PreemptRunningAsync(LocalControlPlane plane, string jobId)
    {
        var job = await plane.Store.GetAsync(jobId, CancellationToken.None);
        if (job is not { State: JobState.Running, Zone: { } zone, QueuedResourceId: { } queued })
        {
            return null;
        }

        var at = DateTimeOffset.UtcNow;
        try
        {
            await plane.Simulator.PreemptAsync(zone, queued);
        }
        catch (InvalidOperationException)
        {
            // Its queued resource went between the read and the preemption.
            return null;
        }

        return (jobId, job.Attempt, at);
    }

    private static void Print(string name, List<double> values)
    {
        if (values.Count == 0)
        {
            Console.WriteLine($"{name,-34}{0,5}");
            return;
        }

        var sorted = values.Order().ToArray();
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{name,-34}{sorted.Length,5}{Percentile(sorted, 0.5),8:0}{Percentile(sorted, 0.9),8:0}{sorted[^1],8:0}"));
    }

    private static double Percentile(double[] sorted, double p) => sorted[(int)Math.Min(sorted.Length - 1, Math.Ceiling(p * sorted.Length) - 1)];

    private static async Task WaitAsync(LocalControlPlane plane, string jobId, Func<Job, bool> condition)
    {
        var clock = Stopwatch.StartNew();
        while (await plane.Store.GetAsync(jobId, CancellationToken.None) is not { } job || !condition(job))
        {
            if (clock.Elapsed > TimeSpan.FromMinutes(3))
            {
                throw new TimeoutException($"job {jobId} did not reach the expected state");
            }

            await Task.Delay(10);
        }
    }
}
