namespace SpotJax.Core.Jobs;

/// <summary>
/// The job document kept in the job store (<c>jobs/{jobId}</c>). Everything the control plane
/// knows about a job between two events; nothing secret.
/// </summary>
public sealed record Job
{
    public required string Id { get; init; }

    /// <summary>What created the job (for example <c>pubsub:1234</c> or <c>gcs:bucket/jobs/a.yaml#17</c>).</summary>
    public required string Submission { get; init; }

    /// <summary>
    /// The deployment whose control plane created the job (<c>ControlPlaneOptions.Deployment</c>), whose
    /// label its queued resources carry; null for a job created before deployments had names.
    /// </summary>
    public string? Deployment { get; init; }

    /// <summary>The validated spec; null only for a REJECTED job whose document could not be parsed.</summary>
    public JobSpec? Spec { get; init; }

    public required JobState State { get; init; }

    /// <summary>The current attempt; 0 until the first provisioning starts.</summary>
    public int Attempt { get; init; }

    /// <summary>Index into <see cref="TpuSpec.Zones"/> used by the current or next attempt.</summary>
    public int ZoneIndex { get; init; }

    public string? Zone { get; init; }
    public string? QueuedResourceId { get; init; }

    /// <summary>Worker count of the current attempt, from the node's network endpoints.</summary>
    public int Workers { get; init; }

    public required DateTimeOffset SubmittedAt { get; init; }
    public DateTimeOffset? StartedAt { get; init; }
    public DateTimeOffset? AttemptStartedAt { get; init; }
    public DateTimeOffset? RunningSince { get; init; }
    public DateTimeOffset? LastCheckpointAt { get; init; }
    public long? LastCheckpointStep { get; init; }
    public DateTimeOffset? StallWarnedAt { get; init; }
    public DateTimeOffset? NextAttemptAt { get; init; }
    public DateTimeOffset? FinishedAt { get; init; }
    public required DateTimeOffset UpdatedAt { get; init; }

    /// <summary>
    /// Until when the current attempt's launch belongs to the one <c>launch</c> that took it (set
    /// with PROVISIONING -> LAUNCHING); while PROVISIONING, until when the launch the sweep published
    /// is awaited. Another launch for the attempt before then does nothing; after it, the launch
    /// is taken to have crashed and may be taken again.
    /// </summary>
    public DateTimeOffset? LaunchLeaseUntil { get; init; }

    /// <summary>
    /// When the current attempt's agents were started on every worker (they then prepare, and
    /// report <c>prepared</c> when the script runs); null before. The sweep ends an attempt still
    /// LAUNCHING <see cref="JobSpec.PrepareTimeoutMinutes"/> after it.
    /// </summary>
    public DateTimeOffset? AgentsStartedAt { get; init; }

    /// <summary>The workers of the current attempt whose agent reported <c>prepared</c> (the script runs there).</summary>
    public IReadOnlyList<int> PreparedWorkers { get; init; } = [];

    /// <summary>
    /// The queued-resource create try of the current attempt, 1 for the first: its request id is
    /// derived from it, so a redelivery of the same try sends the same request and a try after a
    /// failed create sends a new one.
    /// </summary>
    public int ProvisionTry { get; init; }

    /// <summary>Creates of the current attempt refused for quota or capacity (for zone fail-over).</summary>
    public int CapacityRefusals { get; init; }

    /// <summary>Not before this time is the next create try of the current attempt made (backoff after a failed create).</summary>
    public DateTimeOffset? NextProvisionAt { get; init; }

    /// <summary>
    /// When a create of the current attempt was last refused by a rate quota (requests per minute): the next
    /// rate-limited wait doubles the time since, and the provisioning timeout counts from it (docs/back-pressure.md).
    /// </summary>
    public DateTimeOffset? CreateRateLimitedAt { get; init; }

    /// <summary>The long-running operation of the current try's create, <c>projects/P/locations/Z/operations/ID</c>.</summary>
    public string? CreateOperation { get; init; }

    public int PreemptionsSpent { get; init; }
    public int FailuresSpent { get; init; }

    /// <summary>Preemptions in a row in the current zone (for zone fail-over).</summary>
    public int ZonePreemptions { get; init; }

    public int? ExitCode { get; init; }
    public string? LastError { get; init; }

    /// <summary>Opaque revision set by the store; the compare-and-set token.</summary>
    public string Revision { get; init; } = "";

    /// <summary>The provisioned time of each attempt whose TPU was seen ACTIVE, oldest first (<see cref="Cost.JobCost"/> prices it).</summary>
    public IReadOnlyList<BillingEntry> Billing { get; init; } = [];

    /// <summary>Why the job is cancelled (<see cref="CancelReasons"/>): <c>user</c> or <c>budget</c>; null for a job never cancelled.</summary>
    public string? CancelReason { get; init; }
}

/// <summary>The values of <see cref="Job.CancelReason"/>.</summary>
public static class CancelReasons
{
    /// <summary>Someone asked (<c>spotjax cancel</c>, a cancel message).</summary>
    public const string User = "user";

    /// <summary>The sweep found the job's cost at or above its <see cref="JobSpec.MaxCostUsd"/>.</summary>
    public const string Budget = "budget";
}

/// <summary>One transition in <c>jobs/{jobId}/events</c>.</summary>
public sealed record HistoryEntry(DateTimeOffset At, JobState? From, JobState To, int Attempt, string Cause);
