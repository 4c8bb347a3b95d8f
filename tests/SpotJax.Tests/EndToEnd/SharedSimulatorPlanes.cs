using SpotJax.Contracts;
using SpotJax.Core.Lifecycle;
using SpotJax.Functions.Local;
using SpotJax.TpuSimulation;

namespace SpotJax.Tests.EndToEnd;

/// <summary>
/// Control planes of several deployments on one TPU simulator, as the two-deployments test and the
/// <c>two-deployments</c> benchmark (which links this file) run them.
/// </summary>
public static class SharedSimulatorPlanes
{
    /// <summary>
    /// A plane of deployment <paramref name="deployment"/> on the shared simulator, its TPU calls watched
    /// by <paramref name="ledger"/>. Its clock runs three minutes ahead of the simulator's, so every queued
    /// resource is past the sweep's orphan grace at once: without that, the grace would hide a
    /// cross-deployment delete.
    /// </summary>
    public static Task<LocalControlPlane> StartAsync(string root, string deployment, TpuSimulator simulator, DeploymentLedger ledger, LifecycleOptions lifecycle) =>
        LocalControlPlane.StartAsync(
            new LocalControlPlaneOptions
            {
                Root = Path.Combine(root, deployment),
                Deployment = deployment,
                Simulator = simulator,
                WrapTpuApi = tpu => ledger.Watch(deployment, tpu),
                Time = new AheadTimeProvider(TimeSpan.FromMinutes(3)),
                SweepInterval = TimeSpan.FromMilliseconds(200),
                Lifecycle = lifecycle,
            },
            CancellationToken.None);

    /// <summary>Sweeps every plane in turn, 100 ms apart, until stopped; returns how many sweeps ran.</summary>
    public static async Task<int> SweepUntilStoppedAsync(IReadOnlyList<LocalControlPlane> planes, CancellationToken ct)
    {
        var count = 0;
        using var timer = new PeriodicTimer(TimeSpan.FromMilliseconds(100));
        try
        {
            while (await timer.WaitForNextTickAsync(ct))
            {
                foreach (var plane in planes)
                {
                    await plane.Functions.Sweep.HandleAsync(ct);
                    count++;
                }
            }
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            // Stopped.
        }

        return count;
    }
}
