using Microsoft.Extensions.Time.Testing;
using SpotJax.Core.Jobs;
using SpotJax.Core.Lifecycle;
using SpotJax.Functions.Status;
using SpotJax.Local.State;
using SpotJax.Local.Storage;

namespace SpotJax.Tests.Status;

/// <summary>The status page of a multislice job shows its slices and the attempt's workers of all slices.</summary>
public sealed class MultisliceStatusPageTests
{
    [Fact]
    public async Task IndexAndJobPage_TwoSlicesOfV4_32Launched_Show2xV4_32AndEightWorkers()
    {
        var root = Directory.CreateTempSubdirectory("spotjax-status-multislice-").FullName;
        var start = new DateTimeOffset(2026, 5, 1, 12, 0, 0, TimeSpan.Zero);
        try
        {
            using var store = new SqliteJobStore(Path.Combine(root, "jobs.db"));
            await using var objects = new FolderObjectStore(Path.Combine(root, "bucket"), "spotjax-status");
            var spec = new JobSpec
            {
                Name = "multislice status",
                Tpu = new TpuSpec { Type = "v4-32", Zones = ["us-central2-b"], RuntimeVersion = "tpu-ubuntu2204-base" },
                Code = "gs://spotjax-status/code/x.tar.gz",
                Script = "train.py",
                Slices = 2,
            };
            var (job, entry) = JobLifecycle.Submit(JobId.From(spec.Name, "client:multislice"), "client:multislice", spec, start);
            Assert.True(await store.TryCreateAsync(job, entry, CancellationToken.None));
            foreach (var transition in new Func<Job, Decision>[]
            {
                j => JobLifecycle.StartProvisioning(j, 1, start.AddSeconds(1)),
                j => JobLifecycle.NodesReady(j, 1, 8, start.AddSeconds(20), start.AddMinutes(35)),
            })
            {
                var current = (await store.GetAsync(job.Id, CancellationToken.None))!;
                var decision = transition(current);
                Assert.True(await store.TryUpdateAsync(decision.Job, current.Revision, decision.Entry, CancellationToken.None));
            }

            var page = new StatusPage(store, objects, new FakeTimeProvider(start.AddMinutes(1)));
            var index = await page.IndexAsync(CancellationToken.None);
            var jobPage = await page.JobAsync(job.Id, CancellationToken.None);

            Assert.Contains("<td>2 x v4-32</td>", index, StringComparison.Ordinal);
            Assert.Contains("2 x v4-32 in us-central2-b", jobPage, StringComparison.Ordinal);
            Assert.Contains("1 · 8 worker(s)", jobPage, StringComparison.Ordinal);
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }
}
