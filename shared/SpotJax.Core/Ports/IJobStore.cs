using SpotJax.Core.Jobs;

namespace SpotJax.Core.Ports;

/// <summary>Job documents and their history (Firestore in production, SQLite locally).</summary>
public interface IJobStore
{
    /// <summary>Creates the job with its first history entry; false when a job with that id exists.</summary>
    Task<bool> TryCreateAsync(Job job, HistoryEntry entry, CancellationToken cancellationToken);

    /// <summary>The job with its current <see cref="Job.Revision"/>, or null.</summary>
    Task<Job?> GetAsync(string jobId, CancellationToken cancellationToken);

    /// <summary>
    /// Compare-and-set: writes <paramref name="updated"/> (and appends <paramref name="entry"/>
    /// in the same atomic write) only if the stored revision is still
    /// <paramref name="expectedRevision"/>. False when another writer got there first.
    /// </summary>
    Task<bool> TryUpdateAsync(Job updated, string expectedRevision, HistoryEntry? entry, CancellationToken cancellationToken);

    /// <summary>All jobs not in a terminal state.</summary>
    Task<IReadOnlyList<Job>> ListActiveAsync(CancellationToken cancellationToken);

    /// <summary>The most recently submitted jobs, newest first.</summary>
    Task<IReadOnlyList<Job>> ListRecentAsync(int limit, CancellationToken cancellationToken);

    /// <summary>The job's history, oldest first.</summary>
    Task<IReadOnlyList<HistoryEntry>> GetHistoryAsync(string jobId, CancellationToken cancellationToken);
}
