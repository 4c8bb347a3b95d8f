using SpotJax.Core.Tpu;

namespace SpotJax.Core.Lifecycle;

/// <summary>What a failed queued-resource create means for the job; decides what happens next.</summary>
public enum ProvisionFailureKind
{
    /// <summary>Not worth a new request: the same call again later (redelivery, or the sweep), never FAILED by itself.</summary>
    Transient,

    /// <summary>The project's TPU quota in the zone (or region) is used up: retried with backoff, then the next zone.</summary>
    Quota,

    /// <summary>The zone has no capacity (a stock-out): retried with backoff, then the next zone.</summary>
    StockOut,

    /// <summary>The control plane may not create it (IAM, credentials, the API or billing off): FAILED at once.</summary>
    Permission,

    /// <summary>The request names something the zone does not have or refuses (type, runtime, zone, network): FAILED at once.</summary>
    InvalidRequest,
}

/// <summary>Where the project, zone and TPU of a create come from, for the fix a failure names.</summary>
public sealed record ProvisionTarget(string Project, string Zone, string AcceleratorType, string RuntimeVersion, string? NodeServiceAccount);

/// <summary>
/// A failed queued-resource create, classified in one place from the canonical code name (the HTTP
/// error envelope's <c>error.status</c>, or the numeric code of a <c>google.rpc.Status</c> in the
/// create operation or in a FAILED queued resource's <c>failedData</c>), the ErrorInfo reason and
/// the message. The classification table is in docs/provisioning-failures.md.
/// </summary>
public sealed record ProvisionFailure(ProvisionFailureKind Kind, string Code, string Message, string? Fix)
{
    private static readonly string[] CanonicalCodes =
    [
        "OK", "CANCELLED", "UNKNOWN", "INVALID_ARGUMENT", "DEADLINE_EXCEEDED", "NOT_FOUND", "ALREADY_EXISTS",
        "PERMISSION_DENIED", "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION", "ABORTED", "OUT_OF_RANGE",
        "UNIMPLEMENTED", "INTERNAL", "UNAVAILABLE", "DATA_LOSS", "UNAUTHENTICATED",
    ];

    /// <summary>Ends the job at once: no retry, in any zone, can fix it.</summary>
    public bool IsPermanent => Kind is ProvisionFailureKind.Permission or ProvisionFailureKind.InvalidRequest;

    /// <summary>The zone cannot supply the TPU now: counts towards moving to the next zone.</summary>
    public bool IsCapacity => Kind is ProvisionFailureKind.Quota or ProvisionFailureKind.StockOut;

    /// <summary>One line for the job's error and history: the API's code and message, then what to fix.</summary>
    public override string ToString() => Fix is null ? $"{Code}: {Message}" : $"{Code}: {Message} Fix: {Fix}";

    /// <summary>A <c>google.rpc.Status</c> (numeric code) from the create operation or <c>failedData.error</c>.</summary>
    public static ProvisionFailure FromStatus(RpcStatus? status, ProvisionTarget target)
    {
        var code = status is { Code: >= 0 } s && s.Code < CanonicalCodes.Length ? CanonicalCodes[s.Code] : "UNKNOWN";
        return Classify(code, status?.Message ?? "no message", status?.Reason, target);
    }

    /// <summary>Classifies by canonical code name (<c>RESOURCE_EXHAUSTED</c>, ...), ErrorInfo reason and message.</summary>
    public static ProvisionFailure Classify(string code, string message, string? reason, ProvisionTarget target)
    {
        var kind = KindOf(code, message, reason);
        return new ProvisionFailure(kind, code, message.Trim(), FixFor(kind, code, message, reason, target));
    }

    private static ProvisionFailureKind KindOf(string code, string message, string? reason)
    {
        // A rate quota (requests per minute) passes by itself; an allocation quota (chips in a zone) does not.
        // Compute-style APIs send quota as 403 with the same reasons, so the reason decides before the code.
        if (reason is "RATE_LIMIT_EXCEEDED" || Says(message, "per minute", "per second", "rate limit"))
        {
            return ProvisionFailureKind.Transient;
        }

        if (reason is "RESOURCE_QUOTA_EXCEEDED" or "QUOTA_EXCEEDED")
        {
            return ProvisionFailureKind.Quota;
        }

        return code switch
        {
            "RESOURCE_EXHAUSTED" when Says(message, "quota") => ProvisionFailureKind.Quota,
            "RESOURCE_EXHAUSTED" when Says(message, "capacity", "stockout", "stock-out", "no more", "exhausted in zone", "resource pool") => ProvisionFailureKind.StockOut,
            "PERMISSION_DENIED" or "UNAUTHENTICATED" => ProvisionFailureKind.Permission,
            "INVALID_ARGUMENT" or "OUT_OF_RANGE" or "NOT_FOUND" or "UNIMPLEMENTED" => ProvisionFailureKind.InvalidRequest,
            // Google's guidance for FAILED_PRECONDITION: do not retry until the state is fixed
            // (an API or billing off, a network that does not allow it); no backoff fixes that.
            "FAILED_PRECONDITION" => ProvisionFailureKind.InvalidRequest,
            _ => ProvisionFailureKind.Transient,
        };
    }

    private static string? FixFor(ProvisionFailureKind kind, string code, string message, string? reason, ProvisionTarget t)
    {
        if (kind is ProvisionFailureKind.Transient or ProvisionFailureKind.StockOut)
        {
            return null;
        }

        if (reason is "SERVICE_DISABLED" || Says(message, "has not been used in project", "api is disabled", "it is disabled", "not been enabled"))
        {
            return $"enable the Cloud TPU API in project {t.Project} (gcloud services enable tpu.googleapis.com --project {t.Project}), wait a few minutes, then submit again.";
        }

        if (reason is "BILLING_DISABLED" || Says(message, "billing"))
        {
            return $"enable billing on project {t.Project}, then submit again.";
        }

        return kind switch
        {
            ProvisionFailureKind.Quota =>
                $"request more Spot TPU quota for {t.AcceleratorType} in {t.Zone} (IAM & Admin > Quotas, service tpu.googleapis.com), or list more zones in tpu.zones.",
            ProvisionFailureKind.Permission when code == "UNAUTHENTICATED" =>
                "the control plane's credentials were refused: check that the provision function's service account exists and is enabled.",
            ProvisionFailureKind.Permission =>
                "grant the provision function's service account roles/tpu.admin on project " + t.Project +
                (t.NodeServiceAccount is { Length: > 0 } node ? $" and roles/iam.serviceAccountUser on the TPU VMs' service account {node}" : "") +
                " (terraform apply in infra/ grants both), then submit again.",
            ProvisionFailureKind.InvalidRequest when code == "FAILED_PRECONDITION" =>
                $"the project is not ready for this request (the message names what: an API, billing, the network or subnetwork); fix that in project {t.Project}, then submit again.",
            ProvisionFailureKind.InvalidRequest =>
                $"check tpu.type ({t.AcceleratorType}), tpu.runtimeVersion ({t.RuntimeVersion}) and the zone ({t.Zone}): " +
                $"gcloud compute tpus accelerator-types list --zone {t.Zone} and gcloud compute tpus versions list --zone {t.Zone} list what the zone offers.",
            _ => null,
        };
    }

    private static bool Says(string message, params string[] words) =>
        words.Any(w => message.Contains(w, StringComparison.OrdinalIgnoreCase));
}
