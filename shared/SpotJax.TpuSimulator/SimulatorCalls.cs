using System.Collections.Concurrent;

namespace SpotJax.TpuSimulation;

/// <summary>
/// How many TPU API calls the simulator received, by method (<c>queuedResources.list</c>, ...), counted
/// as they arrive, before any injected fault: what the real API would count against a project's quota.
/// </summary>
internal sealed class SimulatorCalls
{
    private readonly ConcurrentDictionary<string, long> _byMethod = new(StringComparer.Ordinal);

    public void Count(string method) => _byMethod.AddOrUpdate(method, 1, (_, n) => n + 1);

    public IReadOnlyDictionary<string, long> Snapshot() => new SortedDictionary<string, long>(_byMethod, StringComparer.Ordinal);

    public void Reset() => _byMethod.Clear();
}
