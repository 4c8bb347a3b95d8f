namespace SpotJax.TpuSimulation;

/// <summary>
/// Faults the <see cref="TpuSimulator"/> injects into its TPU API, for tests and benchmarks. Deterministic:
/// the draws come from <see cref="Seed"/>, one per call in arrival order, so the same seed and the same
/// sequence of calls give the same faults. Set at start (<see cref="TpuSimulatorOptions.Faults"/>) and at
/// runtime (<see cref="TpuSimulator.SetFaults"/>, or <c>PUT simulator/v1/faults</c> with this record as JSON).
/// </summary>
public sealed record TpuFaults
{
    public int Seed { get; init; }

    /// <summary>
    /// The methods the per-call faults hit, named as the API names them: <c>queuedResources.create</c>,
    /// <c>queuedResources.get</c>, <c>queuedResources.list</c>, <c>queuedResources.delete</c>, <c>nodes.get</c>,
    /// <c>nodes.list</c>, <c>operations.get</c>; empty: every method.
    /// </summary>
    public IReadOnlyList<string> Methods { get; init; } = [];

    /// <summary>Share of calls answered 429 RESOURCE_EXHAUSTED with a rate-limit ErrorInfo (<c>RATE_LIMIT_EXCEEDED</c>).</summary>
    public double RateLimitRate { get; init; }

    /// <summary>Share of calls answered 503 UNAVAILABLE.</summary>
    public double UnavailableRate { get; init; }

    /// <summary>Share of calls held without an answer until the client gives up (or the simulator stops).</summary>
    public double TimeoutRate { get; init; }

    /// <summary>Whether a call that times out was carried out first (only its answer is lost) or never reached the service.</summary>
    public bool TimeoutAfterApplying { get; init; }

    /// <summary>
    /// Share of creates whose HTTP call succeeds but whose operation is done at once with
    /// <see cref="OperationErrorCode"/> and <see cref="OperationErrorMessage"/>.
    /// </summary>
    public double OperationErrorRate { get; init; }

    /// <summary>The numeric gRPC code of the operation's error; 8 (RESOURCE_EXHAUSTED) by default.</summary>
    public int OperationErrorCode { get; init; } = 8;

    /// <summary>The operation error's message; by default the stock-out message seen on real TPU creates.</summary>
    public string OperationErrorMessage { get; init; } =
        "There is no more capacity in the zone; you can try in another zone where Cloud TPU Nodes are offered (see https://cloud.google.com/tpu/docs/regions)";

    /// <summary>
    /// Whether a create refused inside its operation leaves a queued resource in FAILED, its <c>failedData.error</c>
    /// the operation's error; otherwise nothing is left. Which one the real API does is unconfirmed.
    /// </summary>
    public bool OperationErrorLeavesFailedQueuedResource { get; init; }

    /// <summary>
    /// Quota per zone: the most queued resources (in any state but being deleted, FAILED and SUSPENDED ones
    /// included, as they hold quota) the project may hold in the zone; a create beyond it is answered 429
    /// RESOURCE_EXHAUSTED with a quota message and a <c>RESOURCE_QUOTA_EXCEEDED</c> ErrorInfo.
    /// </summary>
    public IReadOnlyDictionary<string, int> QueuedResourceQuota { get; init; } = new Dictionary<string, int>();

    /// <summary>
    /// The rate quota on <c>queuedResources.create</c>: the most create calls the project may make in any
    /// <see cref="CreateQuotaWindow"/> (a sliding window); null: no limit. A call beyond it is answered 429
    /// RESOURCE_EXHAUSTED with a <c>RATE_LIMIT_EXCEEDED</c> ErrorInfo, a <c>google.rpc.RetryInfo</c> and a
    /// <c>Retry-After</c> header, both naming when the oldest call in the window leaves it. Per project, not per
    /// zone: Google's rate quotas are counted per consumer project (the ErrorInfo's <c>consumer</c>), and the one
    /// reported for TPU creates ("Maximum number of CreateNode requests per minute") names no zone; whether the
    /// real one is also split by region is unconfirmed. Every create call counts, a repeated request id included,
    /// as it is a request; a refused call does not.
    /// </summary>
    public int? CreatesPerMinute { get; init; }

    /// <summary>The "minute" of <see cref="CreatesPerMinute"/>: one minute, shorter in benchmarks that cannot wait that long.</summary>
    public TimeSpan CreateQuotaWindow { get; init; } = TimeSpan.FromMinutes(1);

    /// <summary>An error every create is answered with (a permission or invalid-argument refusal, say); null: none.</summary>
    public TpuApiError? CreateError { get; init; }
}

/// <summary>A REST error to answer with: the HTTP status number, the canonical code name, the message and an optional ErrorInfo reason.</summary>
public sealed record TpuApiError(int Code, string Status, string Message, string? Reason = null);
