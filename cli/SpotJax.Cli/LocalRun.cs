using System.Diagnostics;
using System.Globalization;
using System.Text.RegularExpressions;
using Spectre.Console;
using SpotJax.Core.Cost;
using SpotJax.Core.Jobs;
using SpotJax.Core.Lifecycle;
using SpotJax.Functions.Local;

namespace SpotJax.Cli;

/// <summary>
/// Runs one job in local mode and prints its live timeline: every transition, the checkpoint
/// step, and worker 0's preparation log and output; injects the requested preemptions.
/// </summary>
public sealed partial class LocalRun(IAnsiConsole console, LocalRunSettings settings)
{
    private static readonly TimeSpan Poll = TimeSpan.FromMilliseconds(100);
    private readonly Stopwatch clock = Stopwatch.StartNew();
    private readonly Dictionary<int, (LogStream Prepare, LogStream Output)> logs = [];
    private int historyShown;
    private long? checkpointShown;

    public async Task<int> RunAsync(JobSpec spec, CancellationToken ct)
    {
        await using var plane = await LocalControlPlane.StartAsync(
            new LocalControlPlaneOptions
            {
                Root = settings.Root,
                ProvisionDelay = settings.ProvisionDelay,
                SshWorkers = settings.SshWorkers,
                Log = settings.Verbose ? message => console.MarkupLineInterpolated($"[grey]{Stamp()}  control plane: {message}[/]") : null,
            },
            ct);

        var code = await plane.UploadCodeAsync(spec.Code, settings.CodeLimits, ct);
        foreach (var line in code.Packed?.Describe() ?? [])
        {
            console.MarkupLineInterpolated($"[grey]{line}[/]");
        }

        var jobId = await plane.SubmitAsync(spec with { Code = code.Uri }, Guid.NewGuid().ToString("N"), ct);
        console.MarkupLineInterpolated($"[bold]spotjax[/] local run of [bold]{spec.Name}[/] as job [bold]{jobId}[/]");
        console.MarkupLineInterpolated($"[grey]state, bucket and worker folders: {settings.Root}[/]");
        if (settings.SshWorkers)
        {
            console.MarkupLineInterpolated($"[grey]workers: private sshd daemons on 127.0.0.1, reached over SSH (keys and logs in {Path.Combine(settings.Root, "sshd")})[/]");
        }

        using var limit = CancellationTokenSource.CreateLinkedTokenSource(ct);
        limit.CancelAfter(settings.Timeout);
        Job? job;
        try
        {
            job = await FollowAsync(plane, jobId, limit.Token);
        }
        catch (OperationCanceledException)
        {
            var interrupted = ct.IsCancellationRequested;
            console.MarkupLineInterpolated($"[yellow]{Stamp()}  {(interrupted ? "interrupted" : $"no end after {settings.Timeout}")}: cancelling the job[/]");
            await plane.CancelAsync(jobId, CancellationToken.None);
            using var grace = new CancellationTokenSource(TimeSpan.FromSeconds(15));
            await FollowAsync(plane, jobId, grace.Token, stopAt: JobState.Cancelled).ConfigureAwait(false);
            return interrupted ? ExitCodes.Interrupted : ExitCodes.TimedOut;
        }

        await ConfirmTeardownAsync(plane, job, ct);
        return job.State == JobState.Succeeded ? ExitCodes.Succeeded : ExitCodes.JobDidNotSucceed;
    }

    private async Task<Job> FollowAsync(LocalControlPlane plane, string jobId, CancellationToken ct, JobState? stopAt = null)
    {
        var preempted = new HashSet<int>();
        DateTimeOffset? runningSeen = null;
        while (true)
        {
            var job = await plane.Store.GetAsync(jobId, CancellationToken.None);
            if (job is not null)
            {
                await ShowAsync(plane, job);
                if (stopAt is { } target ? job.State == target || job.State.IsTerminal() : job.State.IsTerminal())
                {
                    await ShowLogsAsync(plane, job, final: true);
                    return job;
                }

                runningSeen = job.State == JobState.Running ? runningSeen ?? DateTimeOffset.UtcNow : null;
                var attempt = job.Attempt;
                if (runningSeen is { } since && attempt <= settings.PreemptAfter.Count && !preempted.Contains(attempt) &&
                    DateTimeOffset.UtcNow - since >= settings.PreemptAfter[attempt - 1])
                {
                    preempted.Add(attempt);
                    console.MarkupLineInterpolated($"[yellow]{Stamp()}  >> injecting a Spot preemption into attempt {attempt} ({job.QueuedResourceId})[/]");
                    await plane.PreemptAsync(jobId, CancellationToken.None);
                }
            }

            await Task.Delay(Poll, ct);
        }
    }

