using System.CommandLine;

namespace SpotJax.Cli;

/// <summary>
/// <c>spotjax logs JOB [--worker N] [--attempt N] [--follow] [--prepare]</c>: a worker's preparation log
/// and output, as the node agent uploads them to the bucket (see <see cref="WorkerLogs"/>). Following
/// without <c>--attempt</c> moves on to each new attempt.
/// </summary>
public static class LogsCommand
{
    public static Command Build()
    {
        var job = new Argument<string>("job") { Description = "The job id." };
        var worker = new Option<int>("--worker", "-w") { Description = "The worker (0 is the coordinator).", DefaultValueFactory = _ => 0 };
        var attempt = new Option<int?>("--attempt", "-a") { Description = "The attempt (default: the current one)." };
        var follow = new Option<bool>("--follow", "-F") { Description = "Keep printing new lines (looked for every second) until the job ends." };
        var prepare = new Option<bool>("--prepare") { Description = "Print only the preparation log (code, uv, venv, setup script, requirements)." };
        var targets = new TargetOptions();
        var command = new Command("logs", """
            Print a worker's log: its preparation log first, then the script's output (the section
            headings go to stderr). Exits 4 when the job, or (without --follow) the log, does not exist.

            Examples:
              spotjax logs quickstart-3f9a0c12be --local
              spotjax logs quickstart-3f9a0c12be --worker 3 --attempt 2
              spotjax logs quickstart-3f9a0c12be --prepare
              spotjax logs quickstart-3f9a0c12be --follow
            """)
        {
            job, worker, attempt, follow, prepare,
        };
        targets.AddTo(command);
        command.SetAction((parse, ct) => Consoles.RunAsync(
            async console =>
            {
                var id = parse.GetValue(job)!;
                await using var target = await targets.Resolve(parse).OpenAsync(ct);
                var current = await target.Store.GetAsync(id, ct) ?? throw new CliException(ExitCodes.NotFound, $"no job {id} in {target.Description}; `spotjax status` lists the recent jobs (add --local for local mode)");
                var logs = new WorkerLogs(target, Console.OpenStandardOutput(), Consoles.Error, WorkerLogs.FollowPoll);
                return await logs.PrintAsync(current, parse.GetValue(worker), parse.GetValue(attempt), parse.GetValue(follow), parse.GetValue(prepare), ct);
            },
            ct));
        return command;
    }
}
