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

    /// <summary>The <c>retryDelay</c> of the first <c>google.rpc.RetryInfo</c> detail, when it is a readable duration.</summary>
    public TimeSpan? RetryDelay =>
        Details?.FirstOrDefault(d => d.Type == ErrorDetail.RetryInfoType)?.RetryDelay is { } delay && ProtoDuration.TryParse(delay, out var value) ? value : null;
}

internal sealed record ErrorDetail
{
    public const string ErrorInfoType = "type.googleapis.com/google.rpc.ErrorInfo";
    public const string RetryInfoType = "type.googleapis.com/google.rpc.RetryInfo";

    [JsonPropertyName("@type")] public string? Type { get; init; }
    [JsonPropertyName("reason")] public string? Reason { get; init; }

    /// <summary>RetryInfo's <c>retryDelay</c>, a protobuf Duration in its JSON form (<c>"12s"</c>, <c>"1.5s"</c>).</summary>
    [JsonPropertyName("retryDelay")] public string? RetryDelay { get; init; }
}

/// <summary>The JSON form of <c>google.protobuf.Duration</c>: seconds with up to nine decimals and the suffix <c>s</c>.</summary>
internal static class ProtoDuration
{
    public static bool TryParse(string text, out TimeSpan value)
    {
        value = TimeSpan.Zero;
        if (!text.EndsWith('s') ||
            !decimal.TryParse(text.AsSpan(0, text.Length - 1), System.Globalization.NumberStyles.AllowDecimalPoint, System.Globalization.CultureInfo.InvariantCulture, out var seconds) ||
            seconds > (decimal)TimeSpan.MaxValue.TotalSeconds / 2)
        {
            return false;
        }

        value = TimeSpan.FromTicks((long)(seconds * TimeSpan.TicksPerSecond));
        return true;
    }
}
