namespace SpotJax.Core.Jobs;

/// <summary>A validated job document (JSON or YAML, one schema: <c>schema/job.schema.json</c>).</summary>
public sealed record JobSpec
{
    public required string Name { get; init; }
    public required TpuSpec Tpu { get; init; }

    /// <summary>Where the user's code is: a <c>gs://</c> tarball or prefix, or (local mode only) a local path.</summary>
    public required string Code { get; init; }

    /// <summary>Script path relative to the code root; never absolute, never containing <c>..</c>.</summary>
    public required string Script { get; init; }

    public IReadOnlyList<string> Args { get; init; } = [];
    public IReadOnlyDictionary<string, string> Env { get; init; } = new Dictionary<string, string>();
    public int MaxRetries { get; init; } = 5;
    public int MaxPreemptions { get; init; } = 100;
    public StallPolicy Stall { get; init; } = new(60, StallAction.Warn);
    public int ProvisionTimeoutMinutes { get; init; } = 120;

    /// <summary>Override of the default <c>gs://BUCKET/&lt;jobId&gt;/ckpt</c>.</summary>
    public string? CheckpointDir { get; init; }

    /// <summary>Override of the default <c>gs://BUCKET/&lt;jobId&gt;/logs</c>.</summary>
    public string? LogDir { get; init; }

    /// <summary>Minutes the agents may prepare the workers (code, setup script, requirements) before the attempt is ended as a launch failure.</summary>
    public int PrepareTimeoutMinutes { get; init; } = 30;

    /// <summary>The Python version of the workers' venv (<c>uv venv --python</c>), such as <c>3.12</c>.</summary>
    public string Python { get; init; } = "3.12";

    /// <summary>Package indexes <c>uv pip install -r requirements.txt</c> searches besides PyPI and the libtpu release index.</summary>
    public IReadOnlyList<string> ExtraIndexUrls { get; init; } = [];

    /// <summary>Arguments added to <c>uv pip install -r requirements.txt</c>, each one word (never through a shell).</summary>
    public IReadOnlyList<string> PipArgs { get; init; } = [];

    /// <summary>
    /// Variables whose values the agent reads from Secret Manager on the node: name to version
    /// reference (<c>projects/P/secrets/S/versions/V</c>). Only the references are stored and shown.
    /// </summary>
    public IReadOnlyDictionary<string, string> SecretEnv { get; init; } = new Dictionary<string, string>();

    /// <summary>
    /// Slices of <see cref="TpuSpec.Type"/> trained on together (multislice): one queued resource with this many
    /// nodes, <c>&lt;queuedResourceId&gt;-0</c> to <c>-(N-1)</c>; 1 is one node named after the queued resource.
    /// </summary>
    public int Slices { get; init; } = 1;

    /// <summary>
    /// The most the job may cost, in USD, over all its attempts (<see cref="Cost.JobCost"/>); the sweep cancels it
    /// (reason <c>budget</c>) once its cost reaches this. Null: no limit.
    /// </summary>
    public decimal? MaxCostUsd { get; init; }

    /// <summary>The webhook told of this job's end, preemptions and stall warnings; null uses the deployment's, if any.</summary>
    public NotifySpec? Notify { get; init; }
}

public sealed record TpuSpec
{
    /// <summary>Accelerator type such as <c>v4-8</c>, <c>v5litepod-16</c>, <c>v5p-32</c>, <c>v6e-8</c>.</summary>
    public required string Type { get; init; }

    /// <summary>Zones in fail-over order; at least one.</summary>
    public required IReadOnlyList<string> Zones { get; init; }

    /// <summary>TPU software version; when absent the default for the generation is used.</summary>
    public string? RuntimeVersion { get; init; }
}

public sealed record StallPolicy(int Minutes, StallAction Action);

public enum StallAction
{
    Warn,
    Restart,
}
