namespace SpotJax.Core.Lifecycle;

/// <summary>Deployment-wide lifecycle settings (the per-job ones live in the job spec).</summary>
public sealed record LifecycleOptions
{
    /// <summary>Backoff before the first retry; doubles with every attempt spent.</summary>
    public TimeSpan BackoffBase { get; init; } = TimeSpan.FromSeconds(30);

    public TimeSpan BackoffMax { get; init; } = TimeSpan.FromMinutes(10);

    /// <summary>Preemptions in a row in one zone after which the next attempt moves to the next zone.</summary>
    public int ZoneFailoverAfterPreemptions { get; init; } = 3;

    /// <summary>A step that made no progress for this long is published again by the sweep.</summary>
    public TimeSpan StuckAfter { get; init; } = TimeSpan.FromMinutes(5);

    /// <summary>
    /// How long a launch holds its attempt: the <c>launch</c> function's 5-minute request timeout
    /// (it only starts the agents; they prepare on their own) plus a margin, so a launch still
    /// running is never taken for a crashed one.
    /// </summary>
    public TimeSpan LaunchLease { get; init; } = TimeSpan.FromMinutes(6);
}
