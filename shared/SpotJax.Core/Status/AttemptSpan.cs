using SpotJax.Core.Jobs;

namespace SpotJax.Core.Status;

/// <summary>One attempt of a job as its history tells it: when it was provisioned, ran and ended, and how.</summary>
/// <param name="Attempt">The attempt number, from 1.</param>
/// <param name="Zone">The zone it was provisioned in, when the history names it.</param>
/// <param name="ProvisioningAt">When its queued resource was asked for.</param>
/// <param name="RunningAt">When the script started on every worker; null when it never did.</param>
/// <param name="EndedAt">When it ended; null while it is the live attempt.</param>
/// <param name="End">The state it ended in (RECOVERING, SUCCEEDED, FAILED, CANCELLING, CANCELLED); null while live.</param>
/// <param name="Cause">Why it ended, as recorded in the history.</param>
public sealed record AttemptSpan(
    int Attempt,
    string? Zone,
    DateTimeOffset ProvisioningAt,
    DateTimeOffset? RunningAt,
    DateTimeOffset? EndedAt,
    JobState? End,
    string? Cause)
{
    /// <summary>The TPU was taken back: a Spot preemption, maintenance, or a lost queued resource.</summary>
    public bool Preempted => End is JobState.Recovering or JobState.Failed && Cause is { } cause &&
        cause.StartsWith("preempted", StringComparison.Ordinal);
}
