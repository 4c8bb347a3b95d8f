using System.CommandLine;
using System.Text;
using System.Text.Json;
using Spectre.Console;
using SpotJax.Core;
using SpotJax.Core.Cost;
using SpotJax.Core.Jobs;
using SpotJax.Core.Ports;
using SpotJax.Core.Steps;
using SpotJax.Functions.Local;

namespace SpotJax.Cli;

/// <summary>
/// <c>spotjax submit SCRIPT --tpu TYPE --zone ZONE [-- ARGS]</c> or <c>spotjax submit --file job.yaml</c>:
/// packs the code folder, uploads it to <c>code/&lt;sha256&gt;.tar.gz</c> in the control bucket,
/// publishes the job to <c>spotjax-jobs</c> with a <c>submissionId</c> attribute (so the job id is
/// known before the job exists) and prints the id; <c>--follow</c> stays and shows the timeline.
/// </summary>
public static class SubmitCommand
{
    public static Command Build()
    {
        var jobs = new JobOptions("The training script; its folder is the code that is packed and uploaded.");
        var follow = new Option<bool>("--follow") { Description = "Stay and show the live timeline until the job ends; exit 0 only if it SUCCEEDED." };
        var json = new Option<bool>("--json") { Description = "Print {\"jobId\": ...} as JSON, for scripts." };
        var targets = new TargetOptions();

        var command = new Command("submit", """
            Pack a code folder, upload it and submit a job. Prints the job id and how to follow it.

            Examples:
              spotjax submit examples/quickstart/train.py --local --tpu v4-8 --zone us-central2-b -- --steps 40
              spotjax submit train.py --tpu v5litepod-8 --zones us-west4-a,us-east5-b --env WANDB_MODE=offline --follow
              spotjax submit --file examples/jax-mnist/job.yaml
            """);
        jobs.AddTo(command);
        command.Options.Add(follow);
        command.Options.Add(json);
        targets.AddTo(command);
        command.SetAction((parse, ct) => Consoles.RunAsync(
            async console =>
            {
                var spec = await jobs.ReadAsync(parse, ct);
                var choice = targets.Resolve(parse);
                await using var target = await choice.OpenAsync(ct);
                var jobId = await SubmitAsync(console, target, spec, jobs.CodeLimits(parse), parse.GetValue(json), ct);
                return parse.GetValue(follow)
                    ? await new JobFollower(console, target, choice.IsLocal ? TimeSpan.FromMilliseconds(250) : TimeSpan.FromSeconds(2)).FollowAsync(jobId, ct)
                    : ExitCodes.Succeeded;
            },
            ct));
        return command;
    }

    /// <summary>
    /// Uploads the job's code folder, publishes the job to <c>spotjax-jobs</c> with a fresh
    /// <c>submissionId</c>, prints the job id (as JSON with <paramref name="json"/>) and returns it.
    /// </summary>
    public static async Task<string> SubmitAsync(IAnsiConsole console, Target target, JobSpec spec, CodeBundleOptions limits, bool json, CancellationToken ct)
    {
        // Before the upload: a local plane that is not running is reported without packing anything.
        var publisher = target.Publisher;
        var packed = await CodeBundle.UploadAsync(target.Objects, spec.Code, limits, ct);
        var uploaded = packed.Uri;
        foreach (var line in packed.Packed?.Describe() ?? [])
        {
            // On stderr: --json keeps stdout for the one JSON object.
            Consoles.Error.MarkupLineInterpolated($"[grey]{line}[/]");
        }

        if (BudgetCheck.Warning(spec, TpuPrices.Default) is { } budget)
        {
            Consoles.Error.MarkupLineInterpolated($"[yellow]warning:[/] {budget}");
        }

        var submissionId = Guid.NewGuid().ToString("N");
        var document = Encoding.UTF8.GetBytes(JobDocument.ToJson(spec with { Code = uploaded }));
        await publisher.PublishAsync(target.Topics.Jobs, new OutgoingMessage(document, new Dictionary<string, string> { [SubmitFunction.SubmissionIdAttribute] = submissionId }), ct);
        var jobId = JobId.From(spec.Name, $"client:{submissionId}");
        var page = target.StatusUrl is { } url ? new Uri(url, $"jobs/{jobId}") : null;

        if (json)
        {
            console.Profile.Out.Writer.WriteLine(JsonSerializer.Serialize(new { jobId, name = spec.Name, code = uploaded, statusPage = page?.AbsoluteUri }));
        }
        else
        {
            var flag = target.IsLocal ? " --local" : "";
            console.MarkupLineInterpolated($"Submitted job [bold]{jobId}[/] ({spec.Name}, {spec.Tpu.Type} in {string.Join(", ", spec.Tpu.Zones)}) to {target.Description}.");
            console.MarkupLineInterpolated($"[grey]code:[/] {uploaded}");
            console.MarkupLineInterpolated($"[grey]follow it:[/] spotjax status {jobId}{flag}  ·  spotjax logs {jobId}{flag} --follow  ·  spotjax cancel {jobId}{flag}");
            if (page is not null)
            {
                console.MarkupLineInterpolated($"[grey]status page:[/] {page.AbsoluteUri}");
            }
        }

        return jobId;
    }

