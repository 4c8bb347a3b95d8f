using System.Text.Json.Serialization;
using SpotJax.Core.Tpu;

namespace SpotJax.Google.Tpu;

/// <summary>One page of <c>queuedResources.list</c>.</summary>
internal sealed record QueuedResourcePage
{
    [JsonPropertyName("queuedResources")] public IReadOnlyList<QueuedResource>? QueuedResources { get; init; }
    [JsonPropertyName("nextPageToken")] public string? NextPageToken { get; init; }
}

/// <summary>The REST error envelope, <c>{"error":{"code","message","status"}}</c>.</summary>
internal sealed record ErrorEnvelope
{
    [JsonPropertyName("error")] public ErrorBody? Error { get; init; }
}

internal sealed record ErrorBody
{
    /// <summary>The HTTP status number (not the gRPC code).</summary>
    [JsonPropertyName("code")] public int Code { get; init; }
    [JsonPropertyName("message")] public string? Message { get; init; }
    [JsonPropertyName("status")] public string? Status { get; init; }
}
