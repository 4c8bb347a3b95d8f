namespace SpotJax.Google.PubSub;

/// <summary>A subscription to create: pull by default, push when <see cref="PushEndpoint"/> is set.</summary>
public sealed record SubscriptionSpec
{
    /// <summary>The subscription id (not the full resource name).</summary>
    public required string Name { get; init; }

    /// <summary>The topic id it receives from.</summary>
    public required string Topic { get; init; }

    /// <summary>How long a delivery may stay unacknowledged (10 to 600 s); for push also the request timeout.</summary>
    public int AckDeadlineSeconds { get; init; } = 60;

    /// <summary>Where Pub/Sub pushes messages; null for a pull subscription.</summary>
    public Uri? PushEndpoint { get; init; }

    /// <summary>The service account whose OIDC token signs each push; null for unauthenticated pushes (the emulator ignores it).</summary>
    public string? PushServiceAccount { get; init; }

    /// <summary>The OIDC token's audience; Pub/Sub uses the push endpoint when null.</summary>
    public string? PushAudience { get; init; }

    /// <summary>
    /// The redelivery backoff after a nack, from <see cref="MinimumBackoff"/> growing to
    /// <see cref="MaximumBackoff"/> (each 0 to 600 s); both null means redeliver at once.
    /// </summary>
    public TimeSpan? MinimumBackoff { get; init; }

    /// <inheritdoc cref="MinimumBackoff"/>
    public TimeSpan? MaximumBackoff { get; init; }

    /// <summary>The topic id that receives messages after <see cref="MaxDeliveryAttempts"/>; null for none.</summary>
    public string? DeadLetterTopic { get; init; }

    /// <summary>Deliveries before dead-lettering (5 to 100); only with <see cref="DeadLetterTopic"/>.</summary>
    public int MaxDeliveryAttempts { get; init; } = 5;
}
