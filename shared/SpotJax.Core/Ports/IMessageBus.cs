namespace SpotJax.Core.Ports;

/// <summary>Publishes messages to a topic (Pub/Sub in production, an in-process bus locally).</summary>
public interface IMessageBus
{
    /// <summary>Publishes and returns the message id the bus assigned.</summary>
    Task<string> PublishAsync(string topic, OutgoingMessage message, CancellationToken cancellationToken);
}

public sealed record OutgoingMessage(byte[] Data, IReadOnlyDictionary<string, string> Attributes)
{
    public static OutgoingMessage FromText(string text) =>
        new(System.Text.Encoding.UTF8.GetBytes(text), new Dictionary<string, string>());
}

/// <summary>A delivered message, as a Pub/Sub push or pull hands it over.</summary>
public sealed record PubSubMessage(
    string MessageId,
    byte[] Data,
    IReadOnlyDictionary<string, string> Attributes,
    DateTimeOffset PublishTime)
{
    /// <summary>
    /// Which delivery of the message this is, counting from 1; Pub/Sub reports it only for a
    /// subscription with a dead-letter policy, so null means unknown, not first.
    /// </summary>
    public int? DeliveryAttempt { get; init; }
}
