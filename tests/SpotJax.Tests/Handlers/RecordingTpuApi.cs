using System.Collections.Concurrent;
using System.Net;
using SpotJax.Core.Ports;
using SpotJax.Core.Tpu;

namespace SpotJax.Tests.Handlers;

/// <summary>
/// A TPU API in front of another that records which zones were listed and which queued resources
/// deleted, and refuses to list the given zones as the real API refuses a location it does not serve.
/// </summary>
public sealed class RecordingTpuApi(ITpuApi inner, params string[] refusedZones) : ITpuApi
{
    private readonly ConcurrentQueue<string> listed = new();
    private readonly ConcurrentQueue<string> deleted = new();

    /// <summary>The zones listed so far, in order, repeats included.</summary>
    public IReadOnlyList<string> Listed => [.. listed];

    /// <summary>The queued resources deleted so far (<c>zone/id</c>), in order, repeats included.</summary>
    public IReadOnlyList<string> Deleted => [.. deleted];

    public Task<IReadOnlyList<QueuedResource>> ListQueuedResourcesAsync(string zone, CancellationToken cancellationToken)
    {
        listed.Enqueue(zone);
        return refusedZones.Contains(zone, StringComparer.Ordinal)
            ? throw new GoogleApiException(HttpStatusCode.BadRequest, "INVALID_ARGUMENT", $"Invalid location: projects/test-project/locations/{zone}")
            : inner.ListQueuedResourcesAsync(zone, cancellationToken);
    }

    public Task<Operation?> CreateQueuedResourceAsync(string zone, string queuedResourceId, QueuedResource body, string requestId, CancellationToken cancellationToken) =>
        inner.CreateQueuedResourceAsync(zone, queuedResourceId, body, requestId, cancellationToken);

    public Task<QueuedResource?> GetQueuedResourceAsync(string zone, string queuedResourceId, CancellationToken cancellationToken) =>
        inner.GetQueuedResourceAsync(zone, queuedResourceId, cancellationToken);

    public Task<Operation?> DeleteQueuedResourceAsync(string zone, string queuedResourceId, bool force, string requestId, CancellationToken cancellationToken)
    {
        deleted.Enqueue($"{zone}/{queuedResourceId}");
        return inner.DeleteQueuedResourceAsync(zone, queuedResourceId, force, requestId, cancellationToken);
    }

    public Task<Node?> GetNodeAsync(string zone, string nodeId, CancellationToken cancellationToken) =>
        inner.GetNodeAsync(zone, nodeId, cancellationToken);

    public Task<Operation> GetOperationAsync(string name, CancellationToken cancellationToken) =>
        inner.GetOperationAsync(name, cancellationToken);
}
