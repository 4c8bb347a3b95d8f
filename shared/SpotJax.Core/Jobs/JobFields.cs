namespace SpotJax.Core.Jobs;

/// <summary>The field names of the job document, shared by the validator, the writer and the schema test.</summary>
internal static class JobFields
{
    public const string Name = "name";
    public const string Tpu = "tpu";
    public const string Code = "code";
    public const string Script = "script";
    public const string Args = "args";
    public const string Env = "env";
    public const string MaxRetries = "maxRetries";
    public const string MaxPreemptions = "maxPreemptions";
    public const string Stall = "stall";
    public const string ProvisionTimeoutMinutes = "provisionTimeoutMinutes";
    public const string CheckpointDir = "checkpointDir";
    public const string LogDir = "logDir";
    public const string PrepareTimeoutMinutes = "prepareTimeoutMinutes";
    public const string Python = "python";
    public const string ExtraIndexUrls = "extraIndexUrls";
    public const string PipArgs = "pipArgs";
    public const string SecretEnv = "secretEnv";
    public const string Slices = "slices";
    public const string MaxCostUsd = "maxCostUsd";
    public const string Notify = "notify";

    public const string TpuType = "type";
    public const string TpuZone = "zone";
    public const string TpuZones = "zones";
    public const string TpuRuntimeVersion = "runtimeVersion";

    public const string StallMinutes = "minutes";
    public const string StallAction = "action";

    public const string NotifyWebhook = "webhook";
    public const string NotifyFormat = "format";

    public static readonly IReadOnlyList<string> TopLevel =
    [
        Name, Tpu, Code, Script, Args, Env, MaxRetries, MaxPreemptions, Stall, ProvisionTimeoutMinutes, CheckpointDir, LogDir,
        PrepareTimeoutMinutes, Python, ExtraIndexUrls, PipArgs, SecretEnv, Slices,
        MaxCostUsd, Notify,
    ];

    public static readonly IReadOnlyList<string> TpuLevel = [TpuType, TpuZone, TpuZones, TpuRuntimeVersion];

    public static readonly IReadOnlyList<string> StallLevel = [StallMinutes, StallAction];

    public static readonly IReadOnlyList<string> NotifyLevel = [NotifyWebhook, NotifyFormat];
}
