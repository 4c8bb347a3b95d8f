using System.Text.Json;
using Microsoft.Extensions.Time.Testing;
using SpotJax.Core.Ports;
using SpotJax.Core.Tpu;
using SpotJax.Google.Http;
using SpotJax.Google.Tpu;
using SpotJax.TpuSimulation;

namespace SpotJax.Tpu.Tests;

/// <summary>
/// <see cref="TpuRestClient.WaitForOperationAsync"/> against the simulator's operations, on a fake clock
/// whose pauses are skipped and recorded: minutes of backoff in milliseconds of real time.
/// </summary>
public sealed class OperationWaitTests
{
    private static readonly CancellationToken None = CancellationToken.None;

    [Fact]
    public async Task WaitForOperationAsync_CreateActiveAfter100s_PausesDoublingTo30sThenReturnsTheResponse()
    {
        await using var run = await Run.StartAsync(o => o with { ProvisionDelay = TimeSpan.FromSeconds(100) });
        var zone = SimulatorHarness.NewZone();
        var created = await run.CreateAsync(zone);

        var done = await run.Clock.RunAsync(() => run.Client.WaitForOperationAsync(created.Name!, TimeSpan.FromMinutes(10), None));

        Assert.True(done.Succeeded);
        Assert.Equal(Seconds(1, 2, 4, 8, 16, 30, 30, 30), run.Clock.Pauses);
        Assert.Equal(TimeSpan.FromSeconds(121), run.Elapsed);
        var resource = done.Response!.Value.Deserialize<QueuedResource>(GoogleJson.Options);
        Assert.Equal(QueuedResourceStates.Active, resource?.State?.State);
        Assert.Equal("type.googleapis.com/google.cloud.tpu.v2.QueuedResource", done.Response.Value.GetProperty("@type").GetString());
    }

    [Fact]
    public async Task WaitForOperationAsync_NoCapacityUntilValidUntil_ReturnsTheOperationsNumericError()
    {
        var zone = SimulatorHarness.NewZone();
        await using var run = await Run.StartAsync(o => o with { ProvisionDelay = TimeSpan.FromSeconds(3), ZonesWithoutCapacity = new HashSet<string> { zone } });
        var created = await run.CreateAsync(zone, validUntil: "60s");

        var done = await run.Clock.RunAsync(() => run.Client.WaitForOperationAsync(created.Name!, TimeSpan.FromMinutes(10), None));

        Assert.Equal((true, false), (done.Done, done.Succeeded));
        Assert.Equal(4, done.Error?.Code);
        Assert.Contains("validUntilDuration", done.Error?.Message, StringComparison.Ordinal);
        Assert.Null(done.Response);
        Assert.Equal(TimeSpan.FromSeconds(61), run.Elapsed);
    }

    [Fact]
    public async Task WaitForOperationAsync_NeverDone_ThrowsDeadlineExceededRightAtTheTimeout()
    {
        var zone = SimulatorHarness.NewZone();
        await using var run = await Run.StartAsync(o => o with { ProvisionDelay = TimeSpan.FromSeconds(3), ZonesWithoutCapacity = new HashSet<string> { zone } });
        var created = await run.CreateAsync(zone);

        var error = await Assert.ThrowsAsync<GoogleApiException>(() =>
            run.Clock.RunAsync(() => run.Client.WaitForOperationAsync(created.Name!, TimeSpan.FromSeconds(100), None)));

        Assert.Equal(("DEADLINE_EXCEEDED", true), (error.Status, error.IsTransient));
        Assert.Contains($"operation {created.Name} was not done after 00:01:40 (9 polls)", error.Message, StringComparison.Ordinal);
        // The last pause is cut short so that the last poll falls on the deadline.
        Assert.Equal(Seconds(1, 2, 4, 8, 16, 30, 30, 9), run.Clock.Pauses);
        Assert.Equal(TimeSpan.FromSeconds(100), run.Elapsed);
    }

    [Fact]
    public async Task WaitForOperationAsync_DeleteDoneAfter10s_ReturnsAnEmptyResponse()
    {
        await using var run = await Run.StartAsync(o => o with { DeleteDelay = TimeSpan.FromSeconds(10) });
        var zone = SimulatorHarness.NewZone();
        var created = await run.CreateAsync(zone);
        var deleting = await run.Client.DeleteQueuedResourceAsync(zone, created.Metadata!.Target!.Split('/')[^1], force: true, "delete-1", None);

        var done = await run.Clock.RunAsync(() => run.Client.WaitForOperationAsync(deleting!.Name!, TimeSpan.FromMinutes(5), None));

        Assert.True(done.Succeeded);
        Assert.Equal("delete", done.Metadata?.Verb);
        Assert.Equal("type.googleapis.com/google.protobuf.Empty", done.Response!.Value.GetProperty("@type").GetString());
        Assert.Equal(Seconds(1, 2, 4, 8), run.Clock.Pauses);
    }

    [Fact]
    public async Task WaitForOperationAsync_AlreadyDone_ReturnsAfterOnePollWithoutPausing()
    {
        await using var run = await Run.StartAsync(o => o);
        var created = await run.CreateAsync(SimulatorHarness.NewZone());

        var done = await run.Clock.RunAsync(() => run.Client.WaitForOperationAsync(created.Name!, TimeSpan.Zero, None));

        Assert.True(done.Succeeded);
        Assert.Empty(run.Clock.Pauses);
    }

    private static TimeSpan[] Seconds(params int[] seconds) => [.. seconds.Select(s => TimeSpan.FromSeconds(s))];

    /// <summary>A simulator on a fake clock, and a client whose pauses that clock skips.</summary>
    private sealed class Run : IAsyncDisposable
    {
        private readonly SimulatorHarness _harness;
        private readonly FakeTimeProvider _time;
        private readonly DateTimeOffset _start;

        private Run(SimulatorHarness harness, FakeTimeProvider time)
        {
            _harness = harness;
            _time = time;
            _start = time.GetUtcNow();
            Clock = new SkippingClock(time);
            Client = new TpuRestClient(
                new GoogleApiTransport(harness.Http, FixedTokenSource.None),
                new TpuClientOptions { Project = SimulatorHarness.Project, BaseUri = harness.Simulator.BaseUri },
                Clock);
        }

        public SkippingClock Clock { get; }
        public TpuRestClient Client { get; }
        public TimeSpan Elapsed => _time.GetUtcNow() - _start;

        public static async Task<Run> StartAsync(Func<TpuSimulatorOptions, TpuSimulatorOptions> configure)
        {
            var time = new FakeTimeProvider();
            return new Run(await SimulatorHarness.StartAsync(configure, time), time);
        }

        /// <summary>Creates a v4-8 Spot queued resource and returns its create operation.</summary>
        public async Task<Operation> CreateAsync(string zone, string? validUntil = null)
        {
            var id = SimulatorHarness.NewId("qr");
            var operation = await Client.CreateQueuedResourceAsync(zone, id, SimulatorHarness.SpotBody(zone, id, validUntil: validUntil), SimulatorHarness.NewId("req"), None);
            Assert.NotNull(operation?.Name);
            return operation;
        }

        public ValueTask DisposeAsync() => _harness.DisposeAsync();
    }
}
