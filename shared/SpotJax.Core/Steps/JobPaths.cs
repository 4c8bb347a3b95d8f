using SpotJax.Core.Jobs;

namespace SpotJax.Core.Steps;

/// <summary>A job's checkpoint and log folders: the spec's overrides, else folders in the control bucket.</summary>
public static class JobPaths
{
    public static string CheckpointDir(Job job, string bucket) =>
        job.Spec?.CheckpointDir ?? BucketLayout.GsUri(bucket, BucketLayout.CheckpointPrefix(job.Id)).TrimEnd('/');

    public static string LogDir(Job job, string bucket) =>
        job.Spec?.LogDir ?? BucketLayout.GsUri(bucket, BucketLayout.LogPrefix(job.Id)).TrimEnd('/');
}
