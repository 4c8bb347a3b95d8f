using SpotJax.Core.Lifecycle;

namespace SpotJax.Core.Steps;

/// <summary>What every function needs to know about its deployment.</summary>
public sealed record ControlPlaneOptions
{
    /// <summary>The Google Cloud project that owns the TPUs.</summary>
    public required string Project { get; init; }

    /// <summary>The control bucket (manifests, code, checkpoints, logs, markers).</summary>
    public required string Bucket { get; init; }

    public LifecycleOptions Lifecycle { get; init; } = new();

    /// <summary>Local mode accepts local code paths in job documents.</summary>
    public bool AllowLocalCode { get; init; }

    /// <summary>The port of the JAX coordinator on worker 0 of a multi-host slice.</summary>
    public int CoordinatorPort { get; init; } = 8476;
}
