using System.Text.Json.Serialization;

namespace SpotJax.Core.Agent;

/// <summary>
/// The per-worker, per-attempt file that <c>launch</c> writes next to the node agent
/// (<c>attempt-N.json</c>). Values from the job travel in this JSON file, never through a shell.
/// URIs are <c>gs://</c> on Google Cloud and local paths in local mode.
/// </summary>
public sealed record AgentConfig
{
    [JsonPropertyName("jobId")] public required string JobId { get; init; }
    [JsonPropertyName("attempt")] public required int Attempt { get; init; }
    [JsonPropertyName("workerId")] public required int WorkerId { get; init; }
    [JsonPropertyName("numWorkers")] public required int NumWorkers { get; init; }
    [JsonPropertyName("codeUri")] public required string CodeUri { get; init; }
    [JsonPropertyName("script")] public required string Script { get; init; }
    [JsonPropertyName("args")] public required IReadOnlyList<string> Args { get; init; }

    /// <summary>The complete environment contract for this worker (SPOT_*, JAX_COORDINATOR_ADDRESS, the job's env).</summary>
    [JsonPropertyName("env")] public required IReadOnlyDictionary<string, string> Env { get; init; }

    /// <summary>Prefix of this worker's markers: the agent writes <c>{markersUri}/booted|preempted|exited</c>.</summary>
    [JsonPropertyName("markersUri")] public required string MarkersUri { get; init; }

    /// <summary>The log object of this worker and attempt.</summary>
    [JsonPropertyName("logUri")] public required string LogUri { get; init; }

    /// <summary>Metadata server base, ending in <c>/computeMetadata/v1/</c>.</summary>
    [JsonPropertyName("metadataUrl")] public required string MetadataUrl { get; init; }

    /// <summary>Seconds the agent waits for the script after SIGTERM before writing the exit marker anyway.</summary>
    [JsonPropertyName("graceSeconds")] public int GraceSeconds { get; init; } = 25;

    /// <summary>
    /// Folder (<c>gs://BUCKET/cache/pip/</c>, or a local folder in local mode) of wheel archives named
    /// after the hash of <c>requirements.txt</c>: the agent installs from a matching archive without the
    /// package index, and stores one after an install that had none. Null: no cache.
    /// </summary>
    [JsonPropertyName("requirementsCacheUri")] public string? RequirementsCacheUri { get; init; }

    /// <summary>The preparation log object of this worker and attempt (code, setup script, requirements).</summary>
    [JsonPropertyName("prepareLogUri")] public required string PrepareLogUri { get; init; }

    /// <summary>The venv's Python version: <c>uv venv venv --python {Python}</c>.</summary>
    [JsonPropertyName("python")] public string Python { get; init; } = "3.12";

    /// <summary><c>--extra-index-url</c> values of <c>uv pip install -r requirements.txt</c>, in order.</summary>
    [JsonPropertyName("extraIndexUrls")] public IReadOnlyList<string> ExtraIndexUrls { get; init; } = [];

    /// <summary>Arguments added to <c>uv pip install -r requirements.txt</c>, each one argv word.</summary>
    [JsonPropertyName("pipArgs")] public IReadOnlyList<string> PipArgs { get; init; } = [];

    /// <summary>
    /// Where the agent gets uv: <see cref="UvFromPath"/> (local mode, tests; without uv on the PATH it
    /// falls back to <c>python3 -m venv</c> and pip, saying so in <c>prepare.log</c>) or
    /// <see cref="UvDownload"/> (TPU VMs: the pinned release, checked by its sha256, kept in
    /// <c>~/.cache/spotjax/uv-VERSION</c>).
    /// </summary>
    [JsonPropertyName("uvSource")] public string UvSource { get; init; } = UvFromPath;

    public const string UvFromPath = "path";
    public const string UvDownload = "download";

    /// <summary>
    /// Variables of the script whose values the agent reads from Secret Manager with the node's
    /// token: name to <c>projects/P/secrets/S/versions/V</c>. Only references travel in this file.
    /// </summary>
    [JsonPropertyName("secretEnv")] public IReadOnlyDictionary<string, string> SecretEnv { get; init; } = new Dictionary<string, string>();
}
