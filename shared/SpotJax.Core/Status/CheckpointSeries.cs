using SpotJax.Core.Jobs;
using SpotJax.Core.Ports;
using SpotJax.Core.Steps;

namespace SpotJax.Core.Status;

/// <summary>
/// A job's checkpoint steps over time, read from the listing of its checkpoint folder: the object
/// names give the step (<see cref="CheckpointStep"/>, as <c>bucket-events</c> reads it) and the
/// objects' update times give when.
/// The bucket already keeps the whole series, so the job store needs no second copy of it.
/// </summary>
public static class CheckpointSeries
{
    /// <summary>
    /// The checkpoints ordered by time, one point per step (an Orbax step folder holds many objects:
    /// the step counts as written when its last object was). Empty when the checkpoint folder is
    /// outside the control bucket, which the control plane cannot list.
    /// </summary>
    public static async Task<IReadOnlyList<CheckpointPoint>> ReadAsync(IObjectStore objects, Job job, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(objects);
        ArgumentNullException.ThrowIfNull(job);
        var folder = JobPaths.CheckpointDir(job, objects.Bucket) + "/";
        var bucketRoot = BucketLayout.GsUri(objects.Bucket, "");
        if (!folder.StartsWith(bucketRoot, StringComparison.Ordinal))
        {
            return [];
        }

        var prefix = folder[bucketRoot.Length..];
        var listed = await objects.ListAsync(prefix, cancellationToken);
        return listed
            .Select(o => (Step: CheckpointStep.Of(o.Name[prefix.Length..]), o.Updated))
            .Where(o => o.Step is not null)
            .GroupBy(o => o.Step!.Value)
            .Select(g => new CheckpointPoint(g.Key, g.Max(o => o.Updated)))
            .OrderBy(p => p.At)
            .ThenBy(p => p.Step)
            .ToList();
    }
}
