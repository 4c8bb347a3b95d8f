namespace SpotJax.Functions;

/// <summary>The function names, as set in <c>FUNCTION_TARGET</c> and used by infra/.</summary>
public static class FunctionNames
{
    public const string Submit = "submit";
    public const string BucketEvents = "bucket-events";
    public const string Provision = "provision";
    public const string Launch = "launch";
    public const string Recover = "recover";
    public const string Finish = "finish";
    public const string Sweep = "sweep";

    /// <summary>Posts job events to webhooks; pushed from the <c>job-events</c> topic.</summary>
    public const string Notify = "notify";

    /// <summary>
    /// The status page: an HTTP function (<c>GET /</c>, <c>GET /jobs/{id}</c>), not an event
    /// function; its Cloud Run service admits only callers with <c>run.invoker</c> (Cloud Run IAM).
    /// </summary>
    public const string Status = "status";

    public static IReadOnlyList<string> All { get; } = [Submit, BucketEvents, Provision, Launch, Recover, Finish, Sweep, Status, Notify];
}
