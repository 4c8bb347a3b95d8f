using System.CommandLine;
using System.Diagnostics;
using System.Text.Json;
using Spectre.Console;
using SpotJax.Core;
using SpotJax.Core.Jobs;
using SpotJax.Core.Ports;
using SpotJax.Ssh;

namespace SpotJax.Cli;

/// <summary>
/// <c>spotjax run</c>: submits a job to the deployment the other commands reach (same options as
/// <c>submit</c>) and follows its states and worker 0's log until it ends; Ctrl+C detaches and leaves
/// the job running. <c>spotjax run --local JOB_FILE</c> instead runs the whole lifecycle in a
/// throw-away local plane, and Ctrl+C there cancels the job.
/// </summary>
public static class RunCommand
{
    public static Command Build()
    {
        var jobs = new JobOptions("The training script (its folder is the code that is packed and uploaded); with --local, the job file (YAML or JSON).");
        var local = new Option<bool>("--local") { Description = "Run every function, the TPU simulator and the workers on this machine, in a throw-away local plane." };
        var preemptAfter = new Option<string[]>("--preempt-after")
        {
            Description = "With --local: inject a Spot preemption once an attempt has been running this long (500ms, 3s, 1m). Repeat it: the n-th value applies to attempt n.",
            AllowMultipleArgumentsPerToken = false,
        };
        var stateDir = new Option<DirectoryInfo?>("--state-dir")
        {
            Description = "With --local: where the plane keeps its database, bucket and worker folders (default: a new temporary folder). Otherwise: the state folder of the `spotjax local up` plane, when that is the deployment.",
        };
        var provisionDelay = new Option<string>("--provision-delay") { Description = "With --local: how long the simulated TPU takes to become ACTIVE.", DefaultValueFactory = _ => "1s" };
        var timeout = new Option<string?>("--timeout") { Description = "Give up and cancel the job after this long (default: 10m with --local, none otherwise)." };
        var sshWorkers = new Option<bool>("--ssh-workers")
        {
            Description = "With --local: reach the workers over SSH, as on Google Cloud: each worker is a private sshd on 127.0.0.1 (needs /usr/sbin/sshd: apt-get install -y openssh-server).",
        };
        var targets = new TargetOptions();

        var command = new Command("run", """
            Submit a job and follow its states and worker 0's log until it ends (the options of `submit`).
            Exits 0 when the job SUCCEEDED, 1 when it ended FAILED, CANCELLED or REJECTED, 3 when
            --timeout passed (the job is cancelled). Ctrl+C detaches with exit 130: the job keeps running,
            `spotjax logs JOB --follow` or `spotjax status JOB` reattaches, `spotjax cancel JOB` cancels it.

            With --local JOB_FILE: the whole lifecycle in a throw-away local plane (no deployment needed);
            Ctrl+C there cancels the job.

            Examples:
              spotjax run examples/quickstart/train.py --tpu v4-8 --zone us-central2-b -- --steps 40
              spotjax run --file examples/jax-mnist/job.yaml --timeout 2h
              spotjax run --local examples/quickstart/job.yaml --preempt-after 2s
            """);
        jobs.AddTo(command);
        foreach (var option in new Option[] { local, preemptAfter, stateDir, provisionDelay, timeout, sshWorkers })
        {
            command.Options.Add(option);
        }

        targets.AddGoogleTo(command);
        command.SetAction(async (parse, ct) =>
        {
            if (!parse.GetValue(local))
            {
                return await Consoles.RunAsync(console => RunOnDeploymentAsync(console, parse, ct), ct);
            }

            var console = AnsiConsole.Console;
            if (Console.IsOutputRedirected)
            {
                // Piped into a file or another program: never wrap a log line.
                console.Profile.Width = 10_000;
            }

            var deploymentOnly = jobs.ScriptOptionsGiven(parse)
                .Concat(new Option[] { targets.Project, targets.Bucket }.Where(o => parse.GetResult(o) is { Implicit: false }).Select(o => o.Name))
                .ToList();
            if (deploymentOnly.Count > 0)
            {
                console.MarkupLineInterpolated($"[red]error:[/] {string.Join(", ", deploymentOnly)}: not with --local, which runs a job file (spotjax run --local job.yaml); without --local the job goes to a deployment");
                return ExitCodes.Usage;
            }

            if (!TryDurations(console, parse.GetValue(preemptAfter) ?? [], out var preemptions) ||
                !TryDurations(console, [parse.GetValue(provisionDelay)!], out var delay) ||
                !TryDurations(console, [parse.GetValue(timeout) ?? "10m"], out var limit))
            {
                return ExitCodes.Usage;
            }

            var manifest = parse.GetValue(jobs.File);
            var positional = parse.GetValue(jobs.Script);
            if (manifest is not null && positional is not null)
            {
                console.MarkupLine("[red]error:[/] give the job file once: spotjax run --local job.yaml");
                return ExitCodes.Usage;
            }

            if ((manifest ?? positional) is not { } file)
            {
                console.MarkupLine("[red]error:[/] give the job file to run: spotjax run --local job.yaml");
                return ExitCodes.Usage;
            }

            if (!file.Exists)
            {
                console.MarkupLineInterpolated($"[red]error:[/] job file {file.FullName} does not exist; check the path (relative paths start from {Environment.CurrentDirectory})");
                return ExitCodes.Usage;
            }

            JobSpec spec;
            try
            {
                spec = JobDocument.Parse(await File.ReadAllBytesAsync(file.FullName, ct), new JobDocumentOptions { AllowLocalCode = true, BaseDirectory = file.DirectoryName });
            }
            catch (JobDocumentException e)
            {
                console.MarkupLineInterpolated($"[red]error:[/] {file.Name} is not a valid job:");
                foreach (var error in e.Errors)
                {
                    console.MarkupLineInterpolated($"  [bold]{error.Field}[/]: {error.Message}");
                }

                return ExitCodes.Usage;
            }

            if (parse.GetValue(sshWorkers) && SshDaemon.Unavailable() is { } missing)
            {
                console.MarkupLineInterpolated($"[red]error:[/] --ssh-workers needs sshd: {missing}");
                return ExitCodes.Usage;
            }

            var root = parse.GetValue(stateDir)?.FullName ?? Directory.CreateTempSubdirectory("spotjax-local-").FullName;
            var run = new LocalRun(console, new LocalRunSettings(root, preemptions, delay[0], limit[0], parse.GetValue(SpotJaxCommand.Verbose), jobs.CodeLimits(parse), parse.GetValue(sshWorkers)));
            return await run.RunAsync(spec, ct);
        });
        return command;

        async Task<int> RunOnDeploymentAsync(IAnsiConsole console, ParseResult parse, CancellationToken ct)
        {
            var localOnly = new Option[] { preemptAfter, provisionDelay, sshWorkers }.Where(o => parse.GetResult(o) is { Implicit: false }).Select(o => o.Name).ToList();
            if (localOnly.Count > 0)
            {
                throw new CliException(ExitCodes.Usage, $"{string.Join(", ", localOnly)}: only with --local (a throw-away local plane); on a deployment, `spotjax local preempt JOB` preempts a job of the `spotjax local up` plane");
            }

            var limitText = parse.GetValue(timeout);
            TimeSpan? limit = null;
            if (limitText is not null)
            {
                limit = Durations.TryParse(limitText, out var parsed) ? parsed : throw new CliException(ExitCodes.Usage, $"--timeout {limitText} is not a duration (examples: 30m, 2h)");
            }

            var spec = await jobs.ReadAsync(parse, ct);
            var choice = targets.Resolve(parse, parse.GetValue(stateDir), "pass --local to run it in a throw-away local plane (or start one with `spotjax local up --detach`)");
            await using var target = await choice.OpenAsync(ct);
            var jobId = await SubmitCommand.SubmitAsync(console, target, spec, jobs.CodeLimits(parse), json: false, ct);
            return await FollowAsync(console, target, jobId, limit, limitText, ct);
        }
    }

