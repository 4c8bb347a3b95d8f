namespace SpotJax.Core;

/// <summary>
/// The Pub/Sub topics of one deployment, named <c>PREFIX-jobs</c>, <c>PREFIX-provision</c>, ... from its
/// <see cref="NamePrefix"/>, as infra/locals.tf names them. Local mode uses <see cref="Default"/>.
/// </summary>
public sealed record Topics
{
    /// <param name="prefix">The deployment's name prefix.</param>
    /// <exception cref="ArgumentException"><paramref name="prefix"/> does not follow <see cref="NamePrefix.Rule"/>.</exception>
    public Topics(string prefix)
    {
        Prefix = NamePrefix.Check(prefix);
    }

    /// <summary>The topics of <see cref="NamePrefix.Default"/>: <c>spotjax-jobs</c>, <c>spotjax-provision</c>, ...</summary>
    public static Topics Default { get; } = new(NamePrefix.Default);

    public string Prefix { get; }

    /// <summary>Job submissions and cancel commands (users publish here).</summary>
    public string Jobs => $"{Prefix}-jobs";

    public string Provision => $"{Prefix}-provision";
    public string Launch => $"{Prefix}-launch";
    public string Recover => $"{Prefix}-recover";
    public string Finish => $"{Prefix}-finish";

    /// <summary>Every job's transitions as <see cref="Events.JobEvent"/>s (users subscribe here; the <c>notify</c> function too).</summary>
    public string JobEvents => $"{Prefix}-job-events";

    /// <summary>The topics the code publishes to or is pushed from, <see cref="Jobs"/> first.</summary>
    public IReadOnlyList<string> All => [Jobs, Provision, Launch, Recover, Finish, JobEvents];
}