    internal static async Task<JobSpec> FromManifestAsync(FileInfo manifest, bool scriptGiven, CancellationToken ct)
    {
        if (scriptGiven)
        {
            throw new CliException(ExitCodes.Usage, "give either a script or --file, not both");
        }

        if (!manifest.Exists)
        {
            throw new CliException(ExitCodes.Usage, $"job file {manifest.FullName} does not exist; check the path (relative paths start from {Environment.CurrentDirectory})");
        }

        // Bytes, not text: the job document's own encoding rule decides, as it does for a manifest in the bucket.
        var bytes = await File.ReadAllBytesAsync(manifest.FullName, ct);
        return Parse(options => JobDocument.Parse(bytes, options), manifest.Name, manifest.DirectoryName);
    }

    internal static JobSpec FromOptions(
        FileInfo? script, DirectoryInfo? code, string[] args, string? tpu, string? zone, string[] zones, string? name,
        int? maxRetries, int? maxPreemptions, string[] env, string? runtime, int? slices = null, decimal? maxCostUsd = null)
    {
        if (script is null)
        {
            throw new CliException(ExitCodes.Usage, "give a script to run (spotjax submit train.py --tpu v4-8 --zone us-central2-b) or a manifest (--file job.yaml)");
        }

        if (tpu is null && script.Extension.ToLowerInvariant() is ".yaml" or ".yml" or ".json")
        {
            // The usual slip: a manifest where the script goes.
            throw new CliException(ExitCodes.Usage, $"{script.Name} looks like a job manifest: pass it as --file {script.Name} (`spotjax run --local {script.Name}` runs it in a throw-away local plane)");
        }

        if (!script.Exists)
        {
            throw new CliException(ExitCodes.Usage, $"script {script.FullName} does not exist; check the path (relative paths start from {Environment.CurrentDirectory})");
        }

        var folder = code?.FullName ?? script.DirectoryName!;
        var relative = Path.GetRelativePath(folder, script.FullName).Replace('\\', '/');
        if (relative.StartsWith("../", StringComparison.Ordinal) || Path.IsPathRooted(relative))
        {
            throw new CliException(ExitCodes.Usage, $"script {script.FullName} is not inside the code folder {folder}; give --code a folder that holds it");
        }

        var zoneList = zones.SelectMany(z => z.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)).ToList();
        if (zone is not null)
        {
            zoneList.Insert(0, zone);
        }

        if (tpu is null || zoneList.Count == 0)
        {
            throw new CliException(ExitCodes.Usage, "--tpu TYPE and --zone ZONE (or --zones A,B) are required, for example --tpu v4-8 --zone us-central2-b");
        }

        var variables = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var pair in env)
        {
            var equals = pair.IndexOf('=', StringComparison.Ordinal);
            if (equals <= 0)
            {
                throw new CliException(ExitCodes.Usage, $"--env {pair}: expected NAME=VALUE, for example --env WANDB_MODE=offline");
            }

            variables[pair[..equals]] = pair[(equals + 1)..];
        }

        var document = new Dictionary<string, object?>
        {
            ["name"] = name ?? new DirectoryInfo(folder).Name,
            ["tpu"] = runtime is null
                ? new Dictionary<string, object?> { ["type"] = tpu, ["zones"] = zoneList }
                : new Dictionary<string, object?> { ["type"] = tpu, ["zones"] = zoneList, ["runtimeVersion"] = runtime },
            ["code"] = folder,
            ["script"] = relative,
            ["args"] = args,
            ["env"] = variables,
            ["maxRetries"] = maxRetries,
            ["maxPreemptions"] = maxPreemptions,
            ["slices"] = slices,
            ["maxCostUsd"] = maxCostUsd,
        };
        var text = JsonSerializer.Serialize(document.Where(p => p.Value is not null).ToDictionary(p => p.Key, p => p.Value));
        return Parse(options => JobDocument.Parse(text, options), "the command line", folder);
    }

    /// <summary>Validates as <c>submit</c> will, so a mistake is reported here, naming the field, rather than as a REJECTED job.</summary>
    private static JobSpec Parse(Func<JobDocumentOptions, JobSpec> parse, string source, string? baseDirectory)
    {
        try
        {
            return parse(new JobDocumentOptions { AllowLocalCode = true, BaseDirectory = baseDirectory });
        }
        catch (JobDocumentException e)
        {
            throw new CliException(ExitCodes.Usage, $"{source} is not a valid job: " + string.Join("; ", e.Errors.Select(error => $"{error.Field}: {error.Message}")));
        }
    }
}
