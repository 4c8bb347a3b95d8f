using System.Text.Json;
using System.Text;
using SpotJax.Contracts;
using SpotJax.Core.Jobs;
using SpotJax.Core;
using SpotJax.Functions.Local;
using SpotJax.Local.Messaging;

namespace SpotJax.Tests.EndToEnd;

/// <summary>
/// The whole lifecycle in local mode: every function over the in-process bus, SQLite, the folder
/// bucket, the TPU simulator and real worker processes, with preemptions injected on the way.
/// </summary>
public sealed class LocalLifecycleTests
{
    private static readonly string Quickstart = Path.Combine(Repository.Root, "examples", "quickstart");

    private static async Task<LocalControlPlane> StartAsync(InProcessBusOptions? bus = null) =>
        await LocalControlPlane.StartAsync(
            new LocalControlPlaneOptions
            {
                Root = Directory.CreateTempSubdirectory("spotjax-e2e-").FullName,
                ProvisionDelay = TimeSpan.FromMilliseconds(200),
                PreemptionGrace = TimeSpan.FromSeconds(3),
                SweepInterval = TimeSpan.FromMilliseconds(500),
                Lifecycle = new() { BackoffBase = TimeSpan.FromMilliseconds(200), BackoffMax = TimeSpan.FromSeconds(1), StuckAfter = TimeSpan.FromSeconds(10) },
                Bus = bus,
            },
            CancellationToken.None);

    private static JobSpec Spec(string code, string script = "train.py", string type = "v4-8", int maxRetries = 5, params string[] args) => new()
    {
        Name = "e2e",
        Tpu = new TpuSpec { Type = type, Zones = ["us-central2-b"], RuntimeVersion = "tpu-ubuntu2204-base" },
        Code = code,
        Script = script,
        Args = args,
        MaxRetries = maxRetries,
    };

    private static async Task<Job> WaitAsync(LocalControlPlane plane, string jobId, Func<Job, bool> condition, int seconds = 60)
    {
        Job? job = null;
        await Eventually.TrueAsync(
            async () => (job = await plane.Store.GetAsync(jobId, CancellationToken.None)) is { } j && condition(j),
            TimeSpan.FromSeconds(seconds));
        return job!;
    }

    /// <summary>
    /// Preempts the attempt once it runs; the jobs preempted here run with <c>--wait-for-preemption</c>,
    /// so the attempt is still running when the preemption comes, however late that is.
    /// </summary>
    private static async Task PreemptWhenRunningAsync(LocalControlPlane plane, string jobId, int attempt, Func<Job, bool>? also = null)
    {
        await WaitAsync(plane, jobId, j => j.State == JobState.Running && j.Attempt == attempt && (also?.Invoke(j) ?? true));
        await plane.PreemptAsync(jobId, CancellationToken.None);
    }

    [Fact]
    public async Task Quickstart_WithOnePreemption_ResumesFromCheckpointAndSucceeds()
    {
        await using var plane = await StartAsync();
        var jobId = await plane.SubmitAsync(Spec(Quickstart, args: ["--steps", "30", "--step-seconds", "0.1", "--wait-for-preemption"]), "quickstart-1", CancellationToken.None);

        await PreemptWhenRunningAsync(plane, jobId, 1, j => j.LastCheckpointStep >= 5);
        var job = await WaitAsync(plane, jobId, j => j.State.IsTerminal());

        Assert.Equal(JobState.Succeeded, job.State);
        Assert.Equal((2, 1, 0), (job.Attempt, job.PreemptionsSpent, job.FailuresSpent));
        var first = await File.ReadAllTextAsync(plane.LogPath(job, 1, 0));
        var second = await File.ReadAllTextAsync(plane.LogPath(job, 2, 0));
        Assert.Contains("starting fresh", first, StringComparison.Ordinal);
        Assert.Contains("resumed from checkpoint step", second, StringComparison.Ordinal);
        Assert.Contains("finished at step 30", second, StringComparison.Ordinal);
        Assert.Null(await plane.Tpu.GetQueuedResourceAsync("us-central2-b", $"{jobId}-1", CancellationToken.None));
        await Eventually.TrueAsync(async () => await plane.Tpu.GetQueuedResourceAsync("us-central2-b", $"{jobId}-2", CancellationToken.None) is null);

        var history = await plane.Store.GetHistoryAsync(jobId, CancellationToken.None);
        Assert.Equal(
            [JobState.Queued, JobState.Provisioning, JobState.Launching, JobState.Running, JobState.Recovering, JobState.Provisioning, JobState.Launching, JobState.Running, JobState.Succeeded],
            history.Select(e => e.To));
    }

