namespace SpotJax.Core.Tpu;

/// <summary>The <c>state.state</c> values of a queued resource, and how SpotJax reads them.</summary>
public static class QueuedResourceStates
{
    public const string Active = "ACTIVE";
    public const string Failed = "FAILED";
    public const string Suspending = "SUSPENDING";
    public const string Suspended = "SUSPENDED";
    public const string Deleting = "DELETING";

    /// <summary>Accepted and queued until the zone has capacity for it.</summary>
    public const string WaitingForResources = "WAITING_FOR_RESOURCES";

    /// <summary>The capacity was taken back: a Spot preemption (or the resource is being removed).</summary>
    public static bool IsLost(string? state) => state is Suspending or Suspended or Deleting;
}
