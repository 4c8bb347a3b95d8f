using Microsoft.Extensions.Time.Testing;
using SpotJax.Core.Tpu;

namespace SpotJax.Tpu.Tests;

/// <summary>
/// The simulator's request ids as AIP-155 and the TPU API's "Idempotent request UUID" describe them: a request id
/// seen before (for that method and resource, within 60 minutes) gets the original operation, however it ended,
/// and nothing is done again; a new request id acts.
/// </summary>
public sealed class RequestIdTests : IAsyncLifetime
{
    private readonly FakeTimeProvider _time = new(DateTimeOffset.UtcNow);
    private SimulatorHarness _harness = null!;

    public async Task InitializeAsync() =>
        _harness = await SimulatorHarness.StartAsync(o => o with { DeleteDelay = TimeSpan.FromMinutes(1) }, _time);

    public async Task DisposeAsync() => await _harness.DisposeAsync();

    [Fact]
    public async Task Delete_SameRequestIdAfterItsOperationFailed_ReturnsTheFailedOperationAndDeletesNothing()
    {
        var zone = SimulatorHarness.NewZone();
        var id = await _harness.CreateAsync(zone);
        await _harness.Simulator.FailNextDeleteAsync(zone, id);

        var failed = await Delete(zone, id, "delete-1");
        var again = await Delete(zone, id, "delete-1");

        Assert.True(failed is { Done: true, Error.Code: 13 }, $"{failed}");
        Assert.Equal(failed.Name, again?.Name);
        Assert.Equal(13, again?.Error?.Code);
        Assert.Equal("ACTIVE", (await _harness.Client.GetQueuedResourceAsync(zone, id, CancellationToken.None))?.State?.State);
    }

    [Fact]
    public async Task Delete_NewRequestIdAfterAFailedOne_Deletes()
    {
        var zone = SimulatorHarness.NewZone();
        var id = await _harness.CreateAsync(zone);
        await _harness.Simulator.FailNextDeleteAsync(zone, id);
        var failed = await Delete(zone, id, "delete-1");

        var retried = await Delete(zone, id, "delete-2");

        Assert.NotEqual(failed?.Name, retried?.Name);
        Assert.Null(retried?.Error);
        Assert.Equal("DELETING", (await _harness.Client.GetQueuedResourceAsync(zone, id, CancellationToken.None))?.State?.State);
    }

    [Fact]
    public async Task Delete_SameRequestIdAfterTheResourceIsGone_ReturnsTheOriginalDoneOperation()
    {
        var zone = SimulatorHarness.NewZone();
        var id = await _harness.CreateAsync(zone);
        var first = await Delete(zone, id, "delete-1");
        _time.Advance(TimeSpan.FromMinutes(2));
        Assert.Null(await _harness.Client.GetQueuedResourceAsync(zone, id, CancellationToken.None));

        var again = await Delete(zone, id, "delete-1");
        var other = await Delete(zone, id, "delete-2");

        Assert.Equal(first?.Name, again?.Name);
        Assert.True(again is { Done: true, Error: null }, $"{again}");
        Assert.Null(other);
    }

    [Fact]
    public async Task Create_SameRequestIdAfterTheResourceWasDeleted_ReturnsTheOriginalOperationAndCreatesNothing()
    {
        var zone = SimulatorHarness.NewZone();
        var id = SimulatorHarness.NewId("qr");
        var body = SimulatorHarness.SpotBody(zone, id);
        var created = await _harness.Client.CreateQueuedResourceAsync(zone, id, body, "create-1", CancellationToken.None);
        await Delete(zone, id, "delete-1");
        _time.Advance(TimeSpan.FromMinutes(2));

        var again = await _harness.Client.CreateQueuedResourceAsync(zone, id, body, "create-1", CancellationToken.None);

        Assert.Equal(created?.Name, again?.Name);
        Assert.Null(await _harness.Client.GetQueuedResourceAsync(zone, id, CancellationToken.None));
    }

    [Fact]
    public async Task Create_SameRequestIdAfterTheWindow_ActsAgain()
    {
        var zone = SimulatorHarness.NewZone();
        var id = SimulatorHarness.NewId("qr");
        var body = SimulatorHarness.SpotBody(zone, id);
        var created = await _harness.Client.CreateQueuedResourceAsync(zone, id, body, "create-1", CancellationToken.None);
        await Delete(zone, id, "delete-1");
        _time.Advance(TimeSpan.FromMinutes(61));

        var again = await _harness.Client.CreateQueuedResourceAsync(zone, id, body, "create-1", CancellationToken.None);

        Assert.NotEqual(created?.Name, again?.Name);
        Assert.NotNull(await _harness.Client.GetQueuedResourceAsync(zone, id, CancellationToken.None));
    }

    [Fact]
    public async Task Create_OtherRequestIdForAnExistingResource_IsAlreadyExists()
    {
        var zone = SimulatorHarness.NewZone();
        var id = SimulatorHarness.NewId("qr");
        var body = SimulatorHarness.SpotBody(zone, id);
        await _harness.Client.CreateQueuedResourceAsync(zone, id, body, "create-1", CancellationToken.None);

        // The client turns ALREADY_EXISTS into null: the resource was made by an earlier delivery.
        Assert.Null(await _harness.Client.CreateQueuedResourceAsync(zone, id, body, "create-2", CancellationToken.None));
    }

    private Task<Operation?> Delete(string zone, string id, string requestId) =>
        _harness.Client.DeleteQueuedResourceAsync(zone, id, force: true, requestId, CancellationToken.None);
}
