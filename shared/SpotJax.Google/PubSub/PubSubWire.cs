using System.Text.Json.Serialization;

namespace SpotJax.Google.PubSub;

// The Pub/Sub REST shapes of gcp-contracts.md section 2, as they cross the wire.

internal sealed record PublishRequest([property: JsonPropertyName("messages")] IReadOnlyList<WireOutgoingMessage> Messages);

internal sealed record WireOutgoingMessage
{
    /// <summary>Base64; omitted when empty (a message may carry attributes only).</summary>
    [JsonPropertyName("data")] public string? Data { get; init; }

    [JsonPropertyName("attributes")] public IReadOnlyDictionary<string, string>? Attributes { get; init; }
}

internal sealed record PublishResponse
{
    [JsonPropertyName("messageIds")] public IReadOnlyList<string>? MessageIds { get; init; }
}

internal sealed record PullRequest
{
    [JsonPropertyName("maxMessages")] public int MaxMessages { get; init; }

    [JsonPropertyName("returnImmediately")] public bool ReturnImmediately { get; init; }
}

internal sealed record PullResponse
{
    [JsonPropertyName("receivedMessages")] public IReadOnlyList<WireReceivedMessage>? ReceivedMessages { get; init; }
}

internal sealed record WireReceivedMessage
{
    [JsonPropertyName("ackId")] public string? AckId { get; init; }

    [JsonPropertyName("message")] public WireMessage? Message { get; init; }

    /// <summary>Present only when the subscription has a dead-letter policy.</summary>
    [JsonPropertyName("deliveryAttempt")] public int? DeliveryAttempt { get; init; }
}

internal sealed record WireMessage
{
    [JsonPropertyName("data")] public string? Data { get; init; }

    [JsonPropertyName("attributes")] public Dictionary<string, string>? Attributes { get; init; }

    [JsonPropertyName("messageId")] public string? MessageId { get; init; }

    [JsonPropertyName("publishTime")] public DateTimeOffset? PublishTime { get; init; }
}

internal sealed record AcknowledgeRequest([property: JsonPropertyName("ackIds")] IReadOnlyList<string> AckIds);

internal sealed record ModifyAckDeadlineRequest(
    [property: JsonPropertyName("ackIds")] IReadOnlyList<string> AckIds,
    [property: JsonPropertyName("ackDeadlineSeconds")] int AckDeadlineSeconds);

internal sealed record TopicResource
{
    [JsonPropertyName("name")] public string? Name { get; init; }
}

internal sealed record SubscriptionResource
{
    [JsonPropertyName("topic")] public required string Topic { get; init; }

    [JsonPropertyName("pushConfig")] public PushConfigResource? PushConfig { get; init; }

    [JsonPropertyName("ackDeadlineSeconds")] public int? AckDeadlineSeconds { get; init; }

    [JsonPropertyName("retryPolicy")] public RetryPolicyResource? RetryPolicy { get; init; }

    [JsonPropertyName("deadLetterPolicy")] public DeadLetterPolicyResource? DeadLetterPolicy { get; init; }
}

internal sealed record PushConfigResource
{
    [JsonPropertyName("pushEndpoint")] public required string PushEndpoint { get; init; }

    [JsonPropertyName("oidcToken")] public OidcTokenResource? OidcToken { get; init; }
}

internal sealed record OidcTokenResource
{
    [JsonPropertyName("serviceAccountEmail")] public required string ServiceAccountEmail { get; init; }

    [JsonPropertyName("audience")] public string? Audience { get; init; }
}

internal sealed record RetryPolicyResource
{
    [JsonPropertyName("minimumBackoff")] public string? MinimumBackoff { get; init; }

    [JsonPropertyName("maximumBackoff")] public string? MaximumBackoff { get; init; }
}

internal sealed record DeadLetterPolicyResource
{
    [JsonPropertyName("deadLetterTopic")] public required string DeadLetterTopic { get; init; }

    [JsonPropertyName("maxDeliveryAttempts")] public int MaxDeliveryAttempts { get; init; }
}
