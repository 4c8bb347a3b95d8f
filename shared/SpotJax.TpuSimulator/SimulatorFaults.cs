using System.Net;
using System.Text.Json.Nodes;

namespace SpotJax.TpuSimulation;

/// <summary>The per-call fault a call gets.</summary>
internal enum CallFault
{
    None,
    RateLimit,
    Unavailable,
    Timeout,
}

/// <summary>The faults in force and their seeded draws; replaced whole at runtime.</summary>
internal sealed class SimulatorFaults(TpuFaults initial)
{
    private readonly Lock _gate = new();
    private TpuFaults _faults = initial;
    private Random _random = new(initial.Seed);

    public TpuFaults Current
    {
        get
        {
            lock (_gate)
            {
                return _faults;
            }
        }
    }

    /// <summary>New faults, and the draws start again from their seed.</summary>
    public void Set(TpuFaults faults)
    {
        ArgumentNullException.ThrowIfNull(faults);
        lock (_gate)
        {
            _faults = faults;
            _random = new Random(faults.Seed);
        }
    }

    /// <summary>The fault of one call to <paramref name="method"/>; a method the faults do not name draws nothing.</summary>
    public CallFault Draw(string method)
    {
        lock (_gate)
        {
            var f = _faults;
            if (f.RateLimitRate + f.UnavailableRate + f.TimeoutRate <= 0 || (f.Methods.Count > 0 && !f.Methods.Contains(method, StringComparer.Ordinal)))
            {
                return CallFault.None;
            }

            var u = _random.NextDouble();
            return u < f.RateLimitRate ? CallFault.RateLimit
                : u < f.RateLimitRate + f.UnavailableRate ? CallFault.Unavailable
                : u < f.RateLimitRate + f.UnavailableRate + f.TimeoutRate ? CallFault.Timeout
                : CallFault.None;
        }
    }

    /// <summary>Whether this create is refused inside its operation.</summary>
    public bool DrawOperationError()
    {
        lock (_gate)
        {
            return _faults.OperationErrorRate > 0 && _random.NextDouble() < _faults.OperationErrorRate;
        }
    }

    /// <summary>
    /// 429 RESOURCE_EXHAUSTED for a rate quota, in the shape Google's APIs use: the standard quota message and an
    /// ErrorInfo with reason <c>RATE_LIMIT_EXCEEDED</c> (google/api/error_reason.proto). The TPU API's own metric
    /// and limit names, and whether it sends <c>Retry-After</c>, are unconfirmed; none is sent.
    /// </summary>
    public static SimulatorApiException RateLimited(string project, string method) => new(
        HttpStatusCode.TooManyRequests,
        "RESOURCE_EXHAUSTED",
        $"Quota exceeded for quota metric '{method} requests' and limit '{method} requests per minute' of service 'tpu.googleapis.com' for consumer 'project_number:{project}'.",
        ErrorInfo("RATE_LIMIT_EXCEEDED", project, "tpu.googleapis.com/qps", $"{method} requests per minute"));

    /// <summary>The injected create error, with an ErrorInfo in the domain <c>googleapis.com</c> when it names a reason.</summary>
    public static SimulatorApiException Refused(TpuApiError error) => new(
        (HttpStatusCode)error.Code,
        error.Status,
        error.Message,
        error.Reason is null
            ? null
            : [new JsonObject { ["@type"] = "type.googleapis.com/google.rpc.ErrorInfo", ["reason"] = error.Reason, ["domain"] = "googleapis.com", ["metadata"] = new JsonObject() }]);

    public static SimulatorApiException Unavailable() =>
        new(HttpStatusCode.ServiceUnavailable, "UNAVAILABLE", "The service is currently unavailable.");

    /// <summary>
    /// 429 RESOURCE_EXHAUSTED for a TPU quota in a zone: the message as the TPU API wrote it in a report
    /// (marin-community/marin#1612, "Quota limit '...' has been exceeded. Limit: 0 in region us-east5."), and an
    /// ErrorInfo with reason <c>RESOURCE_QUOTA_EXCEEDED</c>, which Google documents for allocation quotas
    /// (google/api/error_reason.proto); that the TPU API sends this ErrorInfo is unconfirmed.
    /// </summary>
    public static SimulatorApiException QuotaExceeded(string project, string zone, string acceleratorType, int limit)
    {
        var quota = $"TPU{acceleratorType.Split('-')[0].ToUpperInvariant()}PreemptiblePerProjectPerZoneForTPUAPI";
        return new SimulatorApiException(
            HttpStatusCode.TooManyRequests,
            "RESOURCE_EXHAUSTED",
            $"Quota limit '{quota}' has been exceeded. Limit: {limit} in zone {zone}.",
            ErrorInfo("RESOURCE_QUOTA_EXCEEDED", project, "tpu.googleapis.com/preemptible_tpu_queued_resources", quota));
    }

    private static JsonArray ErrorInfo(string reason, string project, string metric, string limit) =>
    [
        new JsonObject
        {
            ["@type"] = "type.googleapis.com/google.rpc.ErrorInfo",
            ["reason"] = reason,
            ["domain"] = "googleapis.com",
            ["metadata"] = new JsonObject
            {
                ["consumer"] = $"projects/{project}",
                ["service"] = "tpu.googleapis.com",
                ["quota_metric"] = metric,
                ["quota_limit"] = limit,
            },
        },
    ];
}
