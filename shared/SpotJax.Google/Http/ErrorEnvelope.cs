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

    /// <summary>Typed details; only <c>google.rpc.ErrorInfo</c>'s <c>reason</c> is read.</summary>
    [JsonPropertyName("details")] public IReadOnlyList<ErrorDetail>? Details { get; init; }

    /// <summary>The <c>reason</c> of the first <c>google.rpc.ErrorInfo</c> detail.</summary>
    public string? Reason => Details?.FirstOrDefault(d => d.Type == ErrorDetail.ErrorInfoType)?.Reason;
}

internal sealed record ErrorDetail
{
    public const string ErrorInfoType = "type.googleapis.com/google.rpc.ErrorInfo";

    [JsonPropertyName("@type")] public string? Type { get; init; }
    [JsonPropertyName("reason")] public string? Reason { get; init; }
}
