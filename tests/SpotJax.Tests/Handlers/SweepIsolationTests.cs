using System.Net;
using System.Text;
using SpotJax.Contracts;
using SpotJax.Core;
using SpotJax.Core.Jobs;
using SpotJax.Core.Ports;
using SpotJax.Core.Steps;

namespace SpotJax.Tests.Handlers;

/// <summary>
/// One sweep pass over several jobs when a part of it fails: the jobs after a failing one and the jobs of
/// other zones still get their step, and the pass still reports the failure. (The chaos run found jobs
/// left in attempt 1 for hundreds of passes while an earlier job's step kept failing.)
/// </summary>
public sealed class SweepIsolationTests : IAsyncLifetime
{
    private HandlerHarness h = null!;

    public async Task InitializeAsync() => h = await HandlerHarness.StartAsync();

    public async Task DisposeAsync() => await h.DisposeAsync();

    [Fact]
    public async Task Sweep_FirstJobsRecoverPublishRefused_StillRecoversTheJobAfterItAndReportsTheFailure()
    {
        // Seeded one after the other, so the store lists "first" before "second".
        var first = await SeedAsync("first", "us-central2-b");
        var second = await SeedAsync("second", "us-central2-b");
        await PreemptAsync(first);
        await PreemptAsync(second);
        var bus = new RefusingBus(h.Bus, first.Id);

        var failure = await Assert.ThrowsAsync<SweepFailureException>(() => h.Sweep(h.Options, bus: bus).HandleAsync(CancellationToken.None));

        Assert.Contains(first.Id, failure.Message, StringComparison.Ordinal);
        var recovers = await h.TakeAsync(Topics.Default.Recover);
        Assert.Equal([second.Id], recovers.Select(m => m.JobId));
    }

    [Fact]
    public async Task Sweep_ListOfOneZoneRefused_RecoversTheOtherZonesJobAndTakesNoJobOfThatZoneForLost()
    {
        var unlisted = await SeedAsync("unlisted", "us-east1-d");
        var listed = await SeedAsync("listed", "us-central2-b");
        await PreemptAsync(listed);
        var tpu = new RecordingTpuApi(h.Tpu, "us-east1-d");

        var failure = await Assert.ThrowsAsync<SweepFailureException>(() => h.Sweep(h.Options, tpu).HandleAsync(CancellationToken.None));

        Assert.Contains("us-east1-d", failure.Message, StringComparison.Ordinal);
        var recovers = await h.TakeAsync(Topics.Default.Recover);
        Assert.Equal([listed.Id], recovers.Select(m => m.JobId));
        Assert.Equal(JobState.Running, (await h.JobAsync(unlisted.Id)).State);
    }

    [Fact]
    public async Task Sweep_NothingFails_CompletesWithoutThrowing()
    {
        var job = await SeedAsync("quiet", "us-central2-b");
        await PreemptAsync(job);

        await h.Functions.Sweep.HandleAsync(CancellationToken.None);

        Assert.Equal([job.Id], (await h.TakeAsync(Topics.Default.Recover)).Select(m => m.JobId));
    }

    /// <summary>A RUNNING job in <paramref name="zone"/> with its queued resource, as <see cref="RunningFleet"/> makes them.</summary>
    private Task<Job> SeedAsync(string name, string zone) => RunningFleet.SeedOneAsync(h.Store, h.Tpu, h.Options, name, zone, h.Time.GetUtcNow());

    private async Task PreemptAsync(Job job)
    {
        await h.Simulator.PreemptAsync(job.Zone!, job.QueuedResourceId!);
        await Eventually.TrueAsync(
            async () => (await h.Tpu.GetQueuedResourceAsync(job.Zone!, job.QueuedResourceId!, CancellationToken.None))?.State?.State == "SUSPENDED",
            what: $"{job.QueuedResourceId} SUSPENDED");
    }

    /// <summary>A bus that refuses, as Pub/Sub does when it is unavailable, every publish naming one job.</summary>
    private sealed class RefusingBus(IMessageBus inner, string jobId) : IMessageBus
    {
        public Task<string> PublishAsync(string topic, OutgoingMessage message, CancellationToken cancellationToken) =>
            Encoding.UTF8.GetString(message.Data).Contains(jobId, StringComparison.Ordinal)
                ? throw new GoogleApiException(HttpStatusCode.ServiceUnavailable, "UNAVAILABLE", $"publish to {topic} refused")
                : inner.PublishAsync(topic, message, cancellationToken);
    }
}
