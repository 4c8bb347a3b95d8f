using SpotJax.Contracts;
using SpotJax.Core;

namespace SpotJax.Tests.Handlers;

/// <summary>
/// What one sweep asks of the TPU API (counted by the simulator, through the production REST client) when
/// many jobs run: one list per zone, however many jobs run there, and nothing per job.
/// </summary>
public sealed class SweepScaleTests : IAsyncLifetime
{
    private HandlerHarness h = null!;

    public async Task InitializeAsync() => h = await HandlerHarness.StartAsync();

    public async Task DisposeAsync() => await h.DisposeAsync();

    [Fact]
    public async Task Sweep_150RunningJobsInEachOfTwoZones_ListsEachZoneOnceAndCallsNothingPerJob()
    {
        // More jobs per zone than the 100 queued resources one list page held before: that sweep listed each zone twice.
        await RunningFleet.SeedAsync(h.Store, h.Tpu, h.Options, "scale", count: 300, zones: 2, attempt: 1, h.Time.GetUtcNow());
        h.Simulator.ResetCallCounts();

        await h.Functions.Sweep.HandleAsync(CancellationToken.None);

        Assert.Equal(new Dictionary<string, long> { ["queuedResources.list"] = 2 }, h.Simulator.CallCounts());
        Assert.Empty(await h.TakeAsync(Topics.Default.Launch));
        Assert.Empty(await h.TakeAsync(Topics.Default.Recover));
    }

    [Fact]
    public async Task Sweep_TenTimesTheJobsInTheSameZones_MakesTheSameTpuCalls()
    {
        await RunningFleet.SeedAsync(h.Store, h.Tpu, h.Options, "few", count: 30, zones: 3, attempt: 1, h.Time.GetUtcNow());
        h.Simulator.ResetCallCounts();
        await h.Functions.Sweep.HandleAsync(CancellationToken.None);
        var few = h.Simulator.CallCounts();

        await RunningFleet.SeedAsync(h.Store, h.Tpu, h.Options, "many", count: 270, zones: 3, attempt: 1, h.Time.GetUtcNow());
        h.Simulator.ResetCallCounts();
        await h.Functions.Sweep.HandleAsync(CancellationToken.None);

        Assert.Equal(few, h.Simulator.CallCounts());
        Assert.Equal(3, few["queuedResources.list"]);
    }
}
