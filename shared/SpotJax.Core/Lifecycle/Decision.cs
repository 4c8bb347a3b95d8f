using SpotJax.Core.Jobs;

namespace SpotJax.Core.Lifecycle;

/// <summary>What the state machine decided for one input.</summary>
public sealed record Decision(Verdict Verdict, Job Job, HistoryEntry? Entry, string Reason)
{
    public static Decision Apply(Job updated, HistoryEntry entry) => new(Verdict.Apply, updated, entry, entry.Cause);

    /// <summary>A change of fields that is not a state transition (no history entry).</summary>
    public static Decision Update(Job updated, string reason) => new(Verdict.Apply, updated, null, reason);

    public static Decision Already(Job job, string reason) => new(Verdict.AlreadyApplied, job, null, reason);

    public static Decision Ignore(Job job, string reason) => new(Verdict.Ignore, job, null, reason);

    public static Decision NotYet(Job job, string reason) => new(Verdict.NotYet, job, null, reason);
}
