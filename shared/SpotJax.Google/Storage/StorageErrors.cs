using System.Net;
using System.Text.Json;
using System.Text.Json.Serialization;
using SpotJax.Core.Ports;
using LibraryException = global::Google.GoogleApiException;

namespace SpotJax.Google.Storage;

/// <summary>
/// Cloud Storage failures as <see cref="GoogleApiException"/>, so that the step handlers classify them
/// as they classify every other Google API. The JSON API's error envelope has no canonical
/// <c>status</c> name (<c>{"error":{"code":403,"message","errors":[{"domain","reason","message"}]}}</c>),
/// so the name comes from the HTTP code.
/// </summary>
internal static class StorageErrors
{
    private const int MaxBodyChars = 500;

    /// <summary>The canonical code name Cloud Storage means by an HTTP status.</summary>
    public static string StatusName(HttpStatusCode code) => (int)code switch
    {
        400 => "INVALID_ARGUMENT",
        401 => "UNAUTHENTICATED",
        403 => "PERMISSION_DENIED",
        404 => "NOT_FOUND",
        408 => "DEADLINE_EXCEEDED",
        // Cloud Storage answers 409 to concurrent changes of the same resource: worth another try.
        409 => "ABORTED",
        412 => "FAILED_PRECONDITION",
        416 => "OUT_OF_RANGE",
        429 => "RESOURCE_EXHAUSTED",
        500 => "INTERNAL",
        502 or 503 => "UNAVAILABLE",
        504 => "DEADLINE_EXCEEDED",
        _ => "UNKNOWN",
    };

    /// <summary>A failed answer read from its status and body (an envelope, or the text of a proxy's page).</summary>
    public static GoogleApiException FromResponse(HttpStatusCode status, string body, string call)
    {
        ErrorBody? error = null;
        try
        {
            error = JsonSerializer.Deserialize<ErrorEnvelope>(body)?.Error;
        }
        catch (JsonException)
        {
            // Load balancers answer with HTML or plain text; the HTTP code is all there is.
        }

        var message = string.IsNullOrEmpty(error?.Message) ? Truncate(body) : error.Message;
        return new GoogleApiException(status, StatusName(status), $"{call}: {WithReason(message, error?.Errors?.FirstOrDefault()?.Reason)}");
    }

    /// <summary>A failure the client library reported.</summary>
    public static GoogleApiException FromLibrary(LibraryException e, string call)
    {
        var message = string.IsNullOrEmpty(e.Error?.Message) ? e.Message : e.Error.Message;
        return new GoogleApiException(e.HttpStatusCode, StatusName(e.HttpStatusCode), $"{call}: {WithReason(message, e.Error?.Errors?.FirstOrDefault()?.Reason)}");
    }

    /// <summary>No answer at all: the server could not be reached or the connection broke.</summary>
    public static GoogleApiException Unreachable(HttpRequestException e, string call) =>
        new(HttpStatusCode.ServiceUnavailable, "UNAVAILABLE", $"{call}: {e.Message}");

    /// <summary>No answer in time (the HTTP client's own timeout, not the caller's cancellation).</summary>
    public static GoogleApiException TimedOut(string call) =>
        new(HttpStatusCode.GatewayTimeout, "DEADLINE_EXCEEDED", $"{call}: no answer in time");

    private static string WithReason(string message, string? reason) =>
        string.IsNullOrEmpty(reason) ? message : $"{message} [{reason}]";

    private static string Truncate(string body)
    {
        var text = body.Trim();
        return text.Length <= MaxBodyChars ? text : text[..MaxBodyChars] + "...";
    }

    private sealed record ErrorEnvelope
    {
        [JsonPropertyName("error")] public ErrorBody? Error { get; init; }
    }

    private sealed record ErrorBody
    {
        [JsonPropertyName("message")] public string? Message { get; init; }
        [JsonPropertyName("errors")] public IReadOnlyList<ErrorItem>? Errors { get; init; }
    }

    private sealed record ErrorItem
    {
        [JsonPropertyName("reason")] public string? Reason { get; init; }
    }
}
