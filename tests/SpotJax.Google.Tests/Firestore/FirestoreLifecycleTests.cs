using SpotJax.Core.Jobs;
using SpotJax.Functions.Local;
using SpotJax.Google.Tests.Emulators;

namespace SpotJax.Google.Tests.Firestore;

/// <summary>
/// The whole lifecycle once with Firestore as the job store: every function of local mode (bus,
/// folder bucket, TPU simulator, worker processes) over the emulator instead of SQLite.
/// </summary>
[Collection(FirestoreEmulatorCollection.Name)]
public sealed class FirestoreLifecycleTests(FirestoreEmulator emulator) : IAsyncLifetime
{
    private static readonly CancellationToken None = CancellationToken.None;
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);

    private readonly string _project = FirestoreEmulator.NewProject();
    private readonly string _root = Directory.CreateTempSubdirectory("spotjax-firestore-e2e-").FullName;

    [Fact]
    public async Task ShortJob_WithOnePreemption_SucceedsWithItsWholeHistoryInFirestore()
    {
        var code = Directory.CreateDirectory(Path.Combine(_root, "code")).FullName;
        // The first attempt waits to be preempted; the restarted one prints and exits 0.
        await File.WriteAllTextAsync(Path.Combine(code, "train.py"), """
            import os, time
            print("attempt", os.environ["SPOT_ATTEMPT"], "restart", os.environ["SPOT_IS_RESTART"], flush=True)
            while os.environ["SPOT_IS_RESTART"] != "true":
                time.sleep(0.1)
            print("done", flush=True)
            """);
        var store = emulator.CreateStore(_project);
        await using var plane = await LocalControlPlane.StartAsync(
            new LocalControlPlaneOptions
            {
                Root = Path.Combine(_root, "state"),
                Store = store,
                ProvisionDelay = TimeSpan.FromMilliseconds(200),
                PreemptionGrace = TimeSpan.FromSeconds(3),
                SweepInterval = TimeSpan.FromMilliseconds(500),
                Lifecycle = new() { BackoffBase = TimeSpan.FromMilliseconds(200), BackoffMax = TimeSpan.FromSeconds(1), StuckAfter = TimeSpan.FromSeconds(10) },
            },
            None);
        var spec = new JobSpec
        {
            Name = "firestore-e2e",
            Tpu = new TpuSpec { Type = "v4-8", Zones = ["us-central2-b"], RuntimeVersion = "tpu-ubuntu2204-base" },
            Code = code,
            Script = "train.py",
        };

        var jobId = await plane.SubmitAsync(spec, "firestore-e2e-1", None);
        await WaitForAsync(store, jobId, j => j.State == JobState.Running && j.Attempt == 1);
        await plane.PreemptAsync(jobId, None);
        var job = await WaitForAsync(store, jobId, j => j.State.IsTerminal());

        Assert.Equal((JobState.Succeeded, 2, 1, 0), (job.State, job.Attempt, job.PreemptionsSpent, job.FailuresSpent));
        Assert.Contains("done", await File.ReadAllTextAsync(plane.LogPath(job, 2, 0)), StringComparison.Ordinal);
        var history = await store.GetHistoryAsync(jobId, None);
        Assert.Equal(
            [JobState.Queued, JobState.Provisioning, JobState.Launching, JobState.Running, JobState.Recovering, JobState.Provisioning, JobState.Launching, JobState.Running, JobState.Succeeded],
            history.Select(e => e.To));
        Assert.Empty(await store.ListActiveAsync(None));
    }

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        await emulator.WipeAsync(_project);
        Directory.Delete(_root, recursive: true);
    }

    private static async Task<Job> WaitForAsync(Core.Ports.IJobStore store, string jobId, Func<Job, bool> condition)
    {
        var deadline = DateTime.UtcNow + Timeout;
        while (true)
        {
            if (await store.GetAsync(jobId, None) is { } job && condition(job))
            {
                return job;
            }

            Assert.True(DateTime.UtcNow < deadline, $"job {jobId} did not reach the expected state within {Timeout}");
            await Task.Delay(100);
        }
    }
}
