namespace SpotJax.Google.PubSub;

/// <summary>How a <see cref="PubSubPuller"/> pulls and how many messages it handles at once.</summary>
public sealed record PubSubPullerOptions
{
    /// <summary>
    /// Handlers running at once. A pull asks for no more messages than there are free handlers,
    /// so no message waits in memory while its ack deadline runs.
    /// </summary>
    public int MaxConcurrency { get; init; } = 8;

    /// <summary>
    /// True (the default): every pull answers at once, and an empty answer is followed by a pause
    /// growing from <see cref="MinIdleDelay"/> to <see cref="MaxIdleDelay"/>. False: a long poll that
    /// the server holds until messages arrive, cut by the transport's
    /// <see cref="Http.GoogleApiOptions.AttemptTimeout"/>. Prefer true against the emulator: it holds
    /// an empty pull for about 90 s and, when the client gives up on it, still hands it the next
    /// message, which then waits out its ack deadline before anyone sees it.
    /// </summary>
    public bool ReturnImmediately { get; init; } = true;

    /// <summary>The pause after the first empty pull; it doubles up to <see cref="MaxIdleDelay"/> and resets when a message arrives.</summary>
    public TimeSpan MinIdleDelay { get; init; } = TimeSpan.FromMilliseconds(25);

    /// <summary>The longest pause between empty pulls: the worst added latency on an idle subscription.</summary>
    public TimeSpan MaxIdleDelay { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>The pause after a failed pull (the transport has already retried transient errors).</summary>
    public TimeSpan ErrorDelay { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>
    /// How long stopping waits for a short pull already sent, so that what it brings is nacked rather
    /// than left to its ack deadline; past it the pull is abandoned. Long polls are abandoned at once.
    /// </summary>
    public TimeSpan StopGrace { get; init; } = TimeSpan.FromSeconds(10);
}
