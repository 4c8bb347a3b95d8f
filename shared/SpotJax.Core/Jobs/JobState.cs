namespace SpotJax.Core.Jobs;

/// <summary>Lifecycle states; serialised as their upper-case names (<c>QUEUED</c>, ...).</summary>
public enum JobState
{
    Queued,
    Provisioning,
    Launching,
    Running,
    Recovering,
    Succeeded,
    Failed,
    Cancelling,
    Cancelled,
    Rejected,
}

public static class JobStateExtensions
{
    public static bool IsTerminal(this JobState state) =>
        state is JobState.Succeeded or JobState.Failed or JobState.Cancelled or JobState.Rejected;

    /// <summary>The wire name: <c>QUEUED</c>, <c>PROVISIONING</c>, ...</summary>
    public static string ToWire(this JobState state) => state.ToString().ToUpperInvariant();

    public static JobState ParseWire(string value) =>
        Enum.TryParse<JobState>(value, ignoreCase: true, out var state) && Enum.IsDefined(state)
            ? state
            : throw new FormatException($"unknown job state '{value}'");
}
