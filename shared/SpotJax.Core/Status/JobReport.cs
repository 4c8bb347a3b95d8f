using SpotJax.Core.Jobs;
using SpotJax.Core.Ports;

namespace SpotJax.Core.Status;

/// <summary>Everything the status page and <c>spotjax status JOB</c> show about one job.</summary>
/// <param name="Job">The job document.</param>
/// <param name="History">Its transitions, oldest first.</param>
/// <param name="Attempts">Its attempts, read from the history.</param>
/// <param name="Checkpoints">Its checkpoint steps over time, read from the bucket.</param>
public sealed record JobReport(Job Job, IReadOnlyList<HistoryEntry> History, IReadOnlyList<AttemptSpan> Attempts, IReadOnlyList<CheckpointPoint> Checkpoints)
{
    /// <summary>Reads the report of <paramref name="jobId"/>; null when there is no such job.</summary>
    public static async Task<JobReport?> LoadAsync(IJobStore store, IObjectStore objects, string jobId, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(store);
        ArgumentNullException.ThrowIfNull(objects);
        if (!JobId.IsValid(jobId) || await store.GetAsync(jobId, cancellationToken) is not { } job)
        {
            return null;
        }

        var history = await store.GetHistoryAsync(jobId, cancellationToken);
        var checkpoints = await CheckpointSeries.ReadAsync(objects, job, cancellationToken);
        return new JobReport(job, history, JobTimeline.Attempts(history), checkpoints);
    }
}