    [Fact]
    public async Task Quickstart_WithDuplicatedAndReorderedDeliveries_EndsTheSame()
    {
        await using var plane = await StartAsync(new InProcessBusOptions { DuplicateProbability = 1, MaxReorderDelay = TimeSpan.FromMilliseconds(100), Seed = 7 });
        var jobId = await plane.SubmitAsync(Spec(Quickstart, args: ["--steps", "30", "--step-seconds", "0.1", "--wait-for-preemption"]), "chaos-1", CancellationToken.None);

        await PreemptWhenRunningAsync(plane, jobId, 1, j => j.LastCheckpointStep >= 5);
        var job = await WaitAsync(plane, jobId, j => j.State.IsTerminal());

        Assert.Equal((JobState.Succeeded, 2, 1), (job.State, job.Attempt, job.PreemptionsSpent));
        var history = await plane.Store.GetHistoryAsync(jobId, CancellationToken.None);
        Assert.Equal(2, history.Count(e => e.To == JobState.Provisioning));
        Assert.Equal(2, history.Count(e => e.To == JobState.Running));
        Assert.Single(history, e => e.To == JobState.Recovering);
        var starts = (await File.ReadAllTextAsync(plane.LogPath(job, 1, 0))).Split('\n').Count(l => l.Contains("starting fresh", StringComparison.Ordinal));
        Assert.Equal(1, starts);
    }

    [Fact]
    public async Task MultiHostSlice_EveryWorkerSeesItsOwnIdAndTheSameCoordinator()
    {
        var code = Directory.CreateTempSubdirectory("code-").FullName;
        // Like a real multi-host job, worker 0 ends only after every worker has started (a barrier in
        // the shared checkpoint folder): its exit ends the job, and the node's other processes with it.
        await File.WriteAllTextAsync(Path.Combine(code, "env.py"), """
            import json, os, time
            keys = ["SPOT_WORKER_ID", "SPOT_NUM_WORKERS", "JAX_COORDINATOR_ADDRESS", "SPOT_JOB_ID", "SPOT_ATTEMPT", "SPOT_IS_RESTART", "SPOT_CHECKPOINT_DIR"]
            seen = {k: os.environ.get(k) for k in keys}
            print(json.dumps(seen), flush=True)
            folder = os.path.join(os.environ["SPOT_CHECKPOINT_DIR"], "started")
            os.makedirs(folder, exist_ok=True)
            open(os.path.join(folder, seen["SPOT_WORKER_ID"]), "w").close()
            deadline = time.time() + 60
            while seen["SPOT_WORKER_ID"] == "0" and len(os.listdir(folder)) < int(seen["SPOT_NUM_WORKERS"]) and time.time() < deadline:
                time.sleep(0.05)
            """);
        await using var plane = await StartAsync();
        var jobId = await plane.SubmitAsync(Spec(code, script: "env.py", type: "v4-32"), "multi-1", CancellationToken.None);

        var job = await WaitAsync(plane, jobId, j => j.State.IsTerminal());

        Assert.Equal((JobState.Succeeded, 4), (job.State, job.Workers));
        var seen = new List<Dictionary<string, string?>>();
        for (var worker = 0; worker < 4; worker++)
        {
            var path = plane.LogPath(job, 1, worker);
            await Eventually.TrueAsync(() => File.Exists(path) && File.ReadAllText(path).Contains('}', StringComparison.Ordinal));
            seen.Add(JsonSerializer.Deserialize<Dictionary<string, string?>>((await File.ReadAllLinesAsync(path)).First(l => l.StartsWith('{')))!);
        }

        Assert.Equal(["0", "1", "2", "3"], seen.Select(s => s["SPOT_WORKER_ID"]));
        Assert.All(seen, s => Assert.Equal("4", s["SPOT_NUM_WORKERS"]));
        Assert.Single(seen.Select(s => s["JAX_COORDINATOR_ADDRESS"]).Distinct());
        Assert.EndsWith(":8476", seen[0]["JAX_COORDINATOR_ADDRESS"], StringComparison.Ordinal);
        Assert.All(seen, s => Assert.Equal((jobId, "1", "false"), (s["SPOT_JOB_ID"], s["SPOT_ATTEMPT"], s["SPOT_IS_RESTART"])));
    }

