using System.CommandLine;
using Spectre.Console;

namespace SpotJax.Cli;

/// <summary>
/// <c>spotjax setup [--fix]</c>: checks what the command line and a deployment need (gcloud,
/// Application Default Credentials, the project, the enabled APIs, the topics, the Firestore
/// database and the bucket; or, with <c>--local</c>, Python and the state folder) and prints one
/// line per missing prerequisite that says what to run.
/// </summary>
public static class SetupCommand
{
    public static Command Build()
    {
        var fix = new Option<bool>("--fix")
        {
            Description = "Remember the deployment in ~/.spotjax/config.json (so other commands need no options) and enable missing APIs with gcloud.",
        };
        var targets = new TargetOptions();
        var command = new Command("setup", """
            Check the prerequisites and say exactly what to run for each one missing.
            Exits 0 when everything is in place, 6 when something is missing.

            Examples:
              spotjax setup --project my-project --bucket my-project-spotjax
              spotjax setup --fix --project my-project --bucket my-project-spotjax
              spotjax setup --local --fix
            """)
        {
            fix,
        };
        targets.AddTo(command);
        command.SetAction((parse, ct) => Consoles.RunAsync(
            async console =>
            {
                var config = CliConfig.Load();
                var local = parse.GetValue(targets.Local) || Environment.GetEnvironmentVariable(TargetOptions.TargetVariable) == CliConfig.Local ||
                    (config.Target == CliConfig.Local && parse.GetValue(targets.Project) is null && parse.GetValue(targets.Bucket) is null);
                var fixing = parse.GetValue(fix);
                List<SetupCheck> checks;
                if (local)
                {
                    var stateDir = parse.GetValue(targets.StateDir)?.FullName ?? (config.StateDir is { } saved ? Path.GetFullPath(saved) : CliPaths.DefaultLocalStateDir);
                    console.MarkupLineInterpolated($"Checking local mode (state folder {stateDir}):");
                    checks = await SetupChecks.LocalAsync(stateDir, ct);
                    if (fixing && Passed(checks))
                    {
                        new CliConfig(CliConfig.Local, StateDir: parse.GetValue(targets.StateDir)?.FullName).Save();
                        checks.Add(SetupCheck.Ok("config", $"{CliPaths.ConfigFile}: commands use local mode by default"));
                    }
                }
                else
                {
                    var project = parse.GetValue(targets.Project) ?? Variable(TargetOptions.ProjectVariable) ?? config.Project ?? GcloudConfig.Project();
                    var bucket = parse.GetValue(targets.Bucket) ?? Variable(TargetOptions.BucketVariable) ?? config.Bucket;
                    bucket = bucket?.StartsWith("gs://", StringComparison.Ordinal) == true ? bucket[5..].TrimEnd('/') : bucket;
                    console.MarkupLineInterpolated($"Checking Google Cloud{(project is null ? "" : $" (project {project})")}:");
                    checks = await SetupChecks.GoogleAsync(project, bucket, ct);
                    var disabled = checks.Where(c => !c.Passed && c.Required && c.Name.StartsWith("API ", StringComparison.Ordinal)).Select(c => c.Name[4..]).ToList();
                    if (fixing && project is not null && disabled.Count > 0 && GcloudConfig.Executable() is not null)
                    {
                        console.MarkupLineInterpolated($"Enabling {string.Join(", ", disabled)} with gcloud ...");
                        if (await SetupChecks.EnableApisAsync(project, disabled, ct) is { } failure)
                        {
                            console.MarkupLineInterpolated($"[red]gcloud services enable failed:[/] {failure.Trim()}");
                        }

                        checks = await SetupChecks.GoogleAsync(project, bucket, ct);
                    }

                    if (fixing && project is not null && bucket is not null)
                    {
                        new CliConfig(CliConfig.Google, project, bucket).Save();
                        checks.Add(SetupCheck.Ok("config", $"{CliPaths.ConfigFile}: commands use project {project} and gs://{bucket} by default"));
                    }
                }

                foreach (var check in checks)
                {
                    if (check.Passed)
                    {
                        console.MarkupLineInterpolated($"[green]ok[/]    {check.Name}: {check.Line}");
                    }
                    else if (check.Required)
                    {
                        console.MarkupLineInterpolated($"[red]FAIL[/]  {check.Line}");
                    }
                    else
                    {
                        console.MarkupLineInterpolated($"[grey]note[/]  {check.Name}: {check.Line}");
                    }
                }

                var missing = checks.Count(c => c.Required && !c.Passed);
                if (missing == 0)
                {
                    console.MarkupLine("[green]Everything SpotJax needs is in place.[/]");
                    return ExitCodes.Succeeded;
                }

                console.MarkupLineInterpolated($"[red]{missing} prerequisite(s) missing:[/] run what the FAIL lines say, then `spotjax setup` again.");
                return ExitCodes.PrerequisitesMissing;
            },
            ct));
        return command;
    }

    private static bool Passed(IEnumerable<SetupCheck> checks) => checks.All(c => c.Passed || !c.Required);

    private static string? Variable(string name) => Environment.GetEnvironmentVariable(name) is { Length: > 0 } value ? value : null;
}
