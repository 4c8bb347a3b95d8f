using System.Collections.Concurrent;
using SpotJax.Core.Ports;
using SpotJax.Core.Steps;
using SpotJax.Core.Tpu;

namespace SpotJax.Contracts;

/// <summary>
/// Deletes of queued resources by several deployments sharing one TPU API (one simulator, one
/// project): each deployment's calls go through <see cref="Watch"/>, which asks the TPU API for the
/// queued resource just before forwarding the delete, and writes down who deleted it and the
/// deployment label the TPU API reported on it.
/// </summary>
public sealed class DeploymentLedger
{
    private readonly ConcurrentQueue<LedgerDelete> deletes = new();

    /// <summary>Every delete so far, in order, repeats included.</summary>
    public IReadOnlyList<LedgerDelete> Deletes => [.. deletes];

    /// <summary>The deletes of a queued resource labelled by another deployment than the caller, or by none.</summary>
    public IReadOnlyList<LedgerDelete> CrossDeployment => [.. deletes.Where(d => d.Found && d.Labelled != d.Caller)];

    /// <summary>The TPU API <paramref name="deployment"/> calls, recording its deletes here.</summary>
    public ITpuApi Watch(string deployment, ITpuApi inner) => new Watched(this, deployment, inner);

    private sealed class Watched(DeploymentLedger ledger, string deployment, ITpuApi inner) : ITpuApi
    {
        public async Task<Operation?> DeleteQueuedResourceAsync(string zone, string queuedResourceId, bool force, string requestId, CancellationToken cancellationToken)
        {
            var queued = await inner.GetQueuedResourceAsync(zone, queuedResourceId, cancellationToken);
            var labels = queued?.NodeLabels ?? new Dictionary<string, string>();
            ledger.deletes.Enqueue(new LedgerDelete(
                deployment,
                zone,
                queuedResourceId,
                queued is not null,
                labels.GetValueOrDefault(ProvisionFunction.DeploymentLabel),
                labels.GetValueOrDefault(ProvisionFunction.JobLabel)));
            return await inner.DeleteQueuedResourceAsync(zone, queuedResourceId, force, requestId, cancellationToken);
        }

        public Task<Operation?> CreateQueuedResourceAsync(string zone, string queuedResourceId, QueuedResource body, string requestId, CancellationToken cancellationToken) =>
            inner.CreateQueuedResourceAsync(zone, queuedResourceId, body, requestId, cancellationToken);

        public Task<QueuedResource?> GetQueuedResourceAsync(string zone, string queuedResourceId, CancellationToken cancellationToken) =>
            inner.GetQueuedResourceAsync(zone, queuedResourceId, cancellationToken);

        public Task<IReadOnlyList<QueuedResource>> ListQueuedResourcesAsync(string zone, CancellationToken cancellationToken) =>
            inner.ListQueuedResourcesAsync(zone, cancellationToken);

        public Task<Node?> GetNodeAsync(string zone, string nodeId, CancellationToken cancellationToken) =>
            inner.GetNodeAsync(zone, nodeId, cancellationToken);

        public Task<Operation> GetOperationAsync(string name, CancellationToken cancellationToken) =>
            inner.GetOperationAsync(name, cancellationToken);
    }
}

/// <summary>One delete: who asked, what, whether the TPU API still had it, and its labels there.</summary>
/// <param name="Caller">The deployment that sent the delete.</param>
/// <param name="Found">Whether the queued resource existed when the delete was sent (a repeated delete finds none).</param>
/// <param name="Labelled">Its <see cref="ProvisionFunction.DeploymentLabel"/>; null when it had none.</param>
/// <param name="Job">Its <see cref="ProvisionFunction.JobLabel"/>.</param>
public sealed record LedgerDelete(string Caller, string Zone, string QueuedResourceId, bool Found, string? Labelled, string? Job);
