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

    /// <summary>
    /// No TPU within <c>provisionTimeoutMinutes</c> of the attempt's start, whether or not a queued resource was
    /// ever created; spends the preemption budget and moves to the next zone.
    /// </summary>
    ProvisionTimeout,

    /// <summary>
    /// The zone could not supply the TPU: the queued resource went to FAILED, waited too long for capacity, or
    /// creates were refused for quota or capacity too often; spends the preemption budget and moves to the next zone.
    /// </summary>
    ProvisionFailed,

    /// <summary>
    /// An error no retry can fix (a permission, an invalid request the TPU API refuses); fails the job at once,
    /// its detail saying what to fix.
    /// </summary>
    Permanent,
}
