using SpotJax.Contracts;
using SpotJax.Core.Jobs;
using SpotJax.Functions.Local;

namespace SpotJax.Tests.EndToEnd;

/// <summary>
/// The lifecycle in local mode with the production SSH runner: every worker is a private sshd on the
/// loopback, reached with SSH.NET, and the TPU simulator preempts what the agent started there.
/// </summary>
public sealed class SshLifecycleTests
{
    [Fact]
    public async Task Quickstart_OverSshWithOnePreemption_ResumesAndSucceeds()
    {
        var root = Directory.CreateTempSubdirectory("spotjax-e2e-ssh-").FullName;
        try
        {
            await RunQuickstartWithOnePreemptionAsync(root);
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }

    [Fact]
    [System.Runtime.Versioning.UnsupportedOSPlatform("windows")] // sshd workers
    public async Task SshWorkers_ToolOnThePlanesPath_FoundByTheScript()
    {
        // A folder that only the plane's PATH names: an sshd login's default PATH would not find the tool.
        var root = Directory.CreateTempSubdirectory("spotjax-e2e-ssh-path-").FullName;
        try
        {
            var tools = Directory.CreateDirectory(Path.Combine(root, "tools")).FullName;
            var probe = Path.Combine(tools, "spotjax-path-probe");
            await File.WriteAllTextAsync(probe, "#!/bin/sh\necho probe found on the PATH\n");
            File.SetUnixFileMode(probe, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
            var code = Directory.CreateDirectory(Path.Combine(root, "code")).FullName;
            await File.WriteAllTextAsync(Path.Combine(code, "probe.sh"), "spotjax-path-probe\n");
            await using var plane = await LocalControlPlane.StartAsync(
                new LocalControlPlaneOptions
                {
                    Root = Path.Combine(root, "state"),
                    SshWorkers = true,
                    SshWorkerPath = tools + Path.PathSeparator + Environment.GetEnvironmentVariable("PATH"),
                    ProvisionDelay = TimeSpan.Zero,
                },
                CancellationToken.None);
            var spec = new JobSpec
            {
                Name = "ssh-path",
                Tpu = new TpuSpec { Type = "v4-8", Zones = ["us-central2-b"], RuntimeVersion = "tpu-ubuntu2204-base" },
                Code = code,
                Script = "probe.sh",
            };
            var jobId = await plane.SubmitAsync(spec, "ssh-path-1", CancellationToken.None);

            Job? job = null;
            await Eventually.TrueAsync(async () => (job = await plane.Store.GetAsync(jobId, CancellationToken.None)) is { } j && j.State.IsTerminal(), TimeSpan.FromSeconds(60));

            Assert.True(job!.State == JobState.Succeeded, job.LastError);
            Assert.Contains("probe found on the PATH", await File.ReadAllTextAsync(plane.LogPath(job, 1, 0)), StringComparison.Ordinal);
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }

    private static async Task RunQuickstartWithOnePreemptionAsync(string root)
    {
        await using var plane = await LocalControlPlane.StartAsync(
            new LocalControlPlaneOptions
            {
                Root = root,
                SshWorkers = true,
                ProvisionDelay = TimeSpan.FromMilliseconds(200),
                PreemptionGrace = TimeSpan.FromSeconds(3),
                SweepInterval = TimeSpan.FromMilliseconds(500),
                Lifecycle = new() { BackoffBase = TimeSpan.FromMilliseconds(200), BackoffMax = TimeSpan.FromSeconds(1), StuckAfter = TimeSpan.FromSeconds(20) },
            },
            CancellationToken.None);
        var spec = new JobSpec
        {
            Name = "e2e-ssh",
            Tpu = new TpuSpec { Type = "v4-8", Zones = ["us-central2-b"], RuntimeVersion = "tpu-ubuntu2204-base" },
            Code = Path.Combine(Repository.Root, "examples", "quickstart"),
            Script = "train.py",
            // The first attempt waits at its last step for the preemption below: it cannot end before it.
            Args = ["--steps", "30", "--step-seconds", "0.1", "--wait-for-preemption"],
        };
        var jobId = await plane.SubmitAsync(spec, "ssh-1", CancellationToken.None);

        Job? job = null;
        await Eventually.TrueAsync(async () => (job = await plane.Store.GetAsync(jobId, CancellationToken.None)) is { State: JobState.Running, Attempt: 1, LastCheckpointStep: >= 5 }, TimeSpan.FromSeconds(60));
        await plane.PreemptAsync(jobId, CancellationToken.None);
        await Eventually.TrueAsync(async () => (job = await plane.Store.GetAsync(jobId, CancellationToken.None))!.State.IsTerminal(), TimeSpan.FromSeconds(60));

        Assert.Equal((JobState.Succeeded, 2, 1, 0), (job!.State, job.Attempt, job.PreemptionsSpent, job.FailuresSpent));
        Assert.Contains("starting fresh", await File.ReadAllTextAsync(plane.LogPath(job, 1, 0)), StringComparison.Ordinal);
        var second = await File.ReadAllTextAsync(plane.LogPath(job, 2, 0));
        Assert.Contains("resumed from checkpoint step", second, StringComparison.Ordinal);
        Assert.Contains("finished at step 30", second, StringComparison.Ordinal);
        // Both attempts went through sshd: each recorded its worker's host key on first contact.
        foreach (var attempt in new[] { 1, 2 })
        {
            var key = await plane.Objects.GetAsync($"{jobId}/hostkeys/attempt-{attempt}/worker-0", CancellationToken.None);
            Assert.StartsWith("ssh-ed25519 SHA256:", System.Text.Encoding.UTF8.GetString(key!), StringComparison.Ordinal);
        }

        Assert.True(Directory.Exists(Path.Combine(root, "sshd", "worker-0")));
    }
}
