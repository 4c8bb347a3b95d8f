using SpotJax.Core.Tpu;

namespace SpotJax.TpuSimulation;

/// <summary>One node of a queued resource: one, or with <c>multisliceParams</c> one per slice.</summary>
internal sealed class SimulatedNode
{
    public required string NodeId { get; init; }
    public required IReadOnlyList<NetworkEndpoint> Endpoints { get; init; }

    /// <summary><c>{NodesRoot}/{zone}/{nodeId}</c>: worker <c>i</c> uses its <c>worker-i/</c>.</summary>
    public required string Directory { get; init; }

    public NodeMetadata Metadata { get; } = new();

    /// <summary>When this node was taken back; null while it runs (another node of the queued resource may have been).</summary>
    public DateTimeOffset? PreemptedAt { get; set; }
}
