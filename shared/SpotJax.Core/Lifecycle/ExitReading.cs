namespace SpotJax.Core.Lifecycle;

public enum ExitReading
{
    Succeeded,
    Preempted,
    Failed,

    /// <summary>A worker other than 0 exited 0: the job's outcome is worker 0's.</summary>
    NoDecision,
}
