using SpotJax.Core.Tpu;

namespace SpotJax.Core.Ports;

/// <summary>
/// The Cloud TPU v2 calls SpotJax makes (REST, <c>https://tpu.googleapis.com/v2</c>); the same client
/// talks to the TPU simulator. Failed calls throw <see cref="GoogleApiException"/>.
/// </summary>
public interface ITpuApi
{
    /// <summary>
    /// <c>queuedResources.create</c> with a fixed id and request id. ALREADY_EXISTS is not an error:
    /// it returns null (the resource was created by an earlier delivery).
    /// </summary>
    Task<Operation?> CreateQueuedResourceAsync(string zone, string queuedResourceId, QueuedResource body, string requestId, CancellationToken cancellationToken);

    /// <summary><c>queuedResources.get</c>; null when it does not exist.</summary>
    Task<QueuedResource?> GetQueuedResourceAsync(string zone, string queuedResourceId, CancellationToken cancellationToken);

    /// <summary><c>queuedResources.list</c>, every page.</summary>
    Task<IReadOnlyList<QueuedResource>> ListQueuedResourcesAsync(string zone, CancellationToken cancellationToken);

    /// <summary><c>queuedResources.delete</c>; null when it did not exist (already deleted).</summary>
    Task<Operation?> DeleteQueuedResourceAsync(string zone, string queuedResourceId, bool force, string requestId, CancellationToken cancellationToken);

    /// <summary><c>nodes.get</c>; null when it does not exist.</summary>
    Task<Node?> GetNodeAsync(string zone, string nodeId, CancellationToken cancellationToken);

    /// <summary><c>operations.get</c> by full name (<c>projects/P/locations/Z/operations/ID</c>).</summary>
    Task<Operation> GetOperationAsync(string name, CancellationToken cancellationToken);
}
