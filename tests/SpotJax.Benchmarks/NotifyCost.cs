using System.Globalization;
using SpotJax.Contracts;
using SpotJax.Core.Jobs;
using SpotJax.Functions.Local;

namespace SpotJax.Benchmarks;

/// <summary>
/// What a webhook costs the lifecycle in local mode: the same jobs (the quickstart, each preempted once
/// at step 5, all at once) run with no webhook, a live one, one that refuses connections and one that
/// accepts them and never answers. Per run it prints the slowest job's submit -> SUCCEEDED and
/// preemption -> RUNNING again, and the POSTs the webhook got; a webhook that slowed the lifecycle
/// would show in the first two columns.
/// Usage: dotnet run -c Release --project tests/SpotJax.Benchmarks -- notify [runs-per-webhook=3] [jobs=1]
/// </summary>
public static class NotifyCost
{
    public static async Task<int> RunAsync(string[] args)
    {
        var runs = args.Length > 0 ? int.Parse(args[0], CultureInfo.InvariantCulture) : 3;
        var jobs = args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 1;
        var quickstart = Path.Combine(ColdStart.RepositoryRoot(), "examples", "quickstart");
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"Lifecycle time with a webhook, {runs} run(s) each of {jobs} job(s) at once ({Environment.ProcessorCount} cores), slowest job, milliseconds:"));
        Console.WriteLine($"{"webhook",-10}{"run",5}{"submit->done",14}{"preempt->run",14}{"POSTs",7}");
        foreach (var kind in new[] { "none", "live", "refusing", "hanging" })
        {
            for (var run = 1; run <= runs; run++)
            {
                await using var live = kind == "live" ? WebhookReceiver.Start() : null;
                await using var hanging = kind == "hanging" ? WebhookReceiver.Hanging() : null;
                var url = kind switch
                {
                    "live" => live!.Url,
                    "hanging" => hanging!.Url,
                    "refusing" => WebhookReceiver.RefusingUrl(),
                    _ => null,
                };
                var (total, recovery) = await RunJobsAsync(quickstart, url, jobs);
                var posts = (live ?? hanging)?.Deliveries.Count.ToString(CultureInfo.InvariantCulture) ?? "-";
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{kind,-10}{run,5}{total,14:0}{recovery,14:0}{posts,7}"));
            }
        }

        return 0;
    }

    private static async Task<(double Total, double Recovery)> RunJobsAsync(string code, string? webhook, int jobs)
    {
        var root = Directory.CreateTempSubdirectory("spotjax-bench-notify-").FullName;
        await using var plane = await LocalControlPlane.StartAsync(
            new LocalControlPlaneOptions
            {
                Root = root,
                ProvisionDelay = TimeSpan.FromMilliseconds(200),
                PreemptionGrace = TimeSpan.FromSeconds(3),
                SweepInterval = TimeSpan.FromMilliseconds(500),
                Lifecycle = new() { BackoffBase = TimeSpan.FromMilliseconds(200), BackoffMax = TimeSpan.FromSeconds(1), StuckAfter = TimeSpan.FromSeconds(10) },
                Notify = new(),
            },
            CancellationToken.None);
        var results = await Task.WhenAll(Enumerable.Range(0, jobs).Select(_ => RunJobAsync(plane, code, webhook)));
        return (results.Max(r => r.Total), results.Max(r => r.Recovery));
    }

    private static async Task<(double Total, double Recovery)> RunJobAsync(LocalControlPlane plane, string code, string? webhook)
    {
        var spec = new JobSpec
        {
            Name = "notify-bench",
            Tpu = new TpuSpec { Type = "v4-8", Zones = ["us-central2-b"], RuntimeVersion = "tpu-ubuntu2204-base" },
            Code = code,
            Script = "train.py",
            Args = ["--steps", "20", "--step-seconds", "0.05", "--wait-for-preemption"],
            Notify = webhook is null ? null : new NotifySpec(webhook),
        };
        var submitted = DateTimeOffset.UtcNow;
        var jobId = await plane.SubmitAsync(spec, Guid.NewGuid().ToString("N"), CancellationToken.None);
        await WaitAsync(plane, jobId, j => j is { State: JobState.Running, Attempt: 1, LastCheckpointStep: >= 5 });
        var preempted = DateTimeOffset.UtcNow;
        await plane.PreemptAsync(jobId, CancellationToken.None);
        await WaitAsync(plane, jobId, j => j.State.IsTerminal());
        var history = await plane.Store.GetHistoryAsync(jobId, CancellationToken.None);
        if (history[^1].To != JobState.Succeeded)
        {
            throw new InvalidOperationException($"job {jobId} ended {history[^1].To.ToWire()}: {history[^1].Cause}");
        }

        var running = history.Single(e => e.Attempt == 2 && e.To == JobState.Running).At;
        return ((history[^1].At - submitted).TotalMilliseconds, (running - preempted).TotalMilliseconds);
    }

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
