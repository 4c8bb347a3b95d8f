using System.Net;
using System.Text.Json;
using SpotJax.Core.Ports;
using SpotJax.Google.Http;

namespace SpotJax.Google.PubSub;

/// <summary>
/// Publishes through Pub/Sub's REST <c>topics.publish</c>. Publishing is retried on transient
/// errors like any idempotent call: a retry after a lost answer may publish a message twice, which
/// at-least-once delivery already obliges every subscriber to tolerate.
/// </summary>
public sealed class PubSubPublisher : IMessageBus
{
    /// <summary>Pub/Sub's limit on messages in one publish request.</summary>
    public const int MaxMessagesPerRequest = 1000;

    /// <summary>Pub/Sub's limit on the size of one publish request (10 MB), counted on the JSON as sent.</summary>
    public const int MaxRequestBytes = 10_000_000;

    // {"messages":[ ... ]}
    private const int RequestOverheadBytes = 15;

    private readonly GoogleApiTransport _transport;
    private readonly PubSubPaths _paths;

    /// <summary>A publisher for one project's topics; it sends nothing until called.</summary>
    public PubSubPublisher(GoogleApiTransport transport, PubSubClientOptions options)
    {
        ArgumentNullException.ThrowIfNull(transport);
        _transport = transport;
        _paths = new PubSubPaths(options);
    }

    /// <inheritdoc />
    public async Task<string> PublishAsync(string topic, OutgoingMessage message, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(message);
        var ids = await PublishBatchAsync(topic, [message], cancellationToken);
        return ids[0];
    }

    /// <summary>
    /// Publishes many messages in as few calls as Pub/Sub's limits allow (1000 messages and 10 MB
    /// per call), in order, and returns their ids in the same order. A message too large to share
    /// a call goes alone, and Pub/Sub's answer to it is the caller's.
    /// </summary>
    /// <exception cref="GoogleApiException">A call failed; the messages of earlier calls were published.</exception>
    public async Task<IReadOnlyList<string>> PublishBatchAsync(string topic, IReadOnlyList<OutgoingMessage> messages, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(messages);
        var uri = _paths.Uri(_paths.Topic(topic), "publish");
        var ids = new List<string>(messages.Count);
        foreach (var chunk in Chunks(messages.Select(ToWire)))
        {
            var answer = await _transport.SendJsonAsync<PublishResponse>(HttpMethod.Post, uri, new PublishRequest(chunk), idempotent: true, cancellationToken);
            if (answer.MessageIds is not { } chunkIds || chunkIds.Count != chunk.Count)
            {
                throw new GoogleApiException(HttpStatusCode.OK, "UNKNOWN", $"POST {uri}: {answer.MessageIds?.Count ?? 0} message ids for {chunk.Count} messages");
            }

            ids.AddRange(chunkIds);
        }

        return ids;
    }

    /// <summary>Splits the messages into requests within <see cref="MaxMessagesPerRequest"/> and <see cref="MaxRequestBytes"/>.</summary>
    internal static IEnumerable<IReadOnlyList<WireOutgoingMessage>> Chunks(IEnumerable<WireOutgoingMessage> messages)
    {
        var chunk = new List<WireOutgoingMessage>();
        var bytes = RequestOverheadBytes;
        foreach (var message in messages)
        {
            var size = Size(message);
            if (chunk.Count > 0 && (chunk.Count == MaxMessagesPerRequest || bytes + size > MaxRequestBytes))
            {
                yield return chunk;
                chunk = [];
                bytes = RequestOverheadBytes;
            }

            chunk.Add(message);
            bytes += size;
        }

        if (chunk.Count > 0)
        {
            yield return chunk;
        }
    }

    internal static WireOutgoingMessage ToWire(OutgoingMessage message)
    {
        ArgumentNullException.ThrowIfNull(message);
        return new WireOutgoingMessage
        {
            Data = message.Data.Length == 0 ? null : Convert.ToBase64String(message.Data),
            Attributes = message.Attributes.Count == 0 ? null : message.Attributes,
        };
    }

    // Measured, not estimated: the serializer escapes the base64 '+' and any non-ASCII attribute text as \uXXXX.
    // The extra byte is the comma between messages.
    private static int Size(WireOutgoingMessage message) => JsonSerializer.SerializeToUtf8Bytes(message, GoogleJson.Options).Length + 1;
}
