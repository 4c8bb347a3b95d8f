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

    public static IReadOnlyList<string> All { get; } = [Submit, BucketEvents, Provision, Launch, Recover, Finish, Sweep];
}
