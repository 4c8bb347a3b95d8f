namespace SpotJax.Google.Http;

/// <summary>The resilience settings every Google REST client shares.</summary>
public sealed record GoogleApiOptions
{
    /// <summary>The longest one call may take, retries included.</summary>
    public TimeSpan Deadline { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>The longest one HTTP attempt may take.</summary>
    public TimeSpan AttemptTimeout { get; init; } = TimeSpan.FromSeconds(20);

    /// <summary>Retries after the first attempt, for idempotent calls.</summary>
    public int MaxRetries { get; init; } = 4;

    /// <summary>The first backoff; it doubles, with jitter, up to <see cref="MaxDelay"/>.</summary>
    public TimeSpan BaseDelay { get; init; } = TimeSpan.FromMilliseconds(200);

    public TimeSpan MaxDelay { get; init; } = TimeSpan.FromSeconds(10);
}
