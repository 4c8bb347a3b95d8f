using System.Collections.Concurrent;
using Microsoft.Extensions.Time.Testing;
using SpotJax.TpuSimulation;

namespace SpotJax.Tpu.Tests;

/// <summary>
/// The simulator's ledger, the evidence of the chaos run: a queued resource made, a delete accepted and a
/// preemption are each recorded once, in order, and shown to the callback before the call is answered; a create
/// repeated with its request id, or a delete repeated, records nothing.
/// </summary>
public sealed class LedgerTests : IAsyncLifetime
{
    private readonly FakeTimeProvider _time = new(DateTimeOffset.UtcNow);
    private readonly ConcurrentQueue<LedgerEntry> _seen = new();
    private SimulatorHarness _harness = null!;

    public async Task InitializeAsync() =>
        _harness = await SimulatorHarness.StartAsync(o => o with { DeleteDelay = TimeSpan.FromMinutes(1), OnLedgerEntry = _seen.Enqueue }, _time);

    public async Task DisposeAsync() => await _harness.DisposeAsync();

    [Fact]
    public async Task CreateRepeatedPreemptAndDeleteTwice_RecordsOneEntryEachInOrder()
    {
        var zone = SimulatorHarness.NewZone();
        var id = SimulatorHarness.NewId("qr");
        var body = SimulatorHarness.SpotBody(zone, id);
        await _harness.Client.CreateQueuedResourceAsync(zone, id, body, "create-1", CancellationToken.None);
        await _harness.Client.CreateQueuedResourceAsync(zone, id, body, "create-1", CancellationToken.None);
        await _harness.Simulator.PreemptAsync(zone, id);
        await _harness.Client.DeleteQueuedResourceAsync(zone, id, force: true, "delete-1", CancellationToken.None);
        await _harness.Client.DeleteQueuedResourceAsync(zone, id, force: true, "delete-2", CancellationToken.None);

        var ledger = _harness.Simulator.Ledger.Where(e => e.Zone == zone).ToList();

        Assert.Equal([LedgerEvent.Created, LedgerEvent.Preempted, LedgerEvent.DeleteAccepted], ledger.Select(e => e.Event));
        Assert.All(ledger, e => Assert.Equal((SimulatorHarness.Project, id), (e.Project, e.QueuedResourceId)));
        Assert.Equal(("create-1", "delete-1"), (ledger[0].RequestId, ledger[2].RequestId));
        Assert.Equal(ledger, _seen.Where(e => e.Zone == zone));
    }

    [Fact]
    public async Task CreateRefusedInsideItsOperation_RecordsNothing()
    {
        var zone = SimulatorHarness.NewZone();
        _harness.Simulator.SetFaults(new TpuFaults { OperationErrorRate = 1 });

        await _harness.CreateAsync(zone);

        Assert.DoesNotContain(_harness.Simulator.Ledger, e => e.Zone == zone);
    }
}
