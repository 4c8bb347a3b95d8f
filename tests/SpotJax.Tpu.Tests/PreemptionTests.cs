using Microsoft.Extensions.Time.Testing;

namespace SpotJax.Tpu.Tests;

/// <summary>Spot preemptions and their effect on the node's real processes.</summary>
public sealed class PreemptionTests
{
    private static readonly TimeSpan Grace = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task PreemptAsync_ActiveNode_SigtermsProcessesThenSuspends()
    {
        var time = new FakeTimeProvider();
        await using var harness = await SimulatorHarness.StartAsync(o => o with { PreemptionGrace = Grace }, time);
        var zone = SimulatorHarness.NewZone();
        var id = await harness.CreateAsync(zone, "v4-16");
        var nodeDirectory = harness.Simulator.NodeDirectory(zone, id);
        using var worker0 = await NodeProcess.StartGracefulAsync(Path.Combine(nodeDirectory, "worker-0"));
        using var worker1 = await NodeProcess.StartGracefulAsync(Path.Combine(nodeDirectory, "worker-1"));

        await harness.Simulator.PreemptAsync(zone, id);
        await worker0.WaitForExitAsync();
        await worker1.WaitForExitAsync();
        var suspending = await harness.Client.GetQueuedResourceAsync(zone, id, CancellationToken.None);
        var node = await harness.Client.GetNodeAsync(zone, id, CancellationToken.None);
        time.Advance(Grace);
        var suspended = await harness.Client.GetQueuedResourceAsync(zone, id, CancellationToken.None);
        var nodeLater = await harness.Client.GetNodeAsync(zone, id, CancellationToken.None);

        Assert.Equal((0, 0), (worker0.ExitCode, worker1.ExitCode));
        Assert.Equal("term", File.ReadAllText(worker0.TermFile).Trim());
        Assert.Equal("term", File.ReadAllText(worker1.TermFile).Trim());
        Assert.Equal(("SUSPENDING", "SERVICE"), (suspending?.State?.State, suspending?.State?.StateInitiator));
        Assert.Equal("PREEMPTED", node?.State);
        Assert.Equal(("SUSPENDED", "SERVICE"), (suspended?.State?.State, suspended?.State?.StateInitiator));
        Assert.Equal("PREEMPTED", nodeLater?.State);
    }

    [Fact]
    public async Task PreemptAsync_ProcessIgnoresSigterm_SigkilledAfterGrace()
    {
        var time = new FakeTimeProvider();
        await using var harness = await SimulatorHarness.StartAsync(o => o with { PreemptionGrace = Grace }, time);
        var zone = SimulatorHarness.NewZone();
        var id = await harness.CreateAsync(zone);
        using var process = await NodeProcess.StartStubbornAsync(Path.Combine(harness.Simulator.NodeDirectory(zone, id), "worker-0"));

        await harness.Simulator.PreemptAsync(zone, id);
        await Eventually.TrueAsync(() => File.Exists(process.TermFile), "the SIGTERM trap");
        var aliveAfterSigterm = !process.HasExited;
        time.Advance(Grace);
        await process.WaitForExitAsync();

        Assert.True(aliveAfterSigterm);
        Assert.Equal(128 + 9, process.ExitCode);
        Assert.False(File.Exists(Path.Combine(process.WorkerDirectory, "a.pgid")));
    }

    [Fact]
    public async Task PreemptAsync_NotActive_ThrowsInvalidOperation()
    {
        var time = new FakeTimeProvider();
        await using var harness = await SimulatorHarness.StartAsync(o => o with { ProvisionDelay = TimeSpan.FromMinutes(5) }, time);
        var zone = SimulatorHarness.NewZone();
        var id = await harness.CreateAsync(zone);

        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => harness.Simulator.PreemptAsync(zone, id));

        Assert.Contains("CREATING", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Delete_ProcessRegistersAfterTheDelete_IsKilledWithoutGrace()
    {
        var time = new FakeTimeProvider();
        await using var harness = await SimulatorHarness.StartAsync(o => o with { PreemptionGrace = Grace }, time);
        var zone = SimulatorHarness.NewZone();
        var id = await harness.CreateAsync(zone);
        var nodeDirectory = harness.Simulator.NodeDirectory(zone, id);
        using var early = await NodeProcess.StartStubbornAsync(Path.Combine(nodeDirectory, "worker-0"));
        await harness.Client.DeleteQueuedResourceAsync(zone, id, force: true, "delete-1", CancellationToken.None);
        // The delete's own SIGTERM, then its SIGKILL after at most a second.
        time.Advance(TimeSpan.FromSeconds(1));
        await early.WaitForExitAsync();

        // A launch that raced the delete starts an agent on the node that is gone.
        using var late = await NodeProcess.StartStubbornAsync(Path.Combine(nodeDirectory, "worker-1"));
        time.Advance(TimeSpan.FromMilliseconds(250));
        await late.WaitForExitAsync();

        Assert.Equal(128 + 9, early.ExitCode);
        Assert.Equal(128 + 9, late.ExitCode);
        Assert.False(File.Exists(late.TermFile), "a late registration is killed at once, without a grace");
    }

    [Fact]
    public async Task DisposeAsync_NodeProcessRunning_KillsIt()
    {
        var harness = await SimulatorHarness.StartAsync();
        NodeProcess? process = null;
        try
        {
            var zone = SimulatorHarness.NewZone();
            var id = await harness.CreateAsync(zone);
            process = await NodeProcess.StartStubbornAsync(Path.Combine(harness.Simulator.NodeDirectory(zone, id), "worker-0"));

            await harness.DisposeAsync();
            await process.WaitForExitAsync();

            Assert.Equal(128 + 9, process.ExitCode);
        }
        finally
        {
            process?.Dispose();
            await harness.DisposeAsync();
        }
    }
}
