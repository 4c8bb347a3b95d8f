namespace SpotJax.Local.Messaging;

/// <summary>
/// Delivery settings of <see cref="InProcessMessageBus"/>: the retry policy of a push
/// subscription, plus chaos switches that make the bus as unfriendly as Pub/Sub is allowed to be.
/// </summary>
public sealed record InProcessBusOptions
{
    /// <summary>Wait before the first redelivery of a message whose handler failed.</summary>
    public TimeSpan MinBackoff { get; init; } = TimeSpan.FromMilliseconds(100);

    /// <summary>Upper bound of the backoff, which doubles after every failed delivery.</summary>
    public TimeSpan MaxBackoff { get; init; } = TimeSpan.FromSeconds(2);

    /// <summary>Deliveries tried before a message goes to <see cref="InProcessMessageBus.DeadLetters"/>.</summary>
    public int MaxDeliveryAttempts { get; init; } = 20;

    /// <summary>Handlers running at the same time, over all topics.</summary>
    public int MaxConcurrency { get; init; } = 8;

    /// <summary>
    /// Chance (0..1) that a published message is handed to its handler once more, concurrently or
    /// shortly after, as Pub/Sub does when an acknowledgement is lost. The extra copy's outcome
    /// is counted but does not decide retries: those follow the first copy.
    /// </summary>
    public double DuplicateProbability { get; init; }

    /// <summary>Each delivery is held back a random 0..this long, so that messages arrive out of order.</summary>
    public TimeSpan MaxReorderDelay { get; init; }

    /// <summary>Seed of the random source behind the chaos switches, for repeatable tests.</summary>
    public int? Seed { get; init; }
}
