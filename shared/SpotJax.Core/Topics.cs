namespace SpotJax.Core;

/// <summary>Pub/Sub topic names; the same names are used by infra/ and by local mode.</summary>
public static class Topics
{
    /// <summary>Job submissions and cancel commands (users publish here).</summary>
    public const string Jobs = "spotjax-jobs";

    public const string Provision = "spotjax-provision";
    public const string Launch = "spotjax-launch";
    public const string Recover = "spotjax-recover";
    public const string Finish = "spotjax-finish";
}
