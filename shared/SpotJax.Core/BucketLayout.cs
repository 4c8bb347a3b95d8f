using System.Globalization;
using System.Text.RegularExpressions;

namespace SpotJax.Core;

/// <summary>Where things live in the control bucket.</summary>
public static partial class BucketLayout
{
    /// <summary>Manifests uploaded here start a run.</summary>
    public const string ManifestPrefix = "jobs/";

    /// <summary>Code bundles uploaded by the command line.</summary>
    public const string CodePrefix = "code/";

    /// <summary>The node agent's wheel archives, named after the hash of a <c>requirements.txt</c>.</summary>
    public const string RequirementsCachePrefix = "cache/pip/";

    public static string CheckpointPrefix(string jobId) => $"{jobId}/ckpt/";

    public static string LogPrefix(string jobId) => $"{jobId}/logs/";

    public static string MarkersPrefix(string jobId) => $"{jobId}/markers/";

    /// <summary>The log object of one worker of one attempt, under a job's log folder.</summary>
    public static string LogObject(string logDir, int attempt, int worker) =>
        $"{logDir.TrimEnd('/')}/attempt-{attempt}/worker-{worker}.log";

    /// <summary>The preparation log (code, uv, venv, setup script, requirements) of one worker of one attempt.</summary>
    public static string PrepareLogObject(string logDir, int attempt, int worker) =>
        $"{logDir.TrimEnd('/')}/attempt-{attempt}/worker-{worker}.prepare.log";

    public static string Marker(string jobId, int attempt, int worker, MarkerKind kind) =>
        $"{MarkersPrefix(jobId)}attempt-{attempt}/worker-{worker}/{MarkerName(kind)}";

    /// <summary>The object name of a marker kind: <c>booted</c>, <c>prepared</c>, <c>prepare-failed</c>, ...</summary>
    public static string MarkerName(MarkerKind kind) => kind switch
    {
        MarkerKind.PrepareFailed => "prepare-failed",
        _ => kind.ToString().ToLowerInvariant(),
    };

    public static string GsUri(string bucket, string name) => $"gs://{bucket}/{name}";

    /// <summary>
    /// The job an object belongs to: the first part of its name when that is a job id, but never
    /// the folders of manifests, code bundles and the pip cache (<c>jobs</c>, <c>code</c> and
    /// <c>cache</c> are well-formed ids too). Null for anything else.
    /// </summary>
    public static string? JobIdOf(string objectName)
    {
        ArgumentNullException.ThrowIfNull(objectName);
        var slash = objectName.IndexOf('/', StringComparison.Ordinal);
        if (slash <= 0)
        {
            return null;
        }

        var folder = objectName[..(slash + 1)];
        var shared = folder == ManifestPrefix || folder == CodePrefix || RequirementsCachePrefix.StartsWith(folder, StringComparison.Ordinal);
        return !shared && Jobs.JobId.IsValid(objectName[..slash]) ? objectName[..slash] : null;
    }

    /// <summary>Recognises <c>JOB/markers/attempt-N/worker-I/KIND</c>.</summary>
    public static bool TryParseMarker(string name, out MarkerRef marker)
    {
        marker = default;
        var m = MarkerPattern().Match(name);
        if (!m.Success || !Enum.TryParse<MarkerKind>(m.Groups["kind"].Value.Replace("-", "", StringComparison.Ordinal), ignoreCase: true, out var kind))
        {
            return false;
        }

        marker = new MarkerRef(
            m.Groups["job"].Value,
            int.Parse(m.Groups["attempt"].Value, CultureInfo.InvariantCulture),
            int.Parse(m.Groups["worker"].Value, CultureInfo.InvariantCulture),
            kind);
        return true;
    }

    /// <summary>
    /// Whether an object is one of the node agent's log files in the job's default log folder
    /// (<c>JOB/logs/attempt-N/worker-I.log</c> or <c>.prepare.log</c>, see <see cref="LogObject"/>): the agent
    /// uploads them whole every second or so while a script prints, and they are never checkpoints.
    /// </summary>
    public static bool IsAgentLogObject(string name) => AgentLogPattern().IsMatch(name);

    [GeneratedRegex(@"^[a-z][a-z0-9-]{0,62}/logs/attempt-[0-9]{1,6}/worker-[0-9]{1,5}(\.prepare)?\.log$")]
    private static partial Regex AgentLogPattern();

    [GeneratedRegex(@"^(?<job>[a-z][a-z0-9-]{0,62})/markers/attempt-(?<attempt>[0-9]{1,6})/worker-(?<worker>[0-9]{1,5})/(?<kind>booted|prepared|prepare-failed|preempted|exited)$")]
    private static partial Regex MarkerPattern();
}

public enum MarkerKind
{
    Booted,

    /// <summary>The worker is prepared and its script has started.</summary>
    Prepared,

    /// <summary>A preparation step failed: <c>{"step", "message", "outputTail", "time"}</c>.</summary>
    PrepareFailed,
    Preempted,
    Exited,
}

public readonly record struct MarkerRef(string JobId, int Attempt, int Worker, MarkerKind Kind);
