using SpotJax.Core.Jobs;
using SpotJax.Core.Ports;

namespace SpotJax.Core.Events;

/// <summary>
/// The job store the step functions write through: after every write that appended a history entry
/// (and so, in the same atomic write, put its event in the outbox) it has <see cref="JobEventRelay"/>
/// publish the job's pending events. Reads go straight to the store.
/// </summary>
public sealed class EventPublishingJobStore(IJobStore inner, JobEventRelay relay) : IJobStore
{
    /// <inheritdoc />
    public async Task<bool> TryCreateAsync(Job job, HistoryEntry entry, CancellationToken cancellationToken)
    {
        var created = await inner.TryCreateAsync(job, entry, cancellationToken);
        if (created)
        {
            await relay.PublishPendingAsync(job.Id, cancellationToken);
        }

        return created;
    }

    /// <inheritdoc />
    public async Task<bool> TryUpdateAsync(Job updated, string expectedRevision, HistoryEntry? entry, CancellationToken cancellationToken)
    {
        var written = await inner.TryUpdateAsync(updated, expectedRevision, entry, cancellationToken);
        if (written && entry is not null)
        {
            await relay.PublishPendingAsync(updated.Id, cancellationToken);
        }

        return written;
    }

    /// <inheritdoc />
    public Task<Job?> GetAsync(string jobId, CancellationToken cancellationToken) => inner.GetAsync(jobId, cancellationToken);

    /// <inheritdoc />
    public Task<IReadOnlyList<Job>> ListActiveAsync(CancellationToken cancellationToken) => inner.ListActiveAsync(cancellationToken);

    /// <inheritdoc />
    public Task<IReadOnlyList<Job>> ListRecentAsync(int limit, CancellationToken cancellationToken) => inner.ListRecentAsync(limit, cancellationToken);

    /// <inheritdoc />
    public Task<IReadOnlyList<HistoryEntry>> GetHistoryAsync(string jobId, CancellationToken cancellationToken) => inner.GetHistoryAsync(jobId, cancellationToken);
}
