using System.CommandLine;
using Spectre.Console;
using SpotJax.Core.Jobs;
using SpotJax.Ssh;

namespace SpotJax.Cli;

/// <summary><c>spotjax run --local JOB_FILE</c>: the whole lifecycle on this machine.</summary>
public static class RunCommand
{
    public static Command Build()
    {
        var job = new Argument<FileInfo>("job") { Description = "The job file (YAML or JSON)." };
        var local = new Option<bool>("--local") { Description = "Run every function, the TPU simulator and the workers on this machine." };
        var preemptAfter = new Option<string[]>("--preempt-after")
        {
            Description = "Inject a Spot preemption once an attempt has been running this long (500ms, 3s, 1m). Repeat it: the n-th value applies to attempt n.",
            AllowMultipleArgumentsPerToken = false,
        };
        var stateDir = new Option<DirectoryInfo?>("--state-dir") { Description = "Where local mode keeps its database, bucket and worker folders (default: a new temporary folder)." };
        var provisionDelay = new Option<string>("--provision-delay") { Description = "How long the simulated TPU takes to become ACTIVE.", DefaultValueFactory = _ => "1s" };
        var timeout = new Option<string>("--timeout") { Description = "Give up (and cancel the job) after this long.", DefaultValueFactory = _ => "10m" };
        var sshWorkers = new Option<bool>("--ssh-workers")
        {
            Description = "Reach the workers over SSH, as on Google Cloud: each worker is a private sshd on 127.0.0.1 (needs /usr/sbin/sshd: apt-get install -y openssh-server).",
        };

        var command = new Command("run", "Run a job and follow it until it ends. Exits 0 only when the job SUCCEEDED.\n\nExample:\n  spotjax run --local examples/quickstart/job.yaml --preempt-after 2s")
        {
            job, local, preemptAfter, stateDir, provisionDelay, timeout, sshWorkers,
        };
        command.SetAction(async (parse, ct) =>
        {
            var console = AnsiConsole.Console;
            if (Console.IsOutputRedirected)
            {
                // Piped into a file or another program: never wrap a log line.
                console.Profile.Width = 10_000;
            }

            if (!parse.GetValue(local))
            {
                console.MarkupLine("[red]error:[/] only [bold]--local[/] runs are available from the command line so far; on Google Cloud submit with `gcloud pubsub topics publish spotjax-jobs --message=\"$(cat job.json)\"`.");
                return ExitCodes.Usage;
            }

            if (!TryDurations(console, parse.GetValue(preemptAfter) ?? [], out var preemptions) ||
                !TryDurations(console, [parse.GetValue(provisionDelay)!], out var delay) ||
                !TryDurations(console, [parse.GetValue(timeout)!], out var limit))
            {
                return ExitCodes.Usage;
            }

            var file = parse.GetValue(job)!;
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
            var run = new LocalRun(console, new LocalRunSettings(root, preemptions, delay[0], limit[0], parse.GetValue(SpotJaxCommand.Verbose), parse.GetValue(sshWorkers)));
            return await run.RunAsync(spec, ct);
        });
        return command;
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