    [Fact]
    public async Task FailingScript_MoreOftenThanMaxRetries_FailsWithTheExitCode()
    {
        var code = Directory.CreateTempSubdirectory("code-").FullName;
        await File.WriteAllTextAsync(Path.Combine(code, "train.py"), "import sys\nprint('boom')\nsys.exit(3)\n");
        await using var plane = await StartAsync();
        var jobId = await plane.SubmitAsync(Spec(code, maxRetries: 1), "fail-1", CancellationToken.None);

        var job = await WaitAsync(plane, jobId, j => j.State.IsTerminal());

        Assert.Equal((JobState.Failed, 3, 2, 2, 0), (job.State, job.ExitCode, job.Attempt, job.FailuresSpent, job.PreemptionsSpent));
        Assert.Contains("retry budget exhausted (1)", job.LastError + (await plane.Store.GetHistoryAsync(jobId, CancellationToken.None))[^1].Cause, StringComparison.Ordinal);
        await Eventually.TrueAsync(async () => (await plane.Tpu.ListQueuedResourcesAsync("us-central2-b", CancellationToken.None)).Count == 0);
    }

    [Fact]
    public async Task Cancel_WhileRunning_EndsCancelledAndDeletesTheResource()
    {
        var code = Directory.CreateTempSubdirectory("code-").FullName;
        await File.WriteAllTextAsync(Path.Combine(code, "train.py"), "import time\nwhile True:\n    time.sleep(0.1)\n");
        await using var plane = await StartAsync();
        var jobId = await plane.SubmitAsync(Spec(code), "cancel-1", CancellationToken.None);
        await WaitAsync(plane, jobId, j => j.State == JobState.Running);

        await plane.CancelAsync(jobId, CancellationToken.None);
        var job = await WaitAsync(plane, jobId, j => j.State.IsTerminal());

        Assert.Equal(JobState.Cancelled, job.State);
        await Eventually.TrueAsync(async () => await plane.Tpu.GetQueuedResourceAsync("us-central2-b", $"{jobId}-1", CancellationToken.None) is null);
        var exited = BucketLayout.Marker(jobId, 1, 0, MarkerKind.Exited);
        await Eventually.TrueAsync(async () => await plane.Objects.GetAsync(exited, CancellationToken.None) is not null);
    }

    [Fact]
    public async Task ManifestUploadedToTheBucket_StartsARunOnce()
    {
        var code = Directory.CreateTempSubdirectory("code-").FullName;
        await File.WriteAllTextAsync(Path.Combine(code, "train.py"), "print('hello from a manifest')\n");
        await using var plane = await StartAsync();
        var bundle = await plane.UploadCodeAsync(code, CancellationToken.None);
        var manifest = $"name: manifest job\ntpu: {{type: v5litepod-8, zone: us-central2-b}}\ncode: {bundle}\nscript: train.py\n";

        await plane.Objects.PutAsync("jobs/manifest.yaml", Encoding.UTF8.GetBytes(manifest), CancellationToken.None);

        Job? job = null;
        await Eventually.TrueAsync(async () => (job = (await plane.Store.ListRecentAsync(10, CancellationToken.None)).SingleOrDefault()) is { State: JobState.Succeeded }, TimeSpan.FromSeconds(60));
        Assert.StartsWith("gcs:spotjax-local/jobs/manifest.yaml#", job!.Submission, StringComparison.Ordinal);
        Assert.Contains("hello from a manifest", await File.ReadAllTextAsync(plane.LogPath(job, 1, 0)), StringComparison.Ordinal);
    }

    [Fact]
    public async Task PublishedJsonMessage_WithoutSubmissionId_UsesTheMessageIdAndRejectsInvalidOnes()
    {
        await using var plane = await StartAsync();

        await plane.Bus.PublishAsync(Topics.Default.Jobs, Core.Ports.OutgoingMessage.FromText("{\"name\": \"bad\", \"tpu\": {\"type\": \"v4-7\", \"zone\": \"us-central2-b\"}, \"code\": \"gs://b/c\", \"script\": \"t.py\"}"), CancellationToken.None);

        Job? job = null;
        await Eventually.TrueAsync(async () => (job = (await plane.Store.ListRecentAsync(10, CancellationToken.None)).SingleOrDefault()) is not null);
        Assert.Equal(JobState.Rejected, job!.State);
        Assert.StartsWith("pubsub:", job.Submission, StringComparison.Ordinal);
        Assert.Contains("tpu.type", job.LastError, StringComparison.Ordinal);
    }
}
