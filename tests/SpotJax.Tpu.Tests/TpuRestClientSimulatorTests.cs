using System.Text.Json.Nodes;
using SpotJax.Core.Ports;
using SpotJax.Google.Http;
using SpotJax.Google.Tpu;

namespace SpotJax.Tpu.Tests;

/// <summary>The production client against a running simulator with no delays.</summary>
public sealed class TpuRestClientSimulatorTests : IAsyncLifetime
{
    private SimulatorHarness _harness = null!;

    public async Task InitializeAsync() => _harness = await SimulatorHarness.StartAsync();

    public async Task DisposeAsync() => await _harness.DisposeAsync();

    [Theory]
    [InlineData("v4-8", 1)]
    [InlineData("v4-32", 4)]
    [InlineData("v5litepod-16", 4)]
    [InlineData("v5litepod-8", 1)]
    [InlineData("v6e-8", 1)]
    [InlineData("v5p-16", 2)]
    [InlineData("v2-32", 4)]
    public async Task CreateQueuedResourceAsync_ThenGet_ActiveNodeWithOneEndpointPerWorker(string acceleratorType, int workers)
    {
        var zone = SimulatorHarness.NewZone();
        var id = await _harness.CreateAsync(zone, acceleratorType);

        var queued = await _harness.Client.GetQueuedResourceAsync(zone, id, CancellationToken.None);
        var node = await _harness.Client.GetNodeAsync(zone, id, CancellationToken.None);

        Assert.NotNull(queued);
        Assert.Equal($"projects/{SimulatorHarness.Project}/locations/{zone}/queuedResources/{id}", queued.Name);
        Assert.Equal(id, queued.Id);
        Assert.Equal("ACTIVE", queued.State?.State);
        Assert.NotNull(queued.Spot);
        Assert.Equal(id, queued.NodeLabels["spotjax-job"]);
        Assert.NotNull(node);
        Assert.Equal($"projects/{SimulatorHarness.Project}/locations/{zone}/nodes/{id}", node.Name);
        Assert.Equal("READY", node.State);
        Assert.Equal("HEALTHY", node.Health);
        Assert.Equal(acceleratorType, node.AcceleratorType);
        Assert.Equal("echo hi", node.Metadata?["startup-script"]);
        Assert.Equal("1", node.Labels?["spotjax-attempt"]);
        Assert.NotNull(node.NetworkEndpoints);
        Assert.Equal(workers, node.NetworkEndpoints.Count);
        Assert.All(node.NetworkEndpoints, e => Assert.Equal(("127.0.0.1", 8470), (e.IpAddress, e.Port)));
        Assert.True(Directory.Exists(Path.Combine(_harness.Simulator.NodeDirectory(zone, id), $"worker-{workers - 1}")));
    }

    [Fact]
    public async Task GetNodeAsync_RawJson_NamesItsQueuedResource()
    {
        var zone = SimulatorHarness.NewZone();
        var id = await _harness.CreateAsync(zone);

        var json = JsonNode.Parse(await _harness.Http.GetStringAsync(
            new Uri(_harness.Simulator.BaseUri, $"v2/projects/{SimulatorHarness.Project}/locations/{zone}/nodes/{id}")))!;

        Assert.Equal($"projects/{SimulatorHarness.Project}/locations/{zone}/queuedResources/{id}", (string?)json["queuedResource"]);
    }

    [Fact]
    public async Task CreateQueuedResourceAsync_SameRequestIdAgain_ReturnsOriginalOperation()
    {
        var zone = SimulatorHarness.NewZone();
        var id = SimulatorHarness.NewId("qr");
        var requestId = SimulatorHarness.NewId("req");
        var body = SimulatorHarness.SpotBody(zone, id);

        var first = await _harness.Client.CreateQueuedResourceAsync(zone, id, body, requestId, CancellationToken.None);
        var second = await _harness.Client.CreateQueuedResourceAsync(zone, id, body, requestId, CancellationToken.None);

        Assert.NotNull(first);
        Assert.NotNull(second);
        Assert.Equal(first.Name, second.Name);
    }

    [Fact]
    public async Task CreateQueuedResourceAsync_ExistingIdOtherRequestId_ReturnsNull()
    {
        var zone = SimulatorHarness.NewZone();
        var id = SimulatorHarness.NewId("qr");
        var body = SimulatorHarness.SpotBody(zone, id);
        await _harness.Client.CreateQueuedResourceAsync(zone, id, body, SimulatorHarness.NewId("req"), CancellationToken.None);

        var second = await _harness.Client.CreateQueuedResourceAsync(zone, id, body, SimulatorHarness.NewId("req"), CancellationToken.None);

        Assert.Null(second);
    }

