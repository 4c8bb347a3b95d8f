using System.CommandLine;
using SpotJax.Core.Jobs;
using SpotJax.Functions.Local;

namespace SpotJax.Cli;

/// <summary>
/// How <c>submit</c> and <c>run</c> describe a job on the command line: a script with
/// <c>--tpu</c>, <c>--zone</c> and the rest (its folder is the code), or a manifest with <c>--file</c>.
/// </summary>
public sealed class JobOptions(string scriptDescription)
{
    public Argument<FileInfo?> Script { get; } = new("script") { Description = scriptDescription, Arity = ArgumentArity.ZeroOrOne };
    public Argument<string[]> Args { get; } = new("args") { Description = "Arguments for the script, after --.", Arity = ArgumentArity.ZeroOrMore };
    public Option<FileInfo?> File { get; } = new("--file", "-f") { Description = "Submit this job manifest (YAML or JSON) instead of a script; a local `code:` folder is packed and uploaded." };
    public Option<string?> Tpu { get; } = new("--tpu") { Description = "Accelerator type: v4-8, v5litepod-8, v5p-32, v6e-8, ..." };
    public Option<string?> Zone { get; } = new("--zone") { Description = "The zone to run in." };
    public Option<string[]> Zones { get; } = new("--zones") { Description = "Zones in fail-over order (comma-separated or repeated), instead of --zone.", AllowMultipleArgumentsPerToken = true };
    public Option<string?> Name { get; } = new("--name") { Description = "The job's name (default: the code folder's name)." };
    public Option<DirectoryInfo?> Code { get; } = new("--code") { Description = "The code folder to pack, when it is not the script's folder (the script path is then relative to it)." };
    public Option<int?> MaxRetries { get; } = new("--max-retries") { Description = "Restarts allowed after failures that are not preemptions (default 5)." };
    public Option<int?> MaxPreemptions { get; } = new("--max-preemptions") { Description = "Recoveries allowed after preemptions (default 100)." };
    public Option<string[]> Env { get; } = new("--env", "-e") { Description = "An environment variable for the script, K=V; repeat it." };
    public Option<string?> Runtime { get; } = new("--runtime-version") { Description = "TPU software version (default: the generation's)." };
    public Option<int?> Slices { get; } = new("--slices") { Description = "Slices of --tpu to train on together (multislice, default 1): one queued resource with that many nodes." };
    public Option<decimal?> MaxCostUsd { get; } = new("--max-cost-usd") { Description = "Cancel the job once its cost over all attempts reaches this many US dollars (maxCostUsd)." };
    public Option<string?> MaxCodeSize { get; } = new("--max-code-size")
    {
        Description = $"Refuse a code folder whose files add up to more than this (default 1GiB, or ${CodeBundleOptions.MaxBytesVariable}); leave files out with {CodeBundle.SpotJaxIgnoreFile}.",
    };

    /// <summary>The options that build a job from a script, in the order <c>--help</c> lists them.</summary>
    private IEnumerable<Option> ScriptOptions => [Tpu, Zone, Zones, Name, Code, MaxRetries, MaxPreemptions, Env, Runtime, Slices, MaxCostUsd];

    public void AddTo(Command command)
    {
        command.Arguments.Add(Script);
        command.Arguments.Add(Args);
        command.Options.Add(File);
        foreach (var option in ScriptOptions)
        {
            command.Options.Add(option);
        }

        command.Options.Add(MaxCodeSize);
    }

    /// <summary>The code folder's size limit: <c>--max-code-size</c>, else the environment's, else 1 GiB.</summary>
    /// <exception cref="CliException">A limit that is not a size (exit code 2).</exception>
    public CodeBundleOptions CodeLimits(ParseResult parse)
    {
        var limits = CodeBundleOptions.From(parse.GetValue(MaxCodeSize), Environment.GetEnvironmentVariable(CodeBundleOptions.MaxBytesVariable), out var error);
        return error is null ? limits : throw new CliException(ExitCodes.Usage, error);
    }

    /// <summary>The script options given on this command line (and <c>-- ARGS</c>), by name.</summary>
    public IReadOnlyList<string> ScriptOptionsGiven(ParseResult parse)
    {
        var given = ScriptOptions.Where(o => parse.GetResult(o) is { Implicit: false }).Select(o => o.Name).ToList();
        if (parse.GetValue(Args) is { Length: > 0 })
        {
            given.Add("-- ARGS");
        }

        return given;
    }

    /// <summary>The job this command line describes, validated as <c>submit</c> will validate it.</summary>
    /// <exception cref="CliException">A missing or contradictory option, or an invalid job (exit code 2).</exception>
    public async Task<JobSpec> ReadAsync(ParseResult parse, CancellationToken ct) =>
        parse.GetValue(File) is { } manifest
            ? await SubmitCommand.FromManifestAsync(manifest, parse.GetValue(Script) is not null, ct)
            : SubmitCommand.FromOptions(
                parse.GetValue(Script), parse.GetValue(Code), parse.GetValue(Args) ?? [], parse.GetValue(Tpu), parse.GetValue(Zone),
                parse.GetValue(Zones) ?? [], parse.GetValue(Name), parse.GetValue(MaxRetries), parse.GetValue(MaxPreemptions),
                parse.GetValue(Env) ?? [], parse.GetValue(Runtime), parse.GetValue(Slices), parse.GetValue(MaxCostUsd));
}
