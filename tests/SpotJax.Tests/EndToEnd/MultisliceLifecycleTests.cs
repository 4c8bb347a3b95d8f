using System.Text.Json;
using SpotJax.Contracts;
using SpotJax.Core.Jobs;
using SpotJax.Functions.Local;
using SpotJax.Local.Messaging;

namespace SpotJax.Tests.EndToEnd;

/// <summary>
/// A multislice job, v4-32 x 2 slices, through the whole lifecycle in local mode, with local worker processes and
/// over the production SSH runner: 8 workers, each with its slice's id and the same multislice coordinator; one
/// preemption of slice 1 ends the attempt of both slices once, and the job resumes and succeeds with no queued
/// resource left.
/// </summary>
public sealed class MultisliceLifecycleTests
{
    private const string Zone = "us-central2-b";

    private static readonly string[] Keys =
    [
        "SPOT_WORKER_ID", "SPOT_NUM_WORKERS", "SPOT_ATTEMPT", "JAX_COORDINATOR_ADDRESS",
        "MEGASCALE_COORDINATOR_ADDRESS", "MEGASCALE_NUM_SLICES", "MEGASCALE_SLICE_ID", "MEGASCALE_PORT",
    ];

    [Fact]
    public async Task TwoSlicesOfV4_32_LocalWorkersWithDuplicateDeliveries_OnePreemptionOfSlice1_OneRecoveryAndSucceeds()
    {
        var root = Directory.CreateTempSubdirectory("spotjax-e2e-multislice-").FullName;
        try
        {
            await using var plane = await StartAsync(
                root, sshWorkers: false, new InProcessBusOptions { DuplicateProbability = 1, MaxReorderDelay = TimeSpan.FromMilliseconds(50), Seed = 11 });
            await RunWithOnePreemptionOfSlice1Async(plane, root, sweepTwiceAfterThePreemption: true);
        }
        finally
        {
            await DeleteWhenReleasedAsync(root);
        }
    }

    [Fact]
    [System.Runtime.Versioning.UnsupportedOSPlatform("windows")] // sshd workers
    public async Task TwoSlicesOfV4_32_OverSsh_OnePreemptionOfSlice1_OneRecoveryAndSucceeds()
    {
        var root = Directory.CreateTempSubdirectory("spotjax-e2e-multislice-ssh-").FullName;
        try
        {
            await using var plane = await StartAsync(root, sshWorkers: true, bus: null);
            await RunWithOnePreemptionOfSlice1Async(plane, root, sweepTwiceAfterThePreemption: false);

            // Slice 1's workers were reached over SSH too: each recorded its host key under its attempt-wide index.
            var key = await plane.Objects.GetAsync($"{(await plane.Store.ListRecentAsync(1, CancellationToken.None)).Single().Id}/hostkeys/attempt-1/worker-7", CancellationToken.None);
            Assert.StartsWith("ssh-ed25519 SHA256:", System.Text.Encoding.UTF8.GetString(key!), StringComparison.Ordinal);
        }
        finally
        {
            await DeleteWhenReleasedAsync(root);
        }
    }

    /// <summary>
    /// Deletes the test's folder once nothing writes into it any more: an agent's last upload (its exit marker,
    /// its log's last lines) may still land in the bucket folder just after the plane stopped, as it may on a
    /// node being deleted, and a delete that meets it fails with "Directory not empty" (seen once over sshd).
    /// </summary>
    private static Task DeleteWhenReleasedAsync(string root) =>
        Eventually.TrueAsync(
            () =>
            {
                try
                {
                    Directory.Delete(root, recursive: true);
                    return true;
                }
                catch (IOException)
                {
                    return false;
                }
            },
            TimeSpan.FromSeconds(60));

    private static Task<LocalControlPlane> StartAsync(string root, bool sshWorkers, InProcessBusOptions? bus) =>
        LocalControlPlane.StartAsync(
            new LocalControlPlaneOptions
            {
                Root = Path.Combine(root, "state"),
                SshWorkers = sshWorkers,
                ProvisionDelay = TimeSpan.FromMilliseconds(200),
                PreemptionGrace = TimeSpan.FromSeconds(3),
                SweepInterval = TimeSpan.FromMilliseconds(500),
                Lifecycle = new() { BackoffBase = TimeSpan.FromMilliseconds(200), BackoffMax = TimeSpan.FromSeconds(1), StuckAfter = TimeSpan.FromSeconds(30) },
                Bus = bus,
            },
            CancellationToken.None);

