using System.Globalization;
using SpotJax.Core.Jobs;
using SpotJax.Functions.Local;

namespace SpotJax.Benchmarks;

/// <summary>
/// Local recovery latency: from an injected preemption to the next attempt's script running, split
/// into detection (preemption -> RECOVERING), teardown (RECOVERING -> next PROVISIONING, backoff
/// set to zero), provisioning (-> LAUNCHING, simulator delay zero) and launch (-> RUNNING: the
/// agent confirmed the script started on every worker).
/// Usage: dotnet run -c Release --project tests/SpotJax.Benchmarks -- [preemptions=10] [tpu-type=v4-8]
/// </summary>
public static class RecoveryLatency
{
    public static async Task<int> RunAsync(string[] args)
    {
        var rounds = args.Length > 0 ? int.Parse(args[0], CultureInfo.InvariantCulture) : 10;
        var type = args.Length > 1 ? args[1] : "v4-8";
        var root = Directory.CreateTempSubdirectory("spotjax-bench-").FullName;
        var code = Directory.CreateDirectory(Path.Combine(root, "code")).FullName;
        await File.WriteAllTextAsync(Path.Combine(code, "train.py"), "import time\nwhile True:\n    time.sleep(0.05)\n");

        await using var plane = await LocalControlPlane.StartAsync(
            new LocalControlPlaneOptions
            {
                Root = Path.Combine(root, "state"),
                ProvisionDelay = TimeSpan.Zero,
                PreemptionGrace = TimeSpan.FromSeconds(2),
                Lifecycle = new() { BackoffBase = TimeSpan.Zero, StuckAfter = TimeSpan.FromMinutes(1) },
            },
            CancellationToken.None);
        var spec = new JobSpec
        {
            Name = "recovery-bench",
            Tpu = new TpuSpec { Type = type, Zones = ["us-central2-b"], RuntimeVersion = "tpu-ubuntu2204-base" },
            Code = code,
            Script = "train.py",
            MaxPreemptions = rounds + 1,
        };
        var jobId = await plane.SubmitAsync(spec, Guid.NewGuid().ToString("N"), CancellationToken.None);
        await WaitAsync(plane, jobId, j => j.State == JobState.Running && j.Attempt == 1);

        var phases = new List<double[]>();
        for (var attempt = 1; attempt <= rounds; attempt++)
        {
            var preemptedAt = DateTimeOffset.UtcNow;
            await plane.PreemptAsync(jobId, CancellationToken.None);
            await WaitAsync(plane, jobId, j => j.State == JobState.Running && j.Attempt == attempt + 1);
            var history = await plane.Store.GetHistoryAsync(jobId, CancellationToken.None);
            var recovering = history.Single(e => e.Attempt == attempt && e.To == JobState.Recovering).At;
            var provisioning = history.Single(e => e.Attempt == attempt + 1 && e.To == JobState.Provisioning).At;
            var launching = history.Single(e => e.Attempt == attempt + 1 && e.To == JobState.Launching).At;
            var running = history.Single(e => e.Attempt == attempt + 1 && e.To == JobState.Running).At;
            phases.Add([
                (recovering - preemptedAt).TotalMilliseconds,
                (provisioning - recovering).TotalMilliseconds,
                (launching - provisioning).TotalMilliseconds,
                (running - launching).TotalMilliseconds,
                (running - preemptedAt).TotalMilliseconds,
            ]);
        }

        await plane.CancelAsync(jobId, CancellationToken.None);
        await WaitAsync(plane, jobId, j => j.State.IsTerminal());

        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"Local recovery latency, {rounds} preemptions of a {type} job ({Environment.ProcessorCount} cores), milliseconds:"));
        Console.WriteLine($"{"phase",-14}{"median",10}{"p90",10}{"min",10}{"max",10}");
        string[] names = ["detection", "teardown", "provisioning", "launch", "total"];
        for (var i = 0; i < names.Length; i++)
        {
            var values = phases.Select(p => p[i]).Order().ToArray();
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{names[i],-14}{Percentile(values, 0.5),10:0}{Percentile(values, 0.9),10:0}{values[0],10:0}{values[^1],10:0}"));
        }

        return 0;
    }

    private static double Percentile(double[] sorted, double p) => sorted[(int)Math.Min(sorted.Length - 1, Math.Ceiling(p * sorted.Length) - 1)];

    private static async Task WaitAsync(LocalControlPlane plane, string jobId, Func<Job, bool> condition)
    {
        var deadline = DateTimeOffset.UtcNow.AddMinutes(2);
        while (await plane.Store.GetAsync(jobId, CancellationToken.None) is not { } job || !condition(job))
        {
            if (DateTimeOffset.UtcNow > deadline)
            {
                throw new TimeoutException($"job {jobId} did not reach the expected state");
            }

            await Task.Delay(10);
        }
    }
}
