using SpotJax.Core.Tpu;

namespace SpotJax.TpuSimulation;

/// <summary>How the <see cref="TpuSimulator"/> behaves.</summary>
public sealed record TpuSimulatorOptions
{
    /// <summary>
    /// Root of the node folders: worker <c>i</c> of node <c>N</c> in zone <c>Z</c> is <c>{NodesRoot}/Z/N/worker-i/</c>,
    /// where node agents write <c>*.pgid</c> files naming the process groups a preemption signals.
    /// </summary>
    public required string NodesRoot { get; init; }

    /// <summary>
    /// Time from create to ACTIVE, split evenly over CREATING, ACCEPTED and PROVISIONING; zero makes a queued
    /// resource ACTIVE as soon as it is created.
    /// </summary>
    public TimeSpan ProvisionDelay { get; init; }

    /// <summary>
    /// The <see cref="ProvisionDelay"/> of one queued resource, chosen from its create request (its node labels,
    /// say), so that one attempt of a job can be held in provisioning while the others are quick; null gives
    /// every queued resource <see cref="ProvisionDelay"/>.
    /// </summary>
    public Func<QueuedResource, TimeSpan>? ProvisionDelayOf { get; init; }

    /// <summary>Time from a delete to the queued resource and its node disappearing (they show DELETING meanwhile).</summary>
    public TimeSpan DeleteDelay { get; init; }

    /// <summary>
    /// Time between a preemption's SIGTERM and its SIGKILL, which is also when the queued resource turns from
    /// SUSPENDING to SUSPENDED. A delete waits <c>min(PreemptionGrace, 1 s)</c> before its SIGKILL.
    /// </summary>
    public TimeSpan PreemptionGrace { get; init; } = TimeSpan.FromSeconds(2);

    /// <summary>
    /// Zones in a stock-out when the simulator starts: queued resources created there wait in WAITING_FOR_RESOURCES
    /// and fail once their <c>queueingPolicy.validUntilDuration</c> has passed, unless the stock-out ends first
    /// (<see cref="TpuSimulator.SetZoneCapacity"/>).
    /// </summary>
    public ISet<string> ZonesWithoutCapacity { get; init; } = new HashSet<string>(StringComparer.Ordinal);

    /// <summary>The faults injected from the start; <see cref="TpuSimulator.SetFaults"/> replaces them at runtime.</summary>
    public TpuFaults Faults { get; init; } = new();

    /// <summary>
    /// The network endpoint reported for worker <c>worker</c> of node <c>nodeId</c>; by default
    /// <c>127.0.0.1:8470</c> for every worker.
    /// </summary>
    public Func<string, int, (string Ip, int Port)>? Endpoint { get; init; }

    /// <summary>
    /// Sees every entry of the simulator's ledger (<see cref="TpuSimulator.Ledger"/>) as it is made, before the call
    /// that caused it is answered: a chaos run kills the caller there, between the side effect and its record.
    /// </summary>
    public Action<LedgerEntry>? OnLedgerEntry { get; init; }
}
