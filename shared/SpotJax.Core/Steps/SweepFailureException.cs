namespace SpotJax.Core.Steps;

/// <summary>One part of a sweep pass that failed (a zone's list, a job's reconcile) while the pass went on with the rest.</summary>
public sealed class SweepFailureException : Exception
{
    public SweepFailureException(string message, Exception inner)
        : base(message, inner)
    {
    }
}