    /// <summary>Follows the submitted job to its end; on Ctrl+C it detaches, after <paramref name="limit"/> it cancels the job.</summary>
    private static async Task<int> FollowAsync(IAnsiConsole console, Target target, string jobId, TimeSpan? limit, string? limitText, CancellationToken ct)
    {
        var flag = target.IsLocal ? " --local" : "";
        var poll = target.IsLocal ? TimeSpan.FromMilliseconds(250) : TimeSpan.FromSeconds(2);
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(ct);
        if (limit is { } after)
        {
            deadline.CancelAfter(after);
        }

        try
        {
            return await new JobFollower(console, target, poll).FollowAsync(jobId, deadline.Token);
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            // Ctrl+C only stops watching: the job is the control plane's, and it keeps running.
            console.MarkupLineInterpolated($"[yellow]Detached from job {jobId}; it keeps running in {target.Description}.[/]");
            console.MarkupLineInterpolated($"  follow it again: spotjax logs {jobId}{flag} --follow  ·  spotjax status {jobId}{flag}");
            console.MarkupLineInterpolated($"  cancel it:       spotjax cancel {jobId}{flag}");
            return ExitCodes.Interrupted;
        }
        catch (OperationCanceledException) when (deadline.IsCancellationRequested)
        {
            // The submit function drops a cancel of a job it has not created yet, and the job and
            // its cancel may reach it in either order: cancel only a job that exists.
            var created = Stopwatch.StartNew();
            while (await target.Store.GetAsync(jobId, ct) is null)
            {
                if (created.Elapsed > JobFollower.CreationPatience)
                {
                    throw JobFollower.NotCreated(jobId);
                }

                await Task.Delay(poll, ct);
            }

            await target.Publisher.PublishAsync(target.Topics.Jobs, OutgoingMessage.FromText(JsonSerializer.Serialize(new { cancel = jobId })), CancellationToken.None);
            console.MarkupLineInterpolated($"[yellow]Job {jobId} did not end within --timeout {limitText}: cancel sent.[/] It is CANCELLED once its TPU is deleted: spotjax status {jobId}{flag}");
            return ExitCodes.TimedOut;
        }
    }

    private static bool TryDurations(IAnsiConsole console, IReadOnlyList<string> values, out TimeSpan[] durations)
    {
        durations = new TimeSpan[values.Count];
        for (var i = 0; i < values.Count; i++)
        {
            if (!Durations.TryParse(values[i], out durations[i]))
            {
                console.MarkupLineInterpolated($"[red]error:[/] '{values[i]}' is not a duration (examples: 500ms, 3s, 1.5m, 2h)");
                return false;
            }
        }

        return true;
    }
}
