using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using SpotJax.Core.Jobs;
using SpotJax.Core.Ports;
using SpotJax.Functions.Local;
using SpotJax.Local.Workers;

namespace SpotJax.Benchmarks;

/// <summary>
/// The launch step's duration in local mode, per slice size: from the job entering LAUNCHING (when the
/// launch message is published) to the worker runner's return in the launch step, for jobs of 1, 4,
/// 16 and 64 workers (v4-8, v4-32, v4-128, v4-512) whose setup script sleeps (a slow preparation).
/// The p50 over R runs, each a fresh job and node; the job is cancelled once it has launched.
/// Usage: dotnet run -c Release --project tests/SpotJax.Benchmarks -- launch [runs=3] [workers=1 4 16 64]
/// </summary>
public static class LaunchDuration
{
    private static readonly Dictionary<int, string> Types = new() { [1] = "v4-8", [4] = "v4-32", [16] = "v4-128", [64] = "v4-512" };

    public static async Task<int> RunAsync(string[] args)
    {
        var runs = args.Length > 0 ? int.Parse(args[0], CultureInfo.InvariantCulture) : 3;
        var sizes = args.Length > 1 ? args[1..].Select(a => int.Parse(a, CultureInfo.InvariantCulture)).ToArray() : [1, 4, 16, 64];
        if (sizes.FirstOrDefault(s => !Types.ContainsKey(s)) is > 0 and var bad)
        {
            await Console.Error.WriteLineAsync($"no v4 slice of {bad} workers here; choose from {string.Join(", ", Types.Keys)}");
            return 2;
        }

        const int SetupSeconds = 5;
        var root = Directory.CreateTempSubdirectory("spotjax-launch-bench-").FullName;
        var code = Directory.CreateDirectory(Path.Combine(root, "code")).FullName;
        await File.WriteAllTextAsync(Path.Combine(code, "spotjax_setup.sh"), $"sleep {SetupSeconds}\n");
        await File.WriteAllTextAsync(Path.Combine(code, "train.py"), "import time\nwhile True:\n    time.sleep(0.05)\n");
        var timed = new TimedWorkers();
        var state = Path.Combine(root, "state");
        await using var plane = await LocalControlPlane.StartAsync(
            new LocalControlPlaneOptions
            {
                Root = state,
                ProvisionDelay = TimeSpan.Zero,
                PreemptionGrace = TimeSpan.FromSeconds(1),
                Workers = timed,
                Lifecycle = new() { BackoffBase = TimeSpan.Zero, StuckAfter = TimeSpan.FromMinutes(5) },
            },
            CancellationToken.None);
        timed.Inner = new LocalWorkerRunner(new LocalWorkerOptions
        {
            NodesRoot = Path.Combine(state, "nodes"),
            ResolveUri = uri => plane.Objects.TryResolve(uri, out var path) ? path : uri,
            MetadataUrl = (zone, node) => plane.Simulator.MetadataUrl(zone, node).ToString(),
        });

        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"Launch step in local mode, setup script sleeping {SetupSeconds}s, {runs} runs per size, {Environment.ProcessorCount} cores"));
        var rows = new List<(int Workers, double[] Values)>();
        var number = 0;
        foreach (var size in sizes)
        {
            var values = new List<double>();
            for (var run = 0; run < runs; run++)
            {
                var spec = new JobSpec
                {
                    Name = "launch-bench",
                    Tpu = new TpuSpec { Type = Types[size], Zones = ["us-central2-b"], RuntimeVersion = "tpu-ubuntu2204-base" },
                    Code = code,
                    Script = "train.py",
                };
                var jobId = await plane.SubmitAsync(spec, $"launch-{number++}", CancellationToken.None);
                var returned = await timed.ReturnedAsync(jobId);
                var history = await plane.Store.GetHistoryAsync(jobId, CancellationToken.None);
                var launching = history.First(e => e.To == JobState.Launching).At;
                values.Add((returned - launching).TotalMilliseconds);
                await plane.CancelAsync(jobId, CancellationToken.None);
                await WaitTerminalAsync(plane, jobId);
            }

            rows.Add((size, [.. values]));
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{size} workers: {string.Join(" ", values.Select(v => v.ToString("0", CultureInfo.InvariantCulture)))} ms"));
        }

        Console.WriteLine("Launch step (LAUNCHING -> the worker runner returned), milliseconds:");
        Console.WriteLine($"{"workers",8}{"p50",10}{"min",10}{"max",10}");
        foreach (var (size, values) in rows)
        {
            var sorted = values.Order().ToArray();
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{size,8}{sorted[(sorted.Length - 1) / 2],10:0}{sorted[0],10:0}{sorted[^1],10:0}"));
        }

        return 0;
    }

    private static async Task WaitTerminalAsync(LocalControlPlane plane, string jobId)
    {
        var clock = Stopwatch.StartNew();
        while (await plane.Store.GetAsync(jobId, CancellationToken.None) is not { } job || !job.State.IsTerminal())
        {
            if (clock.Elapsed > TimeSpan.FromMinutes(2))
            {
                throw new TimeoutException($"job {jobId} did not end after its cancel");
            }

            await Task.Delay(20);
        }
    }

    /// <summary>The plane's local worker runner, noting when each job's launch returned.</summary>
    private sealed class TimedWorkers : IWorkerRunner
    {
        private readonly ConcurrentDictionary<string, TaskCompletionSource<DateTimeOffset>> returned = new(StringComparer.Ordinal);

        public IWorkerRunner? Inner { get; set; }

        public Task<DateTimeOffset> ReturnedAsync(string jobId) =>
            returned.GetOrAdd(jobId, _ => new(TaskCreationOptions.RunContinuationsAsynchronously)).Task.WaitAsync(TimeSpan.FromMinutes(5));

        public async Task<IReadOnlyList<WorkerResult>> LaunchAsync(LaunchPlan plan, CancellationToken cancellationToken)
        {
            var results = await Inner!.LaunchAsync(plan, cancellationToken);
            returned.GetOrAdd(plan.JobId, _ => new(TaskCreationOptions.RunContinuationsAsynchronously)).TrySetResult(DateTimeOffset.UtcNow);
            return results;
        }

        public Task<IReadOnlyList<WorkerResult>> StopAsync(LaunchPlan plan, CancellationToken cancellationToken) => Inner!.StopAsync(plan, cancellationToken);
    }
}
