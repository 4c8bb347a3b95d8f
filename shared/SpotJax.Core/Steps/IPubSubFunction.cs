using SpotJax.Core.Ports;

namespace SpotJax.Core.Steps;

/// <summary>
/// A function triggered by a Pub/Sub message. Returning acknowledges the message (success, or a
/// permanent failure that was recorded); throwing <see cref="TransientException"/> (or any other
/// exception) asks for redelivery.
/// </summary>
public interface IPubSubFunction
{
    Task HandleAsync(PubSubMessage message, CancellationToken cancellationToken);
}

/// <summary>A function triggered by a Cloud Storage object-finalize event.</summary>
public interface IStorageFunction
{
    Task HandleAsync(StorageObjectEvent storageEvent, CancellationToken cancellationToken);
}

/// <summary>A function triggered on a schedule (Cloud Scheduler).</summary>
public interface IScheduledFunction
{
    Task HandleAsync(CancellationToken cancellationToken);
}
