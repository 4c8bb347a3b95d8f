using System.Net;
using Microsoft.Extensions.Time.Testing;

namespace SpotJax.Tpu.Tests;

/// <summary>The per-node metadata server, read the way a node agent reads it.</summary>
public sealed class MetadataServerTests : IAsyncLifetime
{
    private SimulatorHarness _harness = null!;

    public async Task InitializeAsync() => _harness = await SimulatorHarness.StartAsync();

    public async Task DisposeAsync() => await _harness.DisposeAsync();

    [Fact]
    public async Task Preempted_WaitForChange_HangsUntilPreemptionThenReturnsTrue()
    {
        var zone = SimulatorHarness.NewZone();
        var id = await _harness.CreateAsync(zone);
        var url = new Uri(_harness.Simulator.MetadataUrl(zone, id), "instance/preempted");
        using var first = await SendAsync(url);

        var waiting = SendAsync(new Uri(url + "?wait_for_change=true"));
        await Eventually.TrueAsync(() => _harness.Simulator.MetadataWaiters(zone, id) == 1, "the read to hang");
        var completedBeforePreemption = waiting.IsCompleted;
        await _harness.Simulator.PreemptAsync(zone, id);
        using var changed = await waiting.WaitAsync(Eventually.Timeout);

        Assert.Equal("FALSE", await first.Content.ReadAsStringAsync());
        Assert.False(completedBeforePreemption);
        Assert.Equal(HttpStatusCode.OK, changed.StatusCode);
        Assert.Equal("TRUE", await changed.Content.ReadAsStringAsync());
        Assert.NotEqual(first.Headers.GetValues("ETag").Single(), changed.Headers.GetValues("ETag").Single());
    }

    [Fact]
    public async Task Preempted_WaitForChangeWithCurrentETag_ReturnsTrueAfterPreemption()
    {
        var zone = SimulatorHarness.NewZone();
        var id = await _harness.CreateAsync(zone);
        var url = new Uri(_harness.Simulator.MetadataUrl(zone, id), "instance/preempted");
        using var first = await SendAsync(url);
        var etag = first.Headers.GetValues("ETag").Single();

        // Whether the read arrives before or after the preemption, the ETag makes it answer TRUE.
        var waiting = SendAsync(new Uri(url + $"?wait_for_change=true&last_etag={etag}"));
        await _harness.Simulator.PreemptAsync(zone, id);
        using var changed = await waiting.WaitAsync(Eventually.Timeout);

        Assert.Equal("TRUE", await changed.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task Preempted_WaitForChangeNoChange_AnswersCurrentValueAfterSixtySeconds()
    {
        var time = new FakeTimeProvider();
        await using var harness = await SimulatorHarness.StartAsync(time: time);
        var zone = SimulatorHarness.NewZone();
        var id = await harness.CreateAsync(zone);
        var request = new HttpRequestMessage(HttpMethod.Get, new Uri(harness.Simulator.MetadataUrl(zone, id), "instance/preempted?wait_for_change=true"));
        request.Headers.Add("Metadata-Flavor", "Google");

        var waiting = harness.Http.SendAsync(request);
        await Eventually.TrueAsync(() => harness.Simulator.MetadataWaiters(zone, id) == 1, "the read to hang");
        time.Advance(TimeSpan.FromSeconds(59));
        var completedEarly = waiting.IsCompleted;
        time.Advance(TimeSpan.FromSeconds(1));
        using var response = await waiting.WaitAsync(Eventually.Timeout);

        Assert.False(completedEarly);
        Assert.Equal("FALSE", await response.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task Preempted_WaitForChangeWithStaleETag_AnswersAtOnce()
    {
        // A clock that never moves: an answer can only come at once, never after the 60 s hold.
        await using var harness = await SimulatorHarness.StartAsync(time: new FakeTimeProvider());
        var zone = SimulatorHarness.NewZone();
        var id = await harness.CreateAsync(zone);
        var request = new HttpRequestMessage(HttpMethod.Get, new Uri(harness.Simulator.MetadataUrl(zone, id), "instance/preempted?wait_for_change=true&last_etag=0000"));
        request.Headers.Add("Metadata-Flavor", "Google");

        using var response = await harness.Http.SendAsync(request).WaitAsync(Eventually.Timeout);

        Assert.Equal("FALSE", await response.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task DisposeAsync_WhileReadHangs_AnswersTheReadAndStops()
    {
        var harness = await SimulatorHarness.StartAsync();
        try
        {
            var zone = SimulatorHarness.NewZone();
            var id = await harness.CreateAsync(zone);
            var request = new HttpRequestMessage(HttpMethod.Get, new Uri(harness.Simulator.MetadataUrl(zone, id), "instance/preempted?wait_for_change=true"));
            request.Headers.Add("Metadata-Flavor", "Google");
            var waiting = harness.Http.SendAsync(request);
            await Eventually.TrueAsync(() => harness.Simulator.MetadataWaiters(zone, id) == 1, "the read to hang");

            await harness.Simulator.DisposeAsync().AsTask().WaitAsync(Eventually.Timeout);
            using var response = await waiting.WaitAsync(Eventually.Timeout);

            Assert.Equal("FALSE", await response.Content.ReadAsStringAsync());
        }
        finally
        {
            await harness.DisposeAsync();
        }
    }

    [Fact]
    public async Task MaintenanceEvent_AfterInjection_TerminateOnHostMaintenance()
    {
        var zone = SimulatorHarness.NewZone();
        var id = await _harness.CreateAsync(zone);
        var url = new Uri(_harness.Simulator.MetadataUrl(zone, id), "instance/maintenance-event");
        using var before = await SendAsync(url);

        await _harness.Simulator.InjectMaintenanceAsync(zone, id);
        using var after = await SendAsync(url);

        Assert.Equal("NONE", await before.Content.ReadAsStringAsync());
        Assert.Equal("TERMINATE_ON_HOST_MAINTENANCE", await after.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task Preempted_WithoutMetadataFlavorHeader_Forbidden()
    {
        var zone = SimulatorHarness.NewZone();
        var id = await _harness.CreateAsync(zone);

        using var response = await _harness.Http.GetAsync(new Uri(_harness.Simulator.MetadataUrl(zone, id), "instance/preempted"));

        Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
    }

    [Fact]
    public async Task Preempted_UnknownNode_NotFound()
    {
        var url = new Uri(_harness.Simulator.MetadataUrl(SimulatorHarness.NewZone(), SimulatorHarness.NewId("node")), "instance/preempted");

        using var response = await SendAsync(url);

        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
    }

    [Fact]
    public void MetadataUrl_EndsWithComputeMetadataV1()
    {
        var url = _harness.Simulator.MetadataUrl("us-central2-b", "node-1");

        Assert.Equal(new Uri(_harness.Simulator.BaseUri, "metadata/us-central2-b/node-1/computeMetadata/v1/"), url);
    }

    private Task<HttpResponseMessage> SendAsync(Uri url)
    {
        var request = new HttpRequestMessage(HttpMethod.Get, url);
        request.Headers.Add("Metadata-Flavor", "Google");
        return _harness.Http.SendAsync(request);
    }
}
