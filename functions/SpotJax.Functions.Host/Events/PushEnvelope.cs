using System.Text.Json.Serialization;

namespace SpotJax.Functions.Host.Events;

/// <summary>
/// A plain Pub/Sub push body, and the data of an Eventarc <c>messagePublished</c> event: the same
/// shape (<c>{"message": {...}, "subscription": "..."}</c>).
/// </summary>
internal sealed record PushEnvelope
{
    [JsonPropertyName("message")] public PushMessage? Message { get; init; }
    [JsonPropertyName("subscription")] public string? Subscription { get; init; }
}

internal sealed record PushMessage
{
    [JsonPropertyName("data")] public string? Data { get; init; }
    [JsonPropertyName("attributes")] public Dictionary<string, string>? Attributes { get; init; }
    [JsonPropertyName("messageId")] public string? MessageId { get; init; }

    /// <summary>Pub/Sub push sends the snake_case spelling too; either may be the only one present.</summary>
    [JsonPropertyName("message_id")] public string? MessageIdSnake { get; init; }

    [JsonPropertyName("publishTime")] public DateTimeOffset? PublishTime { get; init; }
    [JsonPropertyName("publish_time")] public DateTimeOffset? PublishTimeSnake { get; init; }
}
