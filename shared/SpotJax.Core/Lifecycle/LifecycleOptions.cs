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

    /// <summary>Backoff before the second create try of an attempt; doubles with every try, up to <see cref="ProvisionBackoffMax"/>.</summary>
    public TimeSpan ProvisionBackoffBase { get; init; } = TimeSpan.FromSeconds(30);

    public TimeSpan ProvisionBackoffMax { get; init; } = TimeSpan.FromMinutes(8);

    /// <summary>
    /// The share of a create backoff that is random (0: none, 1: all of it), so that jobs refused together
    /// do not all come back at the same moment.
    /// </summary>
    public double ProvisionJitter { get; init; } = 0.5;

    /// <summary>
    /// The longest wait after a rate-limited create (before its jitter and any longer Retry-After). Shorter than
    /// <see cref="ProvisionBackoffMax"/>: a rate quota refills every minute, so a job that waits much longer than a
    /// few minutes leaves quota unused while it waits (the back-pressure benchmark's tail, docs/back-pressure.md).
    /// </summary>
    public TimeSpan RateLimitBackoffMax { get; init; } = TimeSpan.FromMinutes(2);

    /// <summary>The random source of the jitter, a number in [0, 1); tests give a fixed one.</summary>
    public Func<double> JitterSample { get; init; } = Random.Shared.NextDouble;

    /// <summary>Creates refused for quota or capacity in one zone after which the attempt moves to the next zone (with several zones).</summary>
    public int CapacityRefusalsPerZone { get; init; } = 3;

    /// <summary>
    /// How long a queued resource may wait in WAITING_FOR_RESOURCES in one zone before the attempt moves to the
    /// next zone (with several zones; with one, it waits until the provisioning timeout).
    /// </summary>
    public TimeSpan ZoneCapacityWait { get; init; } = TimeSpan.FromMinutes(30);

    /// <summary>
    /// These settings with every wait divided by <paramref name="divisor"/>, for a deployment on one machine where a
    /// minute is long (<see cref="ScaledBy"/>).
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="divisor"/> is below 1.</exception>
    public LifecycleOptions DividedBy(int divisor)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(divisor, 1);
        return ScaledBy(1.0 / divisor);
    }

    /// <summary>
    /// These settings with every wait (backoffs and their maxima, the rate-limit wait, the stuck threshold, the launch
    /// lease, the zone capacity wait) multiplied by <paramref name="factor"/>; counts and the jitter stay.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="factor"/> is not above 0.</exception>
    public LifecycleOptions ScaledBy(double factor)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(factor);
        return this with
        {
            BackoffBase = BackoffBase * factor,
            BackoffMax = BackoffMax * factor,
            StuckAfter = StuckAfter * factor,
            LaunchLease = LaunchLease * factor,
            ProvisionBackoffBase = ProvisionBackoffBase * factor,
            ProvisionBackoffMax = ProvisionBackoffMax * factor,
            RateLimitBackoffMax = RateLimitBackoffMax * factor,
            ZoneCapacityWait = ZoneCapacityWait * factor,
        };
    }
}