    private async Task ShowAsync(LocalControlPlane plane, Job job)
    {
        var history = await plane.Store.GetHistoryAsync(job.Id, CancellationToken.None);
        foreach (var entry in history.Skip(historyShown))
        {
            console.MarkupLineInterpolated($"{Stamp()}  [{TimelineFormat.Colour(entry.To)}]{entry.To.ToWire(),-13}[/] {TimelineFormat.Attempt(entry)}{LocalLogs(plane, entry.Cause)}");
        }

        historyShown = history.Count;
        await ShowLogsAsync(plane, job);
        if (job.LastCheckpointStep is { } step && step != checkpointShown)
        {
            checkpointShown = step;
            console.MarkupLineInterpolated($"[grey]{Stamp()}  checkpoint step {step} (attempt {job.Attempt}, {job.Workers} worker(s))[/]");
        }
    }

    /// <summary>
    /// Prints the complete lines worker 0 wrote since the last look, for every attempt so far: its
    /// preparation log (the file beside its output log, prefixed <c>prepare |</c>), then its output;
    /// once the job has ended (<paramref name="final"/>), also a last line without a line end.
    /// </summary>
    private async Task ShowLogsAsync(LocalControlPlane plane, Job job, bool final = false)
    {
        for (var attempt = 1; attempt <= job.Attempt; attempt++)
        {
            if (!logs.TryGetValue(attempt, out var streams))
            {
                var output = plane.LogPath(job, attempt, 0);
                streams = (new LogStream(WorkerLogs.PreparePathBeside(output), LogStream.ReadFileFromAsync), new LogStream(output, LogStream.ReadFileFromAsync));
                logs[attempt] = streams;
            }

            foreach (var (stream, label) in new[] { (streams.Prepare, "prepare | "), (streams.Output, "") })
            {
                foreach (var line in LogStream.Lines(await stream.ReadAsync(final, CancellationToken.None) ?? []))
                {
                    console.MarkupLineInterpolated($"[grey]{Stamp()}    attempt {attempt} worker 0 | {label}[/]{line}");
                }
            }
        }
    }

    /// <summary>Waits for the finish step to delete the last queued resource and checks every attempt's is gone.</summary>
    private async Task ConfirmTeardownAsync(LocalControlPlane plane, Job job, CancellationToken ct)
    {
        using var wait = CancellationTokenSource.CreateLinkedTokenSource(ct);
        wait.CancelAfter(TimeSpan.FromSeconds(15));
        var remaining = new List<string>();
        try
        {
            while (true)
            {
                remaining.Clear();
                for (var attempt = 1; attempt <= job.Attempt; attempt++)
                {
                    var id = JobLifecycle.QueuedResourceId(job.Id, attempt);
                    if (await plane.Tpu.GetQueuedResourceAsync(job.Zone!, id, wait.Token) is not null)
                    {
                        remaining.Add(id);
                    }
                }

                if (remaining.Count == 0)
                {
                    break;
                }

                await Task.Delay(Poll, wait.Token);
            }
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
            // Reported below.
        }

        var final = await plane.Store.GetAsync(job.Id, CancellationToken.None) ?? job;
        var colour = final.State == JobState.Succeeded ? "green" : "red";
        var checkpoint = final.LastCheckpointStep is { } step ? string.Create(CultureInfo.InvariantCulture, $", last checkpoint step {step}") : "";
        console.MarkupLineInterpolated(
            $"[{colour}]Job {final.Id} {final.State.ToWire()}[/] after {final.Attempt} attempt(s): {final.PreemptionsSpent} preemption(s), {final.FailuresSpent} failure(s){checkpoint}, in {clock.Elapsed.TotalSeconds:0.0}s.");
        console.MarkupLineInterpolated($"[grey]cost:[/] {CostText.Line(JobCost.Of(final, final.FinishedAt ?? final.UpdatedAt, TpuPrices.Default), final.Spec?.MaxCostUsd)}");
        if (final.LastError is { } error && final.State != JobState.Succeeded)
        {
            console.MarkupLineInterpolated($"[red]last error:[/] {LocalLogs(plane, error)}");
        }

        if (remaining.Count == 0)
        {
            console.MarkupLineInterpolated($"Queued resources of all {final.Attempt} attempt(s) deleted.");
        }
        else
        {
            console.MarkupLineInterpolated($"[red]Queued resources still present:[/] {string.Join(", ", remaining)}");
        }
    }

    /// <summary>The control plane names a worker's log by its gs:// URI; here it is a file on this machine.</summary>
    private static string LocalLogs(LocalControlPlane plane, string text) =>
        GsLogUri().Replace(text, m => plane.Objects.TryResolve(m.Value, out var path) ? path : m.Value);

    [GeneratedRegex(@"gs://[^\s()]+\.log")]
    private static partial Regex GsLogUri();

    private string Stamp() => string.Create(CultureInfo.InvariantCulture, $"+{clock.Elapsed.TotalSeconds,6:0.0}s");
}
