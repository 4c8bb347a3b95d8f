using System.CommandLine;
using System.Text.Json;
using Spectre.Console;
using SpotJax.Core;
using SpotJax.Core.Jobs;
using SpotJax.Core.Ports;

namespace SpotJax.Cli;

/// <summary>
/// <c>spotjax cancel JOB</c>: publishes <c>{"cancel": JOB}</c> to <c>spotjax-jobs</c> and waits for
/// CANCELLED, which the control plane records only once the attempt's queued resource is deleted.
/// </summary>
public static class CancelCommand
{
    public static Command Build()
    {
        var job = new Argument<string>("job") { Description = "The job id." };
        var noWait = new Option<bool>("--no-wait") { Description = "Return once the cancel is sent, without waiting for CANCELLED." };
        var timeout = new Option<string>("--timeout") { Description = "How long to wait for CANCELLED.", DefaultValueFactory = _ => "5m" };
        var targets = new TargetOptions();
        var command = new Command("cancel", """
            Cancel a job: its workers are stopped and its TPU deleted. Waits until the job is CANCELLED.
            Exits 0 once cancelled (or already ended), 4 when there is no such job, 3 when CANCELLED
            did not come within --timeout.

            Examples:
              spotjax cancel quickstart-3f9a0c12be --local
              spotjax cancel quickstart-3f9a0c12be --no-wait
            """)
        {
            job, noWait, timeout,
        };
        targets.AddTo(command);
        command.SetAction((parse, ct) => Consoles.RunAsync(
            async console =>
            {
                var id = parse.GetValue(job)!;
                if (!Durations.TryParse(parse.GetValue(timeout)!, out var limit))
                {
                    throw new CliException(ExitCodes.Usage, $"--timeout {parse.GetValue(timeout)} is not a duration (examples: 30s, 5m)");
                }

                await using var target = await targets.Resolve(parse).OpenAsync(ct);
                var current = await target.Store.GetAsync(id, ct) ?? throw new CliException(ExitCodes.NotFound, $"no job {id} in {target.Description}; `spotjax status` lists the recent jobs (add --local for local mode)");
                if (current.State.IsTerminal())
                {
                    console.MarkupLineInterpolated($"Job {id} already ended: {current.State.ToWire()}.");
                    return ExitCodes.Succeeded;
                }

                await target.Publisher.PublishAsync(target.Topics.Jobs, OutgoingMessage.FromText(JsonSerializer.Serialize(new { cancel = id })), ct);
                if (parse.GetValue(noWait))
                {
                    console.MarkupLineInterpolated($"Cancel of job {id} sent.");
                    return ExitCodes.Succeeded;
                }

                using var deadline = CancellationTokenSource.CreateLinkedTokenSource(ct);
                deadline.CancelAfter(limit);
                try
                {
                    while (!current.State.IsTerminal())
                    {
                        await Task.Delay(target.IsLocal ? TimeSpan.FromMilliseconds(200) : TimeSpan.FromSeconds(2), deadline.Token);
                        current = await target.Store.GetAsync(id, deadline.Token) ?? current;
                    }
                }
                catch (OperationCanceledException) when (!ct.IsCancellationRequested)
                {
                    throw new CliException(ExitCodes.TimedOut, $"job {id} is still {current.State.ToWire()} after {limit}; see `spotjax status {id}`");
                }

                if (current.State == JobState.Cancelled)
                {
                    console.MarkupLineInterpolated($"Job {id} CANCELLED after {current.Attempt} attempt(s); its queued resource {current.QueuedResourceId ?? "(none)"} is deleted.");
                }
                else
                {
                    console.MarkupLineInterpolated($"Job {id} ended {current.State.ToWire()} before the cancel took effect.");
                }

                return ExitCodes.Succeeded;
            },
            ct));
        return command;
    }
}
