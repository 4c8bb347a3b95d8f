using SpotJax.Contracts;
using SpotJax.Core.Jobs;
using SpotJax.Functions.Local;
using SpotJax.TpuSimulation;

namespace SpotJax.Tests.EndToEnd;

/// <summary>
/// The whole lifecycle in local mode with faults injected into the TPU simulator: every function over
/// the in-process bus and the production TPU client, real worker processes, the sweep on its timer.
/// </summary>
public sealed class LocalProvisioningFaultTests
{
    private static readonly string Quickstart = Path.Combine(Repository.Root, "examples", "quickstart");

    [Fact]
    public async Task NoQuotaInTheFirstZoneAndAFlakyApi_FailsOverToTheSecondZoneAndSucceeds()
    {
        await using var plane = await LocalControlPlane.StartAsync(
            new LocalControlPlaneOptions
            {
                Root = Directory.CreateTempSubdirectory("spotjax-faults-").FullName,
                ProvisionDelay = TimeSpan.FromMilliseconds(200),
                PreemptionGrace = TimeSpan.FromSeconds(3),
                SweepInterval = TimeSpan.FromMilliseconds(300),
                Lifecycle = new()
                {
                    BackoffBase = TimeSpan.FromMilliseconds(200),
                    BackoffMax = TimeSpan.FromSeconds(1),
                    StuckAfter = TimeSpan.FromSeconds(10),
                    ProvisionBackoffBase = TimeSpan.FromMilliseconds(200),
                    ProvisionBackoffMax = TimeSpan.FromSeconds(1),
                },
            },
            CancellationToken.None);
        // Every create in the first zone is over quota; a third of list and get calls fail with 503 (seeded).
        plane.Simulator.SetFaults(new TpuFaults
        {
            Seed = 13,
            UnavailableRate = 0.3,
            Methods = ["queuedResources.list", "queuedResources.get"],
            QueuedResourceQuota = new Dictionary<string, int> { ["us-central2-b"] = 0 },
        });
        var spec = new JobSpec
        {
            Name = "faults",
            Tpu = new TpuSpec { Type = "v4-8", Zones = ["us-central2-b", "us-west4-a"], RuntimeVersion = "tpu-ubuntu2204-base" },
            Code = Quickstart,
            Script = "train.py",
            Args = ["--steps", "5", "--step-seconds", "0.05"],
        };

        var jobId = await plane.SubmitAsync(spec, "faults-1", CancellationToken.None);
        Job? job = null;
        await Eventually.TrueAsync(
            async () => (job = await plane.Store.GetAsync(jobId, CancellationToken.None)) is { } j && j.State.IsTerminal(),
            TimeSpan.FromSeconds(90));

        Assert.Equal((JobState.Succeeded, 2, "us-west4-a", 1), (job!.State, job.Attempt, job.Zone, job.PreemptionsSpent));
        var history = await plane.Store.GetHistoryAsync(jobId, CancellationToken.None);
        Assert.Equal(3, history.Count(e => e.From == JobState.Provisioning && e.To == JobState.Provisioning && e.Cause.Contains("Quota limit", StringComparison.Ordinal)));
        Assert.Contains(history, e => e.To == JobState.Recovering && e.Cause.Contains("next attempt in us-west4-a", StringComparison.Ordinal));
    }
}
