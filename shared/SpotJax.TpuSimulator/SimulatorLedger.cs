namespace SpotJax.TpuSimulation;

/// <summary>What happened to a queued resource, as the simulator's ledger records it.</summary>
public enum LedgerEvent
{
    /// <summary>A create made the queued resource (a create answered with an earlier request's operation, or refused, makes none).</summary>
    Created,

    /// <summary>A delete was accepted and the queued resource is going away (a repeat of that delete records nothing).</summary>
    DeleteAccepted,

    /// <summary>A Spot preemption of the ACTIVE queued resource.</summary>
    Preempted,
}

/// <summary>One line of the simulator's ledger: when, what, and which queued resource (with the request id, if any).</summary>
public sealed record LedgerEntry(DateTimeOffset At, LedgerEvent Event, string Project, string Zone, string QueuedResourceId, string? RequestId);

/// <summary>
/// Every queued resource created, deleted and preempted, in order: the evidence a chaos run reads to count
/// queued resources per attempt and to find those left behind. <see cref="TpuSimulatorOptions.OnLedgerEntry"/>
/// sees each entry before the call that caused it is answered.
/// </summary>
internal sealed class SimulatorLedger(Action<LedgerEntry>? onEntry)
{
    private readonly Lock _gate = new();
    private readonly List<LedgerEntry> _entries = [];

    public IReadOnlyList<LedgerEntry> Entries
    {
        get
        {
            lock (_gate)
            {
                return [.. _entries];
            }
        }
    }

    public void Record(LedgerEntry entry)
    {
        lock (_gate)
        {
            _entries.Add(entry);
        }

        onEntry?.Invoke(entry);
    }
}
