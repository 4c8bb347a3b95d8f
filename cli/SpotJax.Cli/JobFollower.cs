using System.Diagnostics;
using System.Globalization;
using Spectre.Console;
using SpotJax.Core;
using SpotJax.Core.Cost;
using SpotJax.Core.Jobs;
using SpotJax.Core.Steps;

namespace SpotJax.Cli;

/// <summary>
/// Follows a submitted job through any deployment until it ends: every transition, the checkpoint
/// step, and worker 0's preparation log and output, read from the job store and the bucket as they change.
/// </summary>
public sealed class JobFollower(IAnsiConsole console, Target target, TimeSpan poll)
{
    /// <summary>How long a submitted job may take to appear in the store before following gives up.</summary>
    public static readonly TimeSpan CreationPatience = TimeSpan.FromMinutes(2);

    private readonly Stopwatch clock = Stopwatch.StartNew();
    private readonly Dictionary<int, (LogStream Prepare, LogStream Output)> logs = [];
    private int historyShown;
    private long? checkpointShown;

    /// <summary>A submitted job that did not appear in the store within <see cref="CreationPatience"/>.</summary>
    public static CliException NotCreated(string jobId) =>
        new(ExitCodes.Unavailable, $"job {jobId} was not created within {CreationPatience.TotalMinutes:0} min: is the submit function deployed and subscribed to spotjax-jobs?");

    /// <summary>Follows until the job ends; the exit code says whether it succeeded.</summary>
    public async Task<int> FollowAsync(string jobId, CancellationToken ct)
    {
        var appeared = Stopwatch.StartNew();
        while (true)
        {
            var job = await target.Store.GetAsync(jobId, ct);
            if (job is null)
            {
                if (appeared.Elapsed > CreationPatience)
                {
                    throw NotCreated(jobId);
                }
            }
            else
            {
                await ShowAsync(job, ct);
                if (job.State.IsTerminal())
                {
                    await ShowLogsAsync(job, ct, final: true);
                    var colour = job.State == JobState.Succeeded ? "green" : "red";
                    var step = job.LastCheckpointStep is { } s ? string.Create(CultureInfo.InvariantCulture, $", last checkpoint step {s}") : "";
                    console.MarkupLineInterpolated($"[{colour}]Job {job.Id} {job.State.ToWire()}[/] after {job.Attempt} attempt(s): {job.PreemptionsSpent} preemption(s), {job.FailuresSpent} failure(s){step}.");
                    console.MarkupLineInterpolated($"[grey]cost:[/] {CostText.Line(JobCost.Of(job, job.FinishedAt ?? job.UpdatedAt, TpuPrices.Default), job.Spec?.MaxCostUsd)}");
                    if (job.LastError is { } error && job.State != JobState.Succeeded)
                    {
                        console.MarkupLineInterpolated($"[red]last error:[/] {error}");
                    }

                    return job.State == JobState.Succeeded ? ExitCodes.Succeeded : ExitCodes.JobDidNotSucceed;
                }
            }

            await Task.Delay(poll, ct);
        }
    }

    private async Task ShowAsync(Job job, CancellationToken ct)
    {
        var history = await target.Store.GetHistoryAsync(job.Id, ct);
        foreach (var entry in history.Skip(historyShown))
        {
            console.MarkupLineInterpolated($"{Stamp()}  [{TimelineFormat.Colour(entry.To)}]{entry.To.ToWire(),-13}[/] {TimelineFormat.Attempt(entry)}{entry.Cause}");
        }

        historyShown = history.Count;
        await ShowLogsAsync(job, ct);
        if (job.LastCheckpointStep is { } step && step != checkpointShown)
        {
            checkpointShown = step;
            console.MarkupLineInterpolated($"[grey]{Stamp()}  checkpoint step {step} (attempt {job.Attempt}, {job.Workers} worker(s))[/]");
        }
    }

    /// <summary>
    /// Prints the complete lines worker 0 wrote since the last look, for every attempt so far: its
    /// preparation log (prefixed <c>prepare |</c>), then its output; once the job has ended
    /// (<paramref name="final"/>), also a last line without a line end.
    /// </summary>
    private async Task ShowLogsAsync(Job job, CancellationToken ct, bool final = false)
    {
        for (var attempt = 1; attempt <= job.Attempt; attempt++)
        {
            if (!logs.TryGetValue(attempt, out var streams))
            {
                if (WorkerLogs.PrepareName(job, target.Objects.Bucket, attempt, 0) is not { } prepare ||
                    WorkerLogs.OutputName(job, target.Objects.Bucket, attempt, 0) is not { } output)
                {
                    return;
                }

                streams = (new LogStream(prepare, target.ReadFromAsync), new LogStream(output, target.ReadFromAsync));
                logs[attempt] = streams;
            }

            foreach (var (stream, label) in new[] { (streams.Prepare, "prepare | "), (streams.Output, "") })
            {
                foreach (var line in LogStream.Lines(await stream.ReadAsync(final, ct) ?? []))
                {
                    console.MarkupLineInterpolated($"[grey]{Stamp()}    attempt {attempt} worker 0 | {label}[/]{line}");
                }
            }
        }
    }

    private string Stamp() => string.Create(CultureInfo.InvariantCulture, $"+{clock.Elapsed.TotalSeconds,6:0.0}s");
}
