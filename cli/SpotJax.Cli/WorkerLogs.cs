using Spectre.Console;
using SpotJax.Core;
using SpotJax.Core.Jobs;
using SpotJax.Core.Steps;

namespace SpotJax.Cli;

/// <summary>
/// What <c>spotjax logs</c> prints of one worker: its preparation log (code, uv, venv, setup script,
/// requirements) as the first section, then the script's output, read from the control bucket line by
/// line; following, each new line as it is uploaded, through every attempt unless one is fixed. The
/// log text goes to <paramref name="output"/> unchanged; section headings go to <paramref name="headings"/>
/// (stderr), so that the output of the command is the logs alone.
/// </summary>
public sealed class WorkerLogs(Target target, Stream output, IAnsiConsole headings, TimeSpan poll)
{
    /// <summary>How often <c>--follow</c> looks for new lines.</summary>
    public static readonly TimeSpan FollowPoll = TimeSpan.FromSeconds(1);

    /// <summary>Prints the logs of <paramref name="worker"/>; the exit code says whether there were any.</summary>
    /// <param name="job">The job as last read.</param>
    /// <param name="worker">The worker (0 is the coordinator).</param>
    /// <param name="fixedAttempt">The attempt to show; null for the current one (and, following, each later one).</param>
    /// <param name="follow">Keep printing new lines until the job ends.</param>
    /// <param name="prepareOnly">Print only the preparation log.</param>
    /// <exception cref="CliException">The logs asked for do not exist (exit code 4), or live outside the control bucket.</exception>
    public async Task<int> PrintAsync(Job job, int worker, int? fixedAttempt, bool follow, bool prepareOnly, CancellationToken ct)
    {
        var shown = fixedAttempt ?? Math.Max(1, job.Attempt);
        if (fixedAttempt is null && shown > 1)
        {
            // The job was retried already: say which attempt's log this is, as on a change while following.
            Heading($"--- attempt {shown} ---");
        }

        var (prepare, script) = Streams(job, shown, worker);
        var preparing = true;
        while (true)
        {
            // Read the job before the logs: a job seen ended means everything it wrote is already there.
            var ended = !follow || job.State.IsTerminal();
            if (preparing)
            {
                // The agent prepares before it starts the script: once there is output, preparation is over.
                var first = prepareOnly && ended ? null : await script.ReadAsync(final: false, ct);
                var over = first is not null || ended;
                var wasSeen = prepare.Seen;
                var lines = await prepare.ReadAsync(final: over, ct);
                if (!wasSeen && prepare.Seen && !prepareOnly)
                {
                    Heading($"--- preparation: attempt {shown}, worker {worker} ---");
                }

                await WriteAsync(lines, ct);
                if (over)
                {
                    if (prepareOnly)
                    {
                        return prepare.Seen ? ExitCodes.Succeeded : throw new CliException(ExitCodes.NotFound, $"no preparation log for worker {worker} of attempt {shown} of job {job.Id}: the agent has not started preparing; see `spotjax status {job.Id}`");
                    }

                    preparing = false;
                    if (prepare.Seen && first is not null)
                    {
                        Heading($"--- output: attempt {shown}, worker {worker} ---");
                    }

                    await WriteAsync(first, ct);
                    continue;
                }
            }
            else
            {
                var lines = await script.ReadAsync(final: false, ct);
                if (lines is { Length: > 0 })
                {
                    await WriteAsync(lines, ct);
                    continue;
                }

                if (ended)
                {
                    await WriteAsync(await script.ReadAsync(final: true, ct), ct);
                    return Ended(job, shown, worker, prepare, script, follow);
                }
            }

            job = await target.Store.GetAsync(job.Id, ct) ?? job;
            if (fixedAttempt is null && job.Attempt > shown)
            {
                // Whatever the last upload of the attempt left without a line end comes before the next attempt's lines.
                await WriteAsync(await (preparing ? prepare : script).ReadAsync(final: true, ct), ct);
                shown = job.Attempt;
                (prepare, script) = Streams(job, shown, worker);
                preparing = true;
                Heading($"--- attempt {shown} ---");
                continue;
            }

            await Task.Delay(poll, ct);
        }
    }

    /// <summary>The object name of a worker's output log in the control bucket; null when the job logs elsewhere.</summary>
    public static string? OutputName(Job job, string bucket, int attempt, int worker) =>
        InBucket(BucketLayout.LogObject(JobPaths.LogDir(job, bucket), attempt, worker), bucket);

    /// <summary>The object name of a worker's preparation log in the control bucket; null when the job logs elsewhere.</summary>
    public static string? PrepareName(Job job, string bucket, int attempt, int worker) =>
        InBucket(BucketLayout.PrepareLogObject(JobPaths.LogDir(job, bucket), attempt, worker), bucket);

    /// <summary>The preparation log beside an output log file (<c>worker-0.log</c>: <c>worker-0.prepare.log</c>).</summary>
    public static string PreparePathBeside(string outputPath) =>
        outputPath.EndsWith(".log", StringComparison.Ordinal) ? outputPath[..^".log".Length] + ".prepare.log" : outputPath + ".prepare.log";

    private int Ended(Job job, int attempt, int worker, LogStream prepare, LogStream script, bool follow)
    {
        if (follow || script.Seen)
        {
            return ExitCodes.Succeeded;
        }

        if (!prepare.Seen)
        {
            throw new CliException(ExitCodes.NotFound, $"no log yet for worker {worker} of attempt {attempt} of job {job.Id}: the script has not started; see `spotjax status {job.Id}` and try again once it is RUNNING");
        }

        Heading($"--- no output: the script of attempt {attempt} has not started on worker {worker} ---");
        return ExitCodes.Succeeded;
    }

    private (LogStream Prepare, LogStream Script) Streams(Job job, int attempt, int worker)
    {
        var bucket = target.Objects.Bucket;
        var outside = () => new CliException(ExitCodes.Unavailable, $"job {job.Id} logs outside the control bucket ({job.Spec?.LogDir}): read them with `gcloud storage cat`");
        return (
            new LogStream(PrepareName(job, bucket, attempt, worker) ?? throw outside(), target.ReadFromAsync),
            new LogStream(OutputName(job, bucket, attempt, worker) ?? throw outside(), target.ReadFromAsync));
    }

    private async Task WriteAsync(byte[]? bytes, CancellationToken ct)
    {
        if (bytes is { Length: > 0 })
        {
            await output.WriteAsync(bytes, ct);
            await output.FlushAsync(ct);
        }
    }

    private void Heading(string text) => headings.MarkupLineInterpolated($"[grey]{text}[/]");

    private static string? InBucket(string uri, string bucket)
    {
        var root = BucketLayout.GsUri(bucket, "");
        return uri.StartsWith(root, StringComparison.Ordinal) ? uri[root.Length..] : null;
    }
}
