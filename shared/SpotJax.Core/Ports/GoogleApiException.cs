using System.Net;

namespace SpotJax.Core.Ports;

/// <summary>
/// A failed Google API call, classified by the canonical <c>error.status</c> name of the REST error
/// envelope (not by the HTTP code: 409 is both ALREADY_EXISTS and ABORTED).
/// </summary>
public sealed class GoogleApiException : Exception
{
    public GoogleApiException(HttpStatusCode httpStatus, string status, string message, string? reason = null)
        : base($"{status} ({(int)httpStatus}): {message}")
    {
        HttpStatus = httpStatus;
        Status = status;
        ApiMessage = message;
        Reason = reason;
    }

    public HttpStatusCode HttpStatus { get; }

    /// <summary>Canonical code name: <c>NOT_FOUND</c>, <c>ALREADY_EXISTS</c>, <c>UNAVAILABLE</c>, ...</summary>
    public string Status { get; }

    /// <summary>The envelope's <c>error.message</c> alone, as the API wrote it.</summary>
    public string ApiMessage { get; }

    /// <summary>
    /// The <c>reason</c> of the envelope's <c>google.rpc.ErrorInfo</c> detail, when it has one:
    /// <c>RATE_LIMIT_EXCEEDED</c>, <c>RESOURCE_QUOTA_EXCEEDED</c>, <c>SERVICE_DISABLED</c>, ... (google/api/error_reason.proto).
    /// </summary>
    public string? Reason { get; }

    /// <summary>
    /// How long the server asked the caller to wait before the same call again: the larger of the
    /// <c>Retry-After</c> header and a <c>google.rpc.RetryInfo</c> detail's <c>retryDelay</c>; null when it named none.
    /// </summary>
    public TimeSpan? RetryAfter { get; init; }

    /// <summary>True for errors worth retrying the same call (or the read-modify-write) later.</summary>
    public bool IsTransient => Status is "UNAVAILABLE" or "RESOURCE_EXHAUSTED" or "DEADLINE_EXCEEDED"
        or "INTERNAL" or "UNKNOWN" or "ABORTED" or "UNAUTHENTICATED";
}
