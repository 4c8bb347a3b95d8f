using SpotJax.Contracts;
using SpotJax.Core;
using SpotJax.Core.Jobs;
using SpotJax.Core.Ports;
using SpotJax.Functions;

namespace SpotJax.Tests.Handlers;

/// <summary>
/// What <c>bucket-events</c> reads from and writes to the job store per event: the agent's log uploads, which
/// come every second or so per worker while a script prints, cost no read; the files of one checkpoint cost a
/// read each and one write between them; checkpoints still count.
/// </summary>
public sealed class BucketEventReadsTests : IAsyncLifetime
{
    private HandlerHarness h = null!;
    private CountingStore store = null!;
    private SpotJaxFunctions functions = null!;

    public async Task InitializeAsync()
    {
        h = await HandlerHarness.StartAsync();
        store = new CountingStore(h.Store);
        functions = new SpotJaxFunctions(store, h.Bus, h.Objects, h.Tpu, h.Workers, h.Options, h.Time);
    }

    public async Task DisposeAsync() => await h.DisposeAsync();

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task BucketEvents_AgentLogUploadOfARunningJob_IsAnsweredWithoutReadingTheJob(bool prepareLog)
    {
        var job = await RunningAsync("logs");
        var logDir = BucketLayout.LogPrefix(job.Id);
        var name = prepareLog ? BucketLayout.PrepareLogObject(logDir, job.Attempt, 0) : BucketLayout.LogObject(logDir, job.Attempt, 0);

        await functions.BucketEvents.HandleAsync(new StorageObjectEvent(HandlerHarness.Bucket, name, 7, 4096, h.Time.GetUtcNow()), CancellationToken.None);

        Assert.Equal(0, store.Reads);
        Assert.Equal(job.Revision, (await h.JobAsync(job.Id)).Revision);
    }

    [Fact]
    public async Task BucketEvents_CheckpointOfARunningJob_IsStillRecorded()
    {
        var job = await RunningAsync("checkpoints");
        h.Time.Advance(TimeSpan.FromMinutes(5));

        await functions.BucketEvents.HandleAsync(
            new StorageObjectEvent(HandlerHarness.Bucket, $"{BucketLayout.CheckpointPrefix(job.Id)}250/metadata", 1, 64, h.Time.GetUtcNow()), CancellationToken.None);

        Assert.Equal(250, (await h.JobAsync(job.Id)).LastCheckpointStep);
        Assert.True(store.Reads > 0);
    }

    [Fact]
    public async Task BucketEvents_TwentyFilesOfOneCheckpointSecondsApart_WriteTheJobOnce()
    {
        var job = await RunningAsync("one-checkpoint");
        h.Time.Advance(TimeSpan.FromMinutes(10));
        var written = h.Time.GetUtcNow();

        for (var file = 0; file < 20; file++)
        {
            var name = $"{BucketLayout.CheckpointPrefix(job.Id)}300/shard-{file}";
            await functions.BucketEvents.HandleAsync(new StorageObjectEvent(HandlerHarness.Bucket, name, 1, 4096, written.AddMilliseconds(300 * file)), CancellationToken.None);
        }

        var recorded = await h.JobAsync(job.Id);
        Assert.Equal((300L, written), (recorded.LastCheckpointStep!.Value, recorded.LastCheckpointAt!.Value));
        Assert.Equal(1, store.Writes);
        Assert.Equal(21, store.Reads);
    }

    private async Task<Job> RunningAsync(string name)
    {
        var job = RunningFleet.Job(name, "us-central2-b", attempt: 1, h.Options.Deployment, h.Time.GetUtcNow());
        Assert.True(await h.Store.TryCreateAsync(job, new HistoryEntry(h.Time.GetUtcNow(), null, JobState.Running, 1, "test"), CancellationToken.None));
        return await h.JobAsync(job.Id);
    }

    /// <summary>The harness's store, counting the reads of a job (a Firestore document read each in production).</summary>
    private sealed class CountingStore(IJobStore inner) : IJobStore
    {
        private int reads;
        private int writes;

        public int Reads => Volatile.Read(ref reads);

        /// <summary>Compare-and-set writes of a job (a Firestore commit each in production).</summary>
        public int Writes => Volatile.Read(ref writes);

        public Task<Job?> GetAsync(string jobId, CancellationToken cancellationToken)
        {
            Interlocked.Increment(ref reads);
            return inner.GetAsync(jobId, cancellationToken);
        }

        public Task<bool> TryCreateAsync(Job job, HistoryEntry entry, CancellationToken cancellationToken) => inner.TryCreateAsync(job, entry, cancellationToken);

        public Task<bool> TryUpdateAsync(Job updated, string expectedRevision, HistoryEntry? entry, CancellationToken cancellationToken)
        {
            Interlocked.Increment(ref writes);
            return inner.TryUpdateAsync(updated, expectedRevision, entry, cancellationToken);
        }

        public Task<IReadOnlyList<Job>> ListActiveAsync(CancellationToken cancellationToken) => inner.ListActiveAsync(cancellationToken);

        public Task<IReadOnlyList<Job>> ListRecentAsync(int limit, CancellationToken cancellationToken) => inner.ListRecentAsync(limit, cancellationToken);

        public Task<IReadOnlyList<HistoryEntry>> GetHistoryAsync(string jobId, CancellationToken cancellationToken) => inner.GetHistoryAsync(jobId, cancellationToken);
    }
}
