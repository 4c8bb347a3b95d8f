using System.Net;
using System.Text.Json.Nodes;

namespace SpotJax.TpuSimulation;

/// <summary>A call the simulator refuses; rendered as the REST error envelope.</summary>
internal sealed class SimulatorApiException(HttpStatusCode httpStatus, string status, string detail, JsonArray? details = null) : Exception(detail)
{
    /// <summary>The envelope's <c>details</c> (ErrorInfo and the like), when the error has any.</summary>
    public JsonArray? Details { get; } = details;

    public HttpStatusCode HttpStatus { get; } = httpStatus;

    /// <summary>Sent as the <c>Retry-After</c> header (whole seconds) when set.</summary>
    public TimeSpan? RetryAfter { get; init; }

    /// <summary>Canonical code name for the envelope's <c>status</c>.</summary>
    public string Status { get; } = status;

    public static SimulatorApiException NotFound(string what) => new(HttpStatusCode.NotFound, "NOT_FOUND", $"Resource '{what}' was not found.");

    public static SimulatorApiException InvalidArgument(string detail) => new(HttpStatusCode.BadRequest, "INVALID_ARGUMENT", detail);

    public static SimulatorApiException FailedPrecondition(string detail) => new(HttpStatusCode.BadRequest, "FAILED_PRECONDITION", detail);

    public static SimulatorApiException AlreadyExists(string what) => new(HttpStatusCode.Conflict, "ALREADY_EXISTS", $"Resource '{what}' already exists.");
}
