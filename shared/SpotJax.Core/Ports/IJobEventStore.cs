using SpotJax.Core.Events;

namespace SpotJax.Core.Ports;

/// <summary>
/// The job store's outbox of <see cref="JobEvent"/>s and its webhook delivery records. Every
/// <see cref="IJobStore"/> write that appends a history entry also adds that entry's event to the
/// outbox in the same atomic write; the event stays there until it was published.
/// </summary>
public interface IJobEventStore
{
    /// <summary>Events written but not yet published, each job's in history order; only <paramref name="jobId"/>'s when given.</summary>
    Task<IReadOnlyList<JobEvent>> ListOutboxAsync(string? jobId, int limit, CancellationToken cancellationToken);

    /// <summary>Removes a published event from the outbox; nothing when it is not there.</summary>
    Task RemoveFromOutboxAsync(string eventId, CancellationToken cancellationToken);

    /// <summary>
    /// How long a delivery record is kept after its last write, after which a store may forget it
    /// (Firestore deletes it with a TTL policy on <c>expireAt</c>, SQLite when it next claims). The notify
    /// push subscription keeps an unacknowledged message 7 days (<c>message_retention_duration</c> in
    /// infra/pubsub.tf), so no duplicate of the event comes later; the eighth day is margin for clocks.
    /// </summary>
    static readonly TimeSpan DeliveryRetention = TimeSpan.FromDays(8);

    /// <summary>
    /// Claims the delivery <paramref name="key"/> for its sender until <paramref name="until"/>: creates
    /// its record if absent, or takes over a claim whose time ran out (its sender crashed). The record
    /// expires <see cref="DeliveryRetention"/> after <paramref name="now"/>.
    /// </summary>
    Task<DeliveryClaim> TryClaimDeliveryAsync(string key, DateTimeOffset now, DateTimeOffset until, CancellationToken cancellationToken);

    /// <summary>
    /// Records the claimed delivery as done for good (delivered, or refused for good); the record expires
    /// <see cref="DeliveryRetention"/> after <paramref name="now"/>.
    /// </summary>
    Task CompleteDeliveryAsync(string key, string outcome, DateTimeOffset now, CancellationToken cancellationToken);

    /// <summary>Gives up a claim after a failed try, so that the next delivery of the message claims it again.</summary>
    Task ReleaseDeliveryAsync(string key, CancellationToken cancellationToken);
}

/// <summary>The answer of <see cref="IJobEventStore.TryClaimDeliveryAsync"/>.</summary>
public enum DeliveryClaim
{
    /// <summary>The caller holds the claim and sends.</summary>
    Claimed,

    /// <summary>A delivery completed earlier: nothing to do.</summary>
    Completed,

    /// <summary>Another sender holds a live claim: try again later.</summary>
    Busy,
}
