using System.CommandLine;

namespace SpotJax.Cli;

/// <summary>
/// The options of every command that talks to a deployment, and how they pick one: <c>--local</c>
/// (or <c>SPOTJAX_TARGET=local</c>) for the local plane; a project and a bucket for Google Cloud,
/// from the options, then <c>GOOGLE_CLOUD_PROJECT</c> and <c>SPOTJAX_BUCKET</c>, then
/// <c>~/.spotjax/config.json</c>, then gcloud's project; with none of these, a local plane
/// running in the default state folder.
/// </summary>
public sealed class TargetOptions
{
    public const string TargetVariable = "SPOTJAX_TARGET";
    public const string ProjectVariable = "GOOGLE_CLOUD_PROJECT";
    public const string BucketVariable = "SPOTJAX_BUCKET";

    public Option<bool> Local { get; } = new("--local")
    {
        Description = "Use the local control plane started by `spotjax local up` (also: SPOTJAX_TARGET=local).",
    };

    public Option<DirectoryInfo?> StateDir { get; } = new("--state-dir")
    {
        Description = "The local plane's state folder (default: $SPOTJAX_LOCAL_DIR, else ~/.spotjax/local).",
    };

    public Option<string?> Project { get; } = new("--project")
    {
        Description = "Google Cloud project (default: $GOOGLE_CLOUD_PROJECT, ~/.spotjax/config.json, gcloud's project).",
    };

    public Option<string?> Bucket { get; } = new("--bucket")
    {
        Description = "The deployment's control bucket, without gs:// (default: $SPOTJAX_BUCKET, ~/.spotjax/config.json).",
    };

    public void AddTo(Command command)
    {
        command.Options.Add(Local);
        command.Options.Add(StateDir);
        command.Options.Add(Project);
        command.Options.Add(Bucket);
    }

    /// <summary>
    /// Adds only <c>--project</c> and <c>--bucket</c>, for <c>run</c>: its own <c>--local</c> means a
    /// throw-away plane, so there the running local plane is reached through <c>SPOTJAX_TARGET=local</c>,
    /// the config file or the default state folder (see <see cref="Resolve(ParseResult, DirectoryInfo?, string)"/>).
    /// </summary>
    public void AddGoogleTo(Command command)
    {
        command.Options.Add(Project);
        command.Options.Add(Bucket);
    }

    /// <summary>The deployment these options name, without contacting it.</summary>
    /// <exception cref="CliException">None is named or found.</exception>
    public TargetChoice Resolve(ParseResult parse) =>
        Resolve(parse, parse.GetValue(Local), parse.GetValue(StateDir), "pass --local (after `spotjax local up --detach`)");

    /// <summary>The deployment a command with only <see cref="AddGoogleTo"/>'s options names, without contacting it.</summary>
    /// <param name="parse">The command line.</param>
    /// <param name="stateDir">The local plane's state folder, when the command line names one.</param>
    /// <param name="localHint">What to pass for local mode, for the message when no deployment is found.</param>
    /// <exception cref="CliException">None is named or found.</exception>
    public TargetChoice Resolve(ParseResult parse, DirectoryInfo? stateDir, string localHint) => Resolve(parse, false, stateDir, localHint);

    private TargetChoice Resolve(ParseResult parse, bool localFlag, DirectoryInfo? stateDirOption, string localHint)
    {
        var config = CliConfig.Load();
        var stateDir = stateDirOption?.FullName ?? (config.StateDir is { } saved ? Path.GetFullPath(saved) : CliPaths.DefaultLocalStateDir);
        var target = Environment.GetEnvironmentVariable(TargetVariable) is { Length: > 0 } fromEnvironment ? fromEnvironment : null;
        if (target is not null and not CliConfig.Local and not CliConfig.Google)
        {
            throw new CliException(ExitCodes.Usage, $"{TargetVariable}={target}: expected local or google");
        }

        var project = parse.GetValue(Project) ?? Variable(ProjectVariable);
        var bucket = parse.GetValue(Bucket) ?? Variable(BucketVariable);
        var googleNamed = project is not null || bucket is not null || target == CliConfig.Google;
        if (localFlag || target == CliConfig.Local || (!googleNamed && config.Target == CliConfig.Local))
        {
            return new TargetChoice(true, stateDir, null, null);
        }

        project ??= config.Project ?? GcloudConfig.Project();
        bucket ??= config.Bucket;
        if (project is not null && bucket is not null)
        {
            return new TargetChoice(false, stateDir, project, bucket.StartsWith("gs://", StringComparison.Ordinal) ? bucket[5..].TrimEnd('/') : bucket);
        }

        if (!googleNamed && config.Target is null && Functions.Local.LocalPlaneInfo.ReadLive(stateDir) is not null)
        {
            return new TargetChoice(true, stateDir, null, null);
        }

        throw new CliException(ExitCodes.Unavailable, project is null
            ? $"no deployment: {localHint}, or --project and --bucket for Google Cloud (`spotjax setup --fix --project P --bucket B` remembers them)"
            : $"no control bucket for project {project}: pass --bucket BUCKET or set {BucketVariable} (`spotjax setup --fix --bucket BUCKET` remembers it)");
    }

    private static string? Variable(string name) => Environment.GetEnvironmentVariable(name) is { Length: > 0 } value ? value : null;
}
