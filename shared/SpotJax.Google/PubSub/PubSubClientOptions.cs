namespace SpotJax.Google.PubSub;

/// <summary>Where the Pub/Sub clients send their calls.</summary>
public sealed record PubSubClientOptions
{
    /// <summary>The Google Cloud project that owns the topics and subscriptions.</summary>
    public required string Project { get; init; }

    /// <summary>The API root: <see cref="GoogleEndpoints.PubSub"/> picks production or the emulator.</summary>
    public Uri BaseUri { get; init; } = GoogleEndpoints.PubSubProductionRoot;
}
