namespace SpotJax.Core.Lifecycle;

public enum Verdict
{
    /// <summary>The transition applies: write <see cref="Decision.Updated"/> with compare-and-set.</summary>
    Apply,

    /// <summary>The job is already in the target state for this attempt: nothing to write, redo the idempotent side effects.</summary>
    AlreadyApplied,

    /// <summary>Stale or out-of-order input: acknowledge and do nothing.</summary>
    Ignore,

    /// <summary>Too early (backoff not elapsed): retry the message later.</summary>
    NotYet,
}
