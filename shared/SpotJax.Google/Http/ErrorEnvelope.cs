using System.Text.Json.Serialization;

namespace SpotJax.Google.Http;

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