    private static async Task RunWithOnePreemptionOfSlice1Async(LocalControlPlane plane, string root, bool sweepTwiceAfterThePreemption)
    {
        // The quickstart's training loop, after a line with the variables the worker was started with.
        var code = Directory.CreateDirectory(Path.Combine(root, "code")).FullName;
        File.Copy(Path.Combine(Repository.Root, "examples", "quickstart", "train.py"), Path.Combine(code, "train.py"));
        await File.WriteAllTextAsync(Path.Combine(code, "env_then_train.py"), $$"""
            import json, os, runpy, sys
            print(json.dumps({k: os.environ.get(k) for k in {{JsonSerializer.Serialize(Keys)}}}), flush=True)
            sys.argv = ["train.py"] + sys.argv[1:]
            runpy.run_path(os.path.join(os.path.dirname(os.path.abspath(__file__)), "train.py"), run_name="__main__")
            """);
        var spec = new JobSpec
        {
            Name = "multislice",
            Tpu = new TpuSpec { Type = "v4-32", Zones = [Zone], RuntimeVersion = "tpu-ubuntu2204-base" },
            Code = code,
            Script = "env_then_train.py",
            // The first attempt waits at its last step for the preemption below: it cannot end before it.
            Args = ["--steps", "30", "--step-seconds", "0.1", "--wait-for-preemption"],
            Slices = 2,
        };
        var jobId = await plane.SubmitAsync(spec, "multislice-1", CancellationToken.None);

        Job? job = null;
        await Eventually.TrueAsync(
            async () => (job = await plane.Store.GetAsync(jobId, CancellationToken.None)) is { State: JobState.Running, Attempt: 1, LastCheckpointStep: >= 5 },
            TimeSpan.FromSeconds(180));
        Assert.Equal(8, job!.Workers);

        // Every worker's first log line (its variables) is in the bucket before the preemption: a worker whose
        // script started last could otherwise lose that line with its node before its log was uploaded.
        var seen = new List<Dictionary<string, string?>>();
        for (var worker = 0; worker < 8; worker++)
        {
            var path = plane.LogPath(job, 1, worker);
            await Eventually.TrueAsync(() => File.Exists(path) && File.ReadAllText(path).Contains('}', StringComparison.Ordinal), TimeSpan.FromSeconds(180));
            seen.Add(JsonSerializer.Deserialize<Dictionary<string, string?>>((await File.ReadAllLinesAsync(path)).First(l => l.StartsWith('{')))!);
        }

        await plane.PreemptAsync(jobId, CancellationToken.None, slice: 1);
        if (sweepTwiceAfterThePreemption)
        {
            // The sweep delivered twice at once, beside the markers' events (each delivered twice by the bus).
            await Task.WhenAll(plane.Functions.Sweep.HandleAsync(CancellationToken.None), plane.Functions.Sweep.HandleAsync(CancellationToken.None));
        }

        await Eventually.TrueAsync(async () => (job = await plane.Store.GetAsync(jobId, CancellationToken.None))!.State.IsTerminal(), TimeSpan.FromSeconds(180));

        Assert.True(job!.State == JobState.Succeeded, job.LastError);
        Assert.Equal((2, 1, 0, 8), (job.Attempt, job.PreemptionsSpent, job.FailuresSpent, job.Workers));
        var history = await plane.Store.GetHistoryAsync(jobId, CancellationToken.None);
        Assert.Single(history, e => e.To == JobState.Recovering);
        Assert.Equal(2, history.Count(e => e.To == JobState.Provisioning));

        Assert.Equal(["0", "0", "0", "0", "1", "1", "1", "1"], seen.Select(s => s["MEGASCALE_SLICE_ID"]));
        Assert.Equal(["0", "1", "2", "3", "0", "1", "2", "3"], seen.Select(s => s["SPOT_WORKER_ID"]));
        Assert.All(seen, s => Assert.Equal(("4", "2", "8081", "1"), (s["SPOT_NUM_WORKERS"], s["MEGASCALE_NUM_SLICES"], s["MEGASCALE_PORT"], s["SPOT_ATTEMPT"])));
        var coordinator = Assert.Single(seen.Select(s => s["MEGASCALE_COORDINATOR_ADDRESS"]).Distinct());
        Assert.EndsWith(":8081", coordinator, StringComparison.Ordinal);

        Assert.Contains("resumed from checkpoint step", await File.ReadAllTextAsync(plane.LogPath(job, 2, 0)), StringComparison.Ordinal);
        Assert.Contains("finished at step 30", await File.ReadAllTextAsync(plane.LogPath(job, 2, 0)), StringComparison.Ordinal);
        await Eventually.TrueAsync(async () => (await plane.Tpu.ListQueuedResourcesAsync(Zone, CancellationToken.None)).Count == 0, TimeSpan.FromSeconds(60));
    }
}
