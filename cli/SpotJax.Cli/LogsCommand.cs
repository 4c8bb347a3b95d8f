using System.CommandLine;
using Spectre.Console;
using SpotJax.Core.Jobs;

namespace SpotJax.Cli;

/// <summary>
/// <c>spotjax logs JOB [--worker N] [--attempt N] [--follow]</c>: a worker's output, as the node
/// agent streams it to the bucket. Following without <c>--attempt</c> moves on to each new attempt.
/// </summary>
public static class LogsCommand
{
    public static Command Build()
    {
        var job = new Argument<string>("job") { Description = "The job id." };
        var worker = new Option<int>("--worker", "-w") { Description = "The worker (0 is the coordinator).", DefaultValueFactory = _ => 0 };
        var attempt = new Option<int?>("--attempt", "-a") { Description = "The attempt (default: the current one)." };
        var follow = new Option<bool>("--follow", "-F") { Description = "Keep printing new output until the job ends." };
        var targets = new TargetOptions();
        var command = new Command("logs", """
            Print a worker's log. Exits 4 when the job, or (without --follow) the log, does not exist.

            Examples:
              spotjax logs quickstart-3f9a0c12be --local
              spotjax logs quickstart-3f9a0c12be --worker 3 --attempt 2
              spotjax logs quickstart-3f9a0c12be --follow
            """)
        {
            job, worker, attempt, follow,
        };
        targets.AddTo(command);
        command.SetAction((parse, ct) => Consoles.RunAsync(
            async console =>
            {
                var id = parse.GetValue(job)!;
                await using var target = await targets.Resolve(parse).OpenAsync(ct);
                var current = await target.Store.GetAsync(id, ct) ?? throw new CliException(ExitCodes.NotFound, $"no job {id} in {target.Description}; `spotjax status` lists the recent jobs (add --local for local mode)");
                var workerIndex = parse.GetValue(worker);
                var fixedAttempt = parse.GetValue(attempt);
                var following = parse.GetValue(follow);
                var output = Console.OpenStandardOutput();
                var poll = target.IsLocal ? TimeSpan.FromMilliseconds(250) : TimeSpan.FromSeconds(2);
                var shown = fixedAttempt ?? Math.Max(1, current.Attempt);
                long offset = 0;
                var printed = false;
                if (fixedAttempt is null && shown > 1)
                {
                    // The job was retried already: say which attempt's log this is, as on a change while following.
                    Consoles.Error.MarkupLineInterpolated($"[grey]--- attempt {shown} ---[/]");
                }

                while (true)
                {
                    var name = JobFollower.LogName(current, target.Objects.Bucket, shown, workerIndex)
                        ?? throw new CliException(ExitCodes.Unavailable, $"job {id} logs outside the control bucket ({current.Spec?.LogDir}): read them with `gcloud storage cat`");
                    var bytes = await target.ReadFromAsync(name, offset, ct);
                    if (bytes is { Length: > 0 })
                    {
                        await output.WriteAsync(bytes, ct);
                        await output.FlushAsync(ct);
                        offset += bytes.Length;
                        printed = true;
                        continue;
                    }

                    if (!following)
                    {
                        if (bytes is null && !printed)
                        {
                            throw new CliException(ExitCodes.NotFound, $"no log yet for worker {workerIndex} of attempt {shown} of job {id}: the script has not started; see `spotjax status {id}` and try again once it is RUNNING");
                        }

                        return ExitCodes.Succeeded;
                    }

                    // Read the job after the log: a job seen ended means everything it wrote is already there.
                    var ended = current.State.IsTerminal();
                    current = await target.Store.GetAsync(id, ct) ?? current;
                    if (fixedAttempt is null && current.Attempt > shown)
                    {
                        shown = current.Attempt;
                        offset = 0;
                        Consoles.Error.MarkupLineInterpolated($"[grey]--- attempt {shown} ---[/]");
                        continue;
                    }

                    if (ended)
                    {
                        return ExitCodes.Succeeded;
                    }

                    await Task.Delay(poll, ct);
                }
            },
            ct));
        return command;
    }
}
