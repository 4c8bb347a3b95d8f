namespace SpotJax.Core.Ports;

/// <summary>
/// Puts an attempt on every worker of a TPU node: the node agent, the code, the dependencies,
/// and the script started detached (SSH in production, local processes in local mode).
/// Running the same plan twice for one attempt changes nothing.
/// </summary>
public interface IWorkerRunner
{
    Task<IReadOnlyList<WorkerResult>> LaunchAsync(LaunchPlan plan, CancellationToken cancellationToken);

    /// <summary>
    /// Ends what <see cref="LaunchAsync"/> started for the plan's attempt on every worker (the
    /// agent's <c>stop</c>: SIGTERM to the attempt's process group, SIGKILL after the grace), for an
    /// attempt that ended while it was being launched. A worker never launched is kept from starting.
    /// </summary>
    Task<IReadOnlyList<WorkerResult>> StopAsync(LaunchPlan plan, CancellationToken cancellationToken);
}

/// <summary>
/// What one attempt runs on one node. <see cref="Environment"/> holds the environment contract shared by the
/// node's workers; the runner adds <c>SPOT_WORKER_ID</c> per worker, its index within the node
/// (<see cref="WorkerEndpoint.Index"/> minus <see cref="FirstWorker"/>). A multislice attempt has one plan per slice.
/// </summary>
public sealed record LaunchPlan
{
    public required string JobId { get; init; }
    public required int Attempt { get; init; }

    /// <summary>Full node name, <c>projects/P/locations/Z/nodes/N</c>.</summary>
    public required string NodeName { get; init; }

    /// <summary>One entry per worker, in the node's <c>networkEndpoints</c> order.</summary>
    public required IReadOnlyList<WorkerEndpoint> Workers { get; init; }

    /// <summary>
    /// The attempt-wide index of the node's worker 0: 0 for one slice; for slice S of a multislice attempt, the
    /// workers of the slices before it. Markers, logs and results use the attempt-wide <see cref="WorkerEndpoint.Index"/>.
    /// </summary>
    public int FirstWorker { get; init; }

    /// <summary>The worker's index within its node: <c>SPOT_WORKER_ID</c> and its folder on the node.</summary>
    public int NodeWorker(WorkerEndpoint worker)
    {
        ArgumentNullException.ThrowIfNull(worker);
        return worker.Index - FirstWorker;
    }

    /// <summary><c>gs://</c> URI (or local path) of the code tarball or folder.</summary>
    public required string CodeUri { get; init; }

    public required string Script { get; init; }
    public required IReadOnlyList<string> Args { get; init; }
    public required IReadOnlyDictionary<string, string> Environment { get; init; }

    /// <summary>Prefix under which the agent writes its markers: <c>.../attempt-N/worker-I/{booted,preempted,exited}</c>.</summary>
    public required string MarkersUri { get; init; }

    /// <summary>Folder under which the agent writes <c>attempt-N/worker-I.log</c>.</summary>
    public required string LogUri { get; init; }

    /// <summary>The venv's Python version (<c>uv venv --python</c>).</summary>
    public string Python { get; init; } = "3.12";

    /// <summary>Indexes for <c>uv pip install -r requirements.txt</c>, in order (<c>--extra-index-url</c> each).</summary>
    public IReadOnlyList<string> ExtraIndexUrls { get; init; } = [];

    /// <summary>Arguments added to <c>uv pip install -r requirements.txt</c>.</summary>
    public IReadOnlyList<string> PipArgs { get; init; } = [];

    /// <summary>Variables the agent reads from Secret Manager on the node: name to secret version reference (never the value).</summary>
    public IReadOnlyDictionary<string, string> SecretEnvironment { get; init; } = new Dictionary<string, string>();
}

public sealed record WorkerEndpoint(int Index, string IpAddress, int Port);

public sealed record WorkerResult(int Index, bool Succeeded, int ExitCode, string StderrTail, TimeSpan Duration);
