namespace SpotJax.Core.Lifecycle;

/// <summary>Why an attempt ended without success; decides which budget is spent.</summary>
public enum AttemptEnd
{
    /// <summary>The TPU was taken back (Spot preemption, maintenance, resource gone).</summary>
    Preempted,

    /// <summary>The script exited non-zero, or a worker failed.</summary>
    Failed,

    /// <summary>No checkpoint for the stall window, with action <c>restart</c>.</summary>
    Stalled,

    /// <summary>The code could not be put on the workers.</summary>
    LaunchFailed,

    /// <summary>The zone supplied no capacity within <c>provisionTimeoutMinutes</c>.</summary>
    ProvisionTimeout,

    /// <summary>The queued resource went to FAILED.</summary>
    ProvisionFailed,

    /// <summary>An error no retry can fix (a request the TPU API refuses); fails the job at once.</summary>
    Permanent,
}
