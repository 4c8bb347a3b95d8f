namespace SpotJax.Core.Steps;

/// <summary>
/// The job one delivery turned out to be about, for the host's log lines. A published job document
/// or a manifest names its job only once the handler has parsed it and derived the id, so the
/// handler reports the id here and the host, which opened the scope around the call, reads it after.
/// </summary>
/// <remarks>
/// The scope flows with the async call (<see cref="AsyncLocal{T}"/>): deliveries handled at the same
/// time each see their own, and a handler called outside any scope (tests, local mode) reports to none.
/// </remarks>
public sealed class HandledJob
{
    private static readonly AsyncLocal<HandledJob?> Current = new();

    private HandledJob()
    {
    }

    /// <summary>The id reported during the delivery; null when none was.</summary>
    public string? JobId { get; private set; }

    /// <summary>Opens the scope of a delivery; the calling method and what it awaits from here on report to it.</summary>
    public static HandledJob Begin()
    {
        var scope = new HandledJob();
        Current.Value = scope;
        return scope;
    }

    /// <summary>Records the job the running delivery is about; does nothing outside a scope.</summary>
    public static void Report(string jobId)
    {
        ArgumentNullException.ThrowIfNull(jobId);
        if (Current.Value is { } scope)
        {
            scope.JobId = jobId;
        }
    }
}
