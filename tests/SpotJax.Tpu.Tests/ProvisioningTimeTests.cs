using Microsoft.Extensions.Time.Testing;

namespace SpotJax.Tpu.Tests;

/// <summary>State transitions driven by a fake clock.</summary>
public sealed class ProvisioningTimeTests
{
    [Fact]
    public async Task GetQueuedResourceAsync_ProvisionDelayTenMinutes_ActiveOnlyAfterDelay()
    {
        var time = new FakeTimeProvider();
        await using var harness = await SimulatorHarness.StartAsync(o => o with { ProvisionDelay = TimeSpan.FromMinutes(10) }, time);
        var zone = SimulatorHarness.NewZone();
        var id = SimulatorHarness.NewId("qr");
        var create = await harness.Client.CreateQueuedResourceAsync(zone, id, SimulatorHarness.SpotBody(zone, id), SimulatorHarness.NewId("req"), CancellationToken.None);

        var states = new List<string?>();
        foreach (var step in new[] { 0, 4, 4, 1 })
        {
            time.Advance(TimeSpan.FromMinutes(step));
            states.Add((await harness.Client.GetQueuedResourceAsync(zone, id, CancellationToken.None))?.State?.State);
        }

        var nodeBefore = await harness.Client.GetNodeAsync(zone, id, CancellationToken.None);
        var operationBefore = await harness.Client.GetOperationAsync(create!.Name!, CancellationToken.None);
        time.Advance(TimeSpan.FromMinutes(1));
        var after = await harness.Client.GetQueuedResourceAsync(zone, id, CancellationToken.None);
        var nodeAfter = await harness.Client.GetNodeAsync(zone, id, CancellationToken.None);
        var operationAfter = await harness.Client.GetOperationAsync(create.Name!, CancellationToken.None);

        Assert.Equal(["CREATING", "ACCEPTED", "PROVISIONING", "PROVISIONING"], states);
        Assert.False(create.Done);
        Assert.Null(nodeBefore);
        Assert.False(operationBefore.Done);
        Assert.Equal("ACTIVE", after?.State?.State);
        Assert.Equal("READY", nodeAfter?.State);
        Assert.True(operationAfter.Done);
        Assert.Null(operationAfter.Error);
    }

    [Fact]
    public async Task GetQueuedResourceAsync_ProvisionDelayOfOneResource_OnlyThatOneWaitsLonger()
    {
        var time = new FakeTimeProvider();
        var slow = SimulatorHarness.NewId("slow");
        await using var harness = await SimulatorHarness.StartAsync(
            o => o with { ProvisionDelay = TimeSpan.FromSeconds(3), ProvisionDelayOf = q => q.Tpu!.NodeSpec![0].NodeId == slow ? TimeSpan.FromMinutes(10) : TimeSpan.FromSeconds(3) },
            time);
        var zone = SimulatorHarness.NewZone();
        var quick = SimulatorHarness.NewId("quick");
        foreach (var id in new[] { quick, slow })
        {
            await harness.Client.CreateQueuedResourceAsync(zone, id, SimulatorHarness.SpotBody(zone, id), SimulatorHarness.NewId("req"), CancellationToken.None);
        }

        time.Advance(TimeSpan.FromSeconds(3));
        var quickAfterThreeSeconds = await harness.Client.GetQueuedResourceAsync(zone, quick, CancellationToken.None);
        var slowAfterThreeSeconds = await harness.Client.GetQueuedResourceAsync(zone, slow, CancellationToken.None);
        time.Advance(TimeSpan.FromMinutes(10));
        var slowAfterTenMinutes = await harness.Client.GetQueuedResourceAsync(zone, slow, CancellationToken.None);

        Assert.Equal("ACTIVE", quickAfterThreeSeconds?.State?.State);
        Assert.Equal("CREATING", slowAfterThreeSeconds?.State?.State);
        Assert.Equal("ACTIVE", slowAfterTenMinutes?.State?.State);
    }

    [Fact]
    public async Task GetQueuedResourceAsync_ZoneWithoutCapacity_WaitsThenFailsWithDeadlineExceeded()
    {
        var time = new FakeTimeProvider();
        var zone = SimulatorHarness.NewZone();
        await using var harness = await SimulatorHarness.StartAsync(
            o => o with { ZonesWithoutCapacity = new HashSet<string> { zone } }, time);
        var id = SimulatorHarness.NewId("qr");
        var create = await harness.Client.CreateQueuedResourceAsync(
            zone, id, SimulatorHarness.SpotBody(zone, id, validUntil: "7200s"), SimulatorHarness.NewId("req"), CancellationToken.None);

        time.Advance(TimeSpan.FromSeconds(7199));
        var waiting = await harness.Client.GetQueuedResourceAsync(zone, id, CancellationToken.None);
        time.Advance(TimeSpan.FromSeconds(1));
        var failed = await harness.Client.GetQueuedResourceAsync(zone, id, CancellationToken.None);
        var operation = await harness.Client.GetOperationAsync(create!.Name!, CancellationToken.None);

        Assert.Equal("WAITING_FOR_RESOURCES", waiting?.State?.State);
        Assert.Equal("FAILED", failed?.State?.State);
        Assert.Equal(4, failed?.State?.FailedData?.Error?.Code);
        Assert.Null(await harness.Client.GetNodeAsync(zone, id, CancellationToken.None));
        Assert.True(operation.Done);
        Assert.Equal(4, operation.Error?.Code);
    }

    [Fact]
    public async Task DeleteQueuedResourceAsync_FailedWithoutForce_Succeeds()
    {
        var time = new FakeTimeProvider();
        var zone = SimulatorHarness.NewZone();
        await using var harness = await SimulatorHarness.StartAsync(
            o => o with { ZonesWithoutCapacity = new HashSet<string> { zone } }, time);
        var id = await harness.CreateAsync(zone, validUntil: "60s");
        time.Advance(TimeSpan.FromMinutes(2));

        var operation = await harness.Client.DeleteQueuedResourceAsync(zone, id, force: false, SimulatorHarness.NewId("req"), CancellationToken.None);

        Assert.True(operation?.Done);
        Assert.Null(await harness.Client.GetQueuedResourceAsync(zone, id, CancellationToken.None));
    }

    [Fact]
    public async Task DeleteQueuedResourceAsync_DeleteDelay_DeletingUntilDelayPassed()
    {
        var time = new FakeTimeProvider();
        await using var harness = await SimulatorHarness.StartAsync(o => o with { DeleteDelay = TimeSpan.FromSeconds(30) }, time);
        var zone = SimulatorHarness.NewZone();
        var id = await harness.CreateAsync(zone);

        var operation = await harness.Client.DeleteQueuedResourceAsync(zone, id, force: true, SimulatorHarness.NewId("req"), CancellationToken.None);
        var deleting = await harness.Client.GetQueuedResourceAsync(zone, id, CancellationToken.None);
        var node = await harness.Client.GetNodeAsync(zone, id, CancellationToken.None);
        time.Advance(TimeSpan.FromSeconds(30));
        var gone = await harness.Client.GetQueuedResourceAsync(zone, id, CancellationToken.None);
        var done = await harness.Client.GetOperationAsync(operation!.Name!, CancellationToken.None);

        Assert.False(operation.Done);
        Assert.Equal("DELETING", deleting?.State?.State);
        Assert.Equal("DELETING", node?.State);
        Assert.Null(gone);
        Assert.True(done.Done);
    }
}