    [Fact]
    public async Task CreateQueuedResourceAsync_NoNodeSpec_ThrowsInvalidArgument()
    {
        var zone = SimulatorHarness.NewZone();
        var body = SimulatorHarness.SpotBody(zone, "n") with { Tpu = new() };

        var error = await Assert.ThrowsAsync<GoogleApiException>(() =>
            _harness.Client.CreateQueuedResourceAsync(zone, SimulatorHarness.NewId("qr"), body, SimulatorHarness.NewId("req"), CancellationToken.None));

        Assert.Equal("INVALID_ARGUMENT", error.Status);
        Assert.False(error.IsTransient);
    }

    [Fact]
    public async Task CreateQueuedResourceAsync_UnknownAcceleratorType_ThrowsInvalidArgument()
    {
        var zone = SimulatorHarness.NewZone();
        var id = SimulatorHarness.NewId("qr");

        var error = await Assert.ThrowsAsync<GoogleApiException>(() =>
            _harness.Client.CreateQueuedResourceAsync(zone, id, SimulatorHarness.SpotBody(zone, id, "tpu7x-8"), SimulatorHarness.NewId("req"), CancellationToken.None));

        Assert.Equal("INVALID_ARGUMENT", error.Status);
        Assert.Contains("acceleratorType", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task GetQueuedResourceAsync_Missing_ReturnsNull()
    {
        var result = await _harness.Client.GetQueuedResourceAsync(SimulatorHarness.NewZone(), SimulatorHarness.NewId("qr"), CancellationToken.None);

        Assert.Null(result);
    }

    [Fact]
    public async Task GetNodeAsync_Missing_ReturnsNull()
    {
        var result = await _harness.Client.GetNodeAsync(SimulatorHarness.NewZone(), SimulatorHarness.NewId("node"), CancellationToken.None);

        Assert.Null(result);
    }

    [Fact]
    public async Task DeleteQueuedResourceAsync_Missing_ReturnsNull()
    {
        var result = await _harness.Client.DeleteQueuedResourceAsync(
            SimulatorHarness.NewZone(), SimulatorHarness.NewId("qr"), force: true, SimulatorHarness.NewId("req"), CancellationToken.None);

        Assert.Null(result);
    }

    [Fact]
    public async Task ListQueuedResourcesAsync_PageSizeTwoOverFive_ReturnsAllOnce()
    {
        var zone = SimulatorHarness.NewZone();
        var ids = new List<string>();
        for (var i = 0; i < 5; i++)
        {
            ids.Add(await _harness.CreateAsync(zone));
        }

        var other = await _harness.CreateAsync(SimulatorHarness.NewZone());
        using var pagedClient = new HttpClient();
        var client = new TpuRestClient(new GoogleApiTransport(pagedClient, FixedTokenSource.None), new TpuClientOptions
        {
            Project = SimulatorHarness.Project,
            BaseUri = _harness.Simulator.BaseUri,
            ListPageSize = 2,
        });
        var firstPage = JsonNode.Parse(await pagedClient.GetStringAsync(
            new Uri(_harness.Simulator.BaseUri, $"v2/projects/{SimulatorHarness.Project}/locations/{zone}/queuedResources?pageSize=2")))!;

        var listed = await client.ListQueuedResourcesAsync(zone, CancellationToken.None);

        Assert.Equal(2, firstPage["queuedResources"]!.AsArray().Count);
        Assert.False(string.IsNullOrEmpty((string?)firstPage["nextPageToken"]));
        Assert.Equal(ids.Order(StringComparer.Ordinal), listed.Select(q => q.Id));
        Assert.DoesNotContain(other, listed.Select(q => q.Id));
    }

    [Fact]
    public async Task DeleteQueuedResourceAsync_ForceWhileActive_RemovesQueuedResourceAndNode()
    {
        var zone = SimulatorHarness.NewZone();
        var id = await _harness.CreateAsync(zone);

        var operation = await _harness.Client.DeleteQueuedResourceAsync(zone, id, force: true, SimulatorHarness.NewId("req"), CancellationToken.None);

        Assert.NotNull(operation);
        Assert.True(operation.Done);
        Assert.Null(await _harness.Client.GetQueuedResourceAsync(zone, id, CancellationToken.None));
        Assert.Null(await _harness.Client.GetNodeAsync(zone, id, CancellationToken.None));
        Assert.Empty(await _harness.Client.ListQueuedResourcesAsync(zone, CancellationToken.None));
    }

    [Fact]
    public async Task DeleteQueuedResourceAsync_WithoutForceWhileActive_ThrowsFailedPrecondition()
    {
        var zone = SimulatorHarness.NewZone();
        var id = await _harness.CreateAsync(zone);

        var error = await Assert.ThrowsAsync<GoogleApiException>(() =>
            _harness.Client.DeleteQueuedResourceAsync(zone, id, force: false, SimulatorHarness.NewId("req"), CancellationToken.None));

        Assert.Equal("FAILED_PRECONDITION", error.Status);
        Assert.Equal(System.Net.HttpStatusCode.BadRequest, error.HttpStatus);
        Assert.False(error.IsTransient);
        Assert.Equal("ACTIVE", (await _harness.Client.GetQueuedResourceAsync(zone, id, CancellationToken.None))?.State?.State);
    }

    [Fact]
    public async Task DeleteQueuedResourceAsync_ForceKillsNodeProcesses_ProcessGetsSigterm()
    {
        var zone = SimulatorHarness.NewZone();
        var id = await _harness.CreateAsync(zone);
        using var process = await NodeProcess.StartGracefulAsync(Path.Combine(_harness.Simulator.NodeDirectory(zone, id), "worker-0"));

        await _harness.Client.DeleteQueuedResourceAsync(zone, id, force: true, SimulatorHarness.NewId("req"), CancellationToken.None);
        await process.WaitForExitAsync();

        Assert.Equal(0, process.ExitCode);
        Assert.Equal("term", File.ReadAllText(process.TermFile).Trim());
    }

    [Fact]
    public async Task GetOperationAsync_CreateAndDelete_Done()
    {
        var zone = SimulatorHarness.NewZone();
        var id = SimulatorHarness.NewId("qr");
        var create = await _harness.Client.CreateQueuedResourceAsync(zone, id, SimulatorHarness.SpotBody(zone, id), SimulatorHarness.NewId("req"), CancellationToken.None);
        var delete = await _harness.Client.DeleteQueuedResourceAsync(zone, id, force: true, SimulatorHarness.NewId("req"), CancellationToken.None);

        var createOperation = await _harness.Client.GetOperationAsync(create!.Name!, CancellationToken.None);
        var deleteOperation = await _harness.Client.GetOperationAsync(delete!.Name!, CancellationToken.None);

        Assert.StartsWith($"projects/{SimulatorHarness.Project}/locations/{zone}/operations/operation-", createOperation.Name, StringComparison.Ordinal);
        Assert.True(createOperation.Done);
        Assert.Null(createOperation.Error);
        Assert.True(deleteOperation.Done);
        Assert.NotEqual(createOperation.Name, deleteOperation.Name);
    }

    [Fact]
    public async Task GetOperationAsync_Unknown_ThrowsNotFound()
    {
        var name = $"projects/{SimulatorHarness.Project}/locations/{SimulatorHarness.NewZone()}/operations/operation-999999";

        var error = await Assert.ThrowsAsync<GoogleApiException>(() => _harness.Client.GetOperationAsync(name, CancellationToken.None));

        Assert.Equal("NOT_FOUND", error.Status);
    }

    [Fact]
    public async Task AdminPreemptRoute_ActiveQueuedResource_Suspends()
    {
        var zone = SimulatorHarness.NewZone();
        var id = await _harness.CreateAsync(zone);

        using var response = await _harness.Http.PostAsync(
            new Uri(_harness.Simulator.BaseUri, $"simulator/v1/projects/{SimulatorHarness.Project}/locations/{zone}/queuedResources/{id}:preempt"), null);
        var queued = await _harness.Client.GetQueuedResourceAsync(zone, id, CancellationToken.None);

        Assert.True(response.IsSuccessStatusCode);
        Assert.Equal("SUSPENDING", queued?.State?.State);
        Assert.Equal("SERVICE", queued?.State?.StateInitiator);
    }

    [Fact]
    public async Task CreateRoute_MalformedJson_AnswersInvalidArgumentEnvelope()
    {
        var zone = SimulatorHarness.NewZone();
        using var content = new StringContent("{\"tpu\": [", System.Text.Encoding.UTF8, "application/json");

        using var response = await _harness.Http.PostAsync(
            new Uri(_harness.Simulator.BaseUri, $"v2/projects/{SimulatorHarness.Project}/locations/{zone}/queuedResources?queuedResourceId=qr-1"), content);
        var json = JsonNode.Parse(await response.Content.ReadAsStringAsync())!;

        Assert.Equal(System.Net.HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("INVALID_ARGUMENT", (string?)json["error"]!["status"]);
        Assert.Equal(400, (int)json["error"]!["code"]!);
    }

    [Fact]
    public async Task UnknownRoute_AnswersNotFoundEnvelope()
    {
        using var response = await _harness.Http.GetAsync(new Uri(_harness.Simulator.BaseUri, "v2/projects/p/nowhere"));
        var json = JsonNode.Parse(await response.Content.ReadAsStringAsync())!;

        Assert.Equal(System.Net.HttpStatusCode.NotFound, response.StatusCode);
        Assert.Equal("NOT_FOUND", (string?)json["error"]!["status"]);
        Assert.Equal(404, (int)json["error"]!["code"]!);
    }
}
