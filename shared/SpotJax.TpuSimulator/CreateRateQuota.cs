using System.Globalization;
using System.Net;
using System.Text.Json.Nodes;

namespace SpotJax.TpuSimulation;

/// <summary>
/// The per-project rate quota on <c>queuedResources.create</c> (<see cref="TpuFaults.CreatesPerMinute"/>): a
/// sliding window of the creates admitted, and the 429 for a create beyond it. Caller holds the state's gate.
/// </summary>
internal sealed class CreateRateQuota
{
    private readonly Dictionary<string, Queue<DateTimeOffset>> _admitted = new(StringComparer.Ordinal);

    /// <summary>Creates refused so far for the rate quota.</summary>
    public int Refused { get; private set; }

    /// <summary>Counts one create of <paramref name="project"/> at <paramref name="now"/>, or throws the rate-limit answer.</summary>
    public void Admit(TpuFaults faults, string project, DateTimeOffset now)
    {
        if (faults.CreatesPerMinute is not { } limit)
        {
            return;
        }

        if (!_admitted.TryGetValue(project, out var window))
        {
            window = new Queue<DateTimeOffset>();
            _admitted[project] = window;
        }

        while (window.TryPeek(out var oldest) && now - oldest >= faults.CreateQuotaWindow)
        {
            window.Dequeue();
        }

        if (window.Count >= Math.Max(limit, 0))
        {
            Refused++;
            var freeAt = window.TryPeek(out var first) ? first + faults.CreateQuotaWindow : now + faults.CreateQuotaWindow;
            throw RateLimited(project, limit, faults.CreateQuotaWindow, freeAt - now);
        }

        window.Enqueue(now);
    }

    /// <summary>
    /// 429 RESOURCE_EXHAUSTED in the shape Google's APIs give a rate quota: the standard quota message, an ErrorInfo
    /// with reason <c>RATE_LIMIT_EXCEEDED</c> (google/api/error_reason.proto) and a <c>google.rpc.RetryInfo</c>
    /// (google/rpc/error_details.proto), plus <c>Retry-After</c> in whole seconds, rounded up (RFC 9110 §10.2.3).
    /// Whether the real TPU API sends RetryInfo or Retry-After is unconfirmed (docs/back-pressure.md).
    /// </summary>
    private static SimulatorApiException RateLimited(string project, int limit, TimeSpan window, TimeSpan wait)
    {
        var seconds = Math.Max(1, (long)Math.Ceiling(wait.TotalSeconds));
        var perWindow = window == TimeSpan.FromMinutes(1) ? "per minute" : $"per {window.TotalSeconds.ToString(CultureInfo.InvariantCulture)} s";
        var limitName = $"CreateQueuedResource requests {perWindow} per project";
        return new SimulatorApiException(
            HttpStatusCode.TooManyRequests,
            "RESOURCE_EXHAUSTED",
            $"Quota exceeded for quota metric 'CreateQueuedResource requests' and limit '{limitName}' of service 'tpu.googleapis.com' for consumer 'project_number:{project}'.",
            [
                new JsonObject
                {
                    ["@type"] = "type.googleapis.com/google.rpc.ErrorInfo",
                    ["reason"] = "RATE_LIMIT_EXCEEDED",
                    ["domain"] = "googleapis.com",
                    ["metadata"] = new JsonObject
                    {
                        ["consumer"] = $"projects/{project}",
                        ["service"] = "tpu.googleapis.com",
                        ["quota_metric"] = "tpu.googleapis.com/qps/create",
                        ["quota_limit"] = limitName,
                        ["quota_limit_value"] = limit.ToString(CultureInfo.InvariantCulture),
                    },
                },
                new JsonObject
                {
                    ["@type"] = "type.googleapis.com/google.rpc.RetryInfo",
                    ["retryDelay"] = string.Create(CultureInfo.InvariantCulture, $"{seconds}s"),
                },
            ])
        {
            RetryAfter = TimeSpan.FromSeconds(seconds),
        };
    }
}
