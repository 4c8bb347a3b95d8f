using SpotJax.Core;
using SpotJax.Core.Jobs;
using SpotJax.Core.Lifecycle;
using SpotJax.Local.State;
using SpotJax.Local.Storage;

namespace SpotJax.Tests.Status;

/// <summary>
/// A job store and bucket folder holding one job that was preempted once and then succeeded, its
/// history written by the real lifecycle and its checkpoints as files in the checkpoint folder.
/// </summary>
public sealed class PreemptedJob : IAsyncDisposable
{
    public const string Bucket = "spotjax-status";
    public static readonly DateTimeOffset Start = new(2026, 5, 1, 12, 0, 0, TimeSpan.Zero);

    private PreemptedJob(string root, SqliteJobStore store, FolderObjectStore objects, Job job)
    {
        Root = root;
        Store = store;
        Objects = objects;
        Job = job;
    }

    public string Root { get; }
    public SqliteJobStore Store { get; }
    public FolderObjectStore Objects { get; }
    public Job Job { get; }

    public static async Task<PreemptedJob> CreateAsync()
    {
        var root = Directory.CreateTempSubdirectory("spotjax-status-").FullName;
        var store = new SqliteJobStore(Path.Combine(root, "jobs.db"));
        var objects = new FolderObjectStore(Path.Combine(root, "bucket"), Bucket);
        var spec = new JobSpec
        {
            Name = "status page",
            Tpu = new TpuSpec { Type = "v4-8", Zones = ["us-central2-b"], RuntimeVersion = "tpu-ubuntu2204-base" },
            Code = "gs://spotjax-status/code/x.tar.gz",
            Script = "train.py",
        };
        var (job, entry) = JobLifecycle.Submit(JobId.From(spec.Name, "client:status"), "client:status", spec, Start);
        Assert.True(await store.TryCreateAsync(job, entry, CancellationToken.None));

        var at = Start;
        async Task StepAsync(Func<Job, Decision> transition, int seconds)
        {
            at = at.AddSeconds(seconds);
            var current = (await store.GetAsync(job.Id, CancellationToken.None))!;
            var decision = transition(current);
            Assert.True(await store.TryUpdateAsync(decision.Job, current.Revision, decision.Entry, CancellationToken.None));
        }

        await StepAsync(j => JobLifecycle.StartProvisioning(j, 1, at), 1);
        await StepAsync(j => JobLifecycle.NodesReady(j, 1, 1, at, at.AddMinutes(35)), 20);
        await StepAsync(j => JobLifecycle.WorkerPrepared(j, 1, 0, at), 10);
        await StepAsync(j => JobLifecycle.EndAttempt(j, 1, AttemptEnd.Preempted, "queued resource SUSPENDING", null, new LifecycleOptions(), at), 60);
        await StepAsync(j => JobLifecycle.StartProvisioning(j, 2, at), 30);
        await StepAsync(j => JobLifecycle.NodesReady(j, 2, 1, at, at.AddMinutes(35)), 20);
        await StepAsync(j => JobLifecycle.WorkerPrepared(j, 2, 0, at), 10);
        await StepAsync(j => JobLifecycle.Succeed(j, 2, at), 60);

        // One step a second while running: steps 10..50 in attempt 1 (running from 31 s, preempted at
        // 91 s), 60..100 in attempt 2 (running from 151 s, done at 211 s).
        for (var step = 10; step <= 100; step += 10)
        {
            var path = objects.LocalPath($"{BucketLayout.CheckpointPrefix(job.Id)}step_{step:D8}.json");
            Directory.CreateDirectory(Path.GetDirectoryName(path)!);
            await File.WriteAllTextAsync(path, $"{{\"step\": {step}}}");
            File.SetLastWriteTimeUtc(path, Start.AddSeconds(step <= 50 ? 31 + step : 151 + step - 50).UtcDateTime);
        }

        return new PreemptedJob(root, store, objects, (await store.GetAsync(job.Id, CancellationToken.None))!);
    }

    public async ValueTask DisposeAsync()
    {
        await Objects.DisposeAsync();
        Store.Dispose();
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        Directory.Delete(Root, recursive: true);
    }
}
