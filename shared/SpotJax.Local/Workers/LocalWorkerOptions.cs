namespace SpotJax.Local.Workers;

/// <summary>How <see cref="LocalWorkerRunner"/> lays out and starts the workers of local TPU nodes.</summary>
public sealed record LocalWorkerOptions
{
    /// <summary>
    /// Folder holding every local node: a worker's home is <c>{NodesRoot}/{zone}/{nodeId}/worker-{index}</c>.
    /// The TPU simulator signals the process groups named by the <c>*.pgid</c> files found there.
    /// </summary>
    public required string NodesRoot { get; init; }

    /// <summary>Maps a <c>gs://</c> URI of the local bucket to a local path; returns any other value unchanged.</summary>
    public required Func<string, string> ResolveUri { get; init; }

    /// <summary>The metadata server base (ending in <c>/computeMetadata/v1/</c>) of a node, from its zone and node id; empty for none.</summary>
    public required Func<string, string, string> MetadataUrl { get; init; }

    /// <summary>The Python 3.8+ interpreter that runs the node agent.</summary>
    public string Python { get; init; } = "python3";

    /// <summary>Longest a worker's <c>launch</c> (it starts the agent detached, which then prepares on its own) may take before it is killed.</summary>
    public TimeSpan StepTimeout { get; init; } = TimeSpan.FromMinutes(2);

    /// <summary>
    /// The agent's wheel cache (<c>gs://BUCKET/cache/pip/</c> of the local bucket), passed through
    /// <see cref="ResolveUri"/>; null installs requirements without it.
    /// </summary>
    public string? RequirementsCacheUri { get; init; }

    /// <summary>
    /// Variables added to the agent's environment, such as a <c>PATH</c> that holds a <c>uv</c> (the agent
    /// takes uv from the PATH in local mode).
    /// </summary>
    public IReadOnlyDictionary<string, string>? ExtraEnvironment { get; init; }

    /// <summary>Clock for launch durations and the step timeout.</summary>
    public TimeProvider TimeProvider { get; init; } = TimeProvider.System;
}
