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
    DateTimeOffset PublishTime);
