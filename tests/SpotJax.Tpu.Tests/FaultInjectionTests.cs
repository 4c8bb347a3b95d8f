using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using SpotJax.Core.Ports;
using SpotJax.Google.Http;
using SpotJax.Google.Tpu;
using SpotJax.TpuSimulation;

namespace SpotJax.Tpu.Tests;

/// <summary>The simulator's injected faults, seen raw (the REST error envelope) and through the production client.</summary>
public sealed class FaultInjectionTests : IAsyncLifetime
{
    private SimulatorHarness _harness = null!;
    private TpuRestClient _client = null!;

    public async Task InitializeAsync()
    {
        _harness = await SimulatorHarness.StartAsync();
        // One quick retry at most (the least the transport takes), and a short wait for an answer that never comes.
        var transport = new GoogleApiTransport(_harness.Http, FixedTokenSource.None, new GoogleApiOptions
        {
            MaxRetries = 1,
            BaseDelay = TimeSpan.FromMilliseconds(1),
            MaxDelay = TimeSpan.FromMilliseconds(1),
            AttemptTimeout = TimeSpan.FromMilliseconds(500),
            Deadline = TimeSpan.FromSeconds(2),
        });
        _client = new TpuRestClient(transport, new TpuClientOptions { Project = SimulatorHarness.Project, BaseUri = _harness.Simulator.BaseUri });
    }

    public async Task DisposeAsync() => await _harness.DisposeAsync();

    private Uri QueuedResources(string zone) =>
        new(_harness.Simulator.BaseUri, $"v2/projects/{SimulatorHarness.Project}/locations/{zone}/queuedResources");

    private async Task<(HttpStatusCode Status, JsonNode Body)> PostCreateAsync(string zone, string id, string requestId)
    {
        using var response = await _harness.Http.PostAsJsonAsync(
            new Uri($"{QueuedResources(zone)}?queuedResourceId={id}&requestId={requestId}"),
            SimulatorHarness.SpotBody(zone, id));
        return (response.StatusCode, JsonNode.Parse(await response.Content.ReadAsStringAsync())!);
    }

    [Fact]
    public async Task RateLimit_OnCreateOnly_AnswersTheRestEnvelopeWithARateLimitErrorInfo()
    {
        _harness.Simulator.SetFaults(new TpuFaults { RateLimitRate = 1, Methods = ["queuedResources.create"] });
        var zone = SimulatorHarness.NewZone();

        var (status, body) = await PostCreateAsync(zone, "qr-1", Guid.NewGuid().ToString());

        Assert.Equal(HttpStatusCode.TooManyRequests, status);
        var error = body["error"]!.AsObject();
        Assert.Equal(["code", "message", "status", "details"], error.Select(p => p.Key));
        Assert.Equal(429, (int)error["code"]!);
        Assert.Equal("RESOURCE_EXHAUSTED", (string?)error["status"]);
        var info = Assert.Single(error["details"]!.AsArray())!.AsObject();
        Assert.Equal(["@type", "reason", "domain", "metadata"], info.Select(p => p.Key));
        Assert.Equal("type.googleapis.com/google.rpc.ErrorInfo", (string?)info["@type"]);
        Assert.Equal("RATE_LIMIT_EXCEEDED", (string?)info["reason"]);
        // Other methods are not hit, and the client reads the reason.
        Assert.Empty(await _client.ListQueuedResourcesAsync(zone, CancellationToken.None));
        var refused = await Assert.ThrowsAsync<GoogleApiException>(() => _client.CreateQueuedResourceAsync(zone, "qr-2", SimulatorHarness.SpotBody(zone, "qr-2"), Guid.NewGuid().ToString(), CancellationToken.None));
        Assert.Equal(("RESOURCE_EXHAUSTED", "RATE_LIMIT_EXCEEDED"), (refused.Status, refused.Reason));
    }

    [Fact]
    public async Task Unavailable_OnEveryMethod_IsA503UnavailableEnvelope()
    {
        _harness.Simulator.SetFaults(new TpuFaults { UnavailableRate = 1 });
        var zone = SimulatorHarness.NewZone();

        using var response = await _harness.Http.GetAsync(QueuedResources(zone));
        var body = JsonNode.Parse(await response.Content.ReadAsStringAsync())!;

        Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
        Assert.Equal("""{"error":{"code":503,"message":"The service is currently unavailable.","status":"UNAVAILABLE"}}""", body.ToJsonString());
        var error = await Assert.ThrowsAsync<GoogleApiException>(() => _client.GetQueuedResourceAsync(zone, "qr-1", CancellationToken.None));
        Assert.Equal("UNAVAILABLE", error.Status);
    }

    [Fact]
    public async Task Timeout_BeforeApplying_CreatesNothing_AfterApplying_CreatesItAndTheSameRequestIdGetsItsOperation()
    {
        var zone = SimulatorHarness.NewZone();
        var requestId = Guid.NewGuid().ToString();
        _harness.Simulator.SetFaults(new TpuFaults { TimeoutRate = 1, Methods = ["queuedResources.create"] });

        var lost = await Assert.ThrowsAsync<GoogleApiException>(() => _client.CreateQueuedResourceAsync(zone, "qr-1", SimulatorHarness.SpotBody(zone, "qr-1"), requestId, CancellationToken.None));
        Assert.Equal("DEADLINE_EXCEEDED", lost.Status);
        Assert.Null(await _client.GetQueuedResourceAsync(zone, "qr-1", CancellationToken.None));

        _harness.Simulator.SetFaults(new TpuFaults { TimeoutRate = 1, TimeoutAfterApplying = true, Methods = ["queuedResources.create"] });
        await Assert.ThrowsAsync<GoogleApiException>(() => _client.CreateQueuedResourceAsync(zone, "qr-1", SimulatorHarness.SpotBody(zone, "qr-1"), requestId, CancellationToken.None));
        Assert.NotNull(await _client.GetQueuedResourceAsync(zone, "qr-1", CancellationToken.None));

        _harness.Simulator.SetFaults(new TpuFaults());
        var operation = await _client.CreateQueuedResourceAsync(zone, "qr-1", SimulatorHarness.SpotBody(zone, "qr-1"), requestId, CancellationToken.None);
        Assert.EndsWith("/operations/operation-1", operation?.Name, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Faults_SameSeedAndCalls_SameOutcomes_AndSetFaultsStartsTheDrawsAgain()
    {
        var zone = SimulatorHarness.NewZone();
        var faults = new TpuFaults { Seed = 42, UnavailableRate = 0.3, RateLimitRate = 0.2, Methods = ["queuedResources.list"] };

        async Task<List<HttpStatusCode>> RunAsync()
        {
            _harness.Simulator.SetFaults(faults);
            var outcomes = new List<HttpStatusCode>();
            for (var i = 0; i < 40; i++)
            {
                using var response = await _harness.Http.GetAsync(QueuedResources(zone));
                outcomes.Add(response.StatusCode);
            }

            return outcomes;
        }

        var first = await RunAsync();
        var second = await RunAsync();

        Assert.Equal(first, second);
        Assert.Contains(HttpStatusCode.OK, first);
        Assert.Contains(HttpStatusCode.ServiceUnavailable, first);
        Assert.Contains(HttpStatusCode.TooManyRequests, first);
    }

    [Fact]
    public async Task OperationError_WithoutQueuedResource_DoneWithTheErrorAndTheSameRequestIdGetsTheSameOperation()
    {
        _harness.Simulator.SetFaults(new TpuFaults { OperationErrorRate = 1 });
        var zone = SimulatorHarness.NewZone();
        var requestId = Guid.NewGuid().ToString();

        var operation = await _client.CreateQueuedResourceAsync(zone, "qr-1", SimulatorHarness.SpotBody(zone, "qr-1"), requestId, CancellationToken.None);

        Assert.NotNull(operation);
        Assert.True(operation.Done);
        Assert.Equal(8, operation.Error?.Code);
        Assert.Contains("There is no more capacity in the zone", operation.Error?.Message, StringComparison.Ordinal);
        Assert.Null(operation.Response);
        Assert.Equal(operation.Error, (await _client.GetOperationAsync(operation.Name!, CancellationToken.None)).Error);
        Assert.Null(await _client.GetQueuedResourceAsync(zone, "qr-1", CancellationToken.None));

        // Once the fault is gone, the same request id still gets the failed operation; a new one creates.
        _harness.Simulator.SetFaults(new TpuFaults());
        var again = await _client.CreateQueuedResourceAsync(zone, "qr-1", SimulatorHarness.SpotBody(zone, "qr-1"), requestId, CancellationToken.None);
        Assert.Equal((operation.Name, 8), (again?.Name, again?.Error?.Code));
        var created = await _client.CreateQueuedResourceAsync(zone, "qr-1", SimulatorHarness.SpotBody(zone, "qr-1"), Guid.NewGuid().ToString(), CancellationToken.None);
        Assert.True(created?.Succeeded);
        Assert.Equal("ACTIVE", (await _client.GetQueuedResourceAsync(zone, "qr-1", CancellationToken.None))?.State?.State);
    }

    [Fact]
    public async Task OperationError_LeavingAFailedQueuedResource_CarriesTheErrorInFailedData()
    {
        _harness.Simulator.SetFaults(new TpuFaults { OperationErrorRate = 1, OperationErrorLeavesFailedQueuedResource = true, OperationErrorCode = 7, OperationErrorMessage = "denied" });
        var zone = SimulatorHarness.NewZone();

        var operation = await _client.CreateQueuedResourceAsync(zone, "qr-1", SimulatorHarness.SpotBody(zone, "qr-1"), Guid.NewGuid().ToString(), CancellationToken.None);
        var queued = await _client.GetQueuedResourceAsync(zone, "qr-1", CancellationToken.None);

        Assert.Equal((true, 7), (operation?.Done, operation?.Error?.Code));
        Assert.Equal("FAILED", queued?.State?.State);
        Assert.Equal((7, "denied"), (queued?.State?.FailedData?.Error?.Code, queued?.State?.FailedData?.Error?.Message));
    }

    [Fact]
    public async Task Quota_PerZone_RefusesTheCreateBeyondItWithAQuotaEnvelope_AndFreesWhenOneIsDeleted()
    {
        var zone = SimulatorHarness.NewZone();
        var other = SimulatorHarness.NewZone();
        _harness.Simulator.SetFaults(new TpuFaults { QueuedResourceQuota = new Dictionary<string, int> { [zone] = 1 } });
        var first = await _harness.CreateAsync(zone);

        var (status, body) = await PostCreateAsync(zone, "qr-2", Guid.NewGuid().ToString());

        Assert.Equal(HttpStatusCode.TooManyRequests, status);
        Assert.Equal("RESOURCE_EXHAUSTED", (string?)body["error"]!["status"]);
        Assert.Equal($"Quota limit 'TPUV4PreemptiblePerProjectPerZoneForTPUAPI' has been exceeded. Limit: 1 in zone {zone}.", (string?)body["error"]!["message"]);
        Assert.Equal("RESOURCE_QUOTA_EXCEEDED", (string?)body["error"]!["details"]![0]!["reason"]);
        await _harness.CreateAsync(other);

        await _client.DeleteQueuedResourceAsync(zone, first, force: true, Guid.NewGuid().ToString(), CancellationToken.None);
        Assert.Equal(HttpStatusCode.OK, (await PostCreateAsync(zone, "qr-2", Guid.NewGuid().ToString())).Status);
    }

    [Fact]
    public async Task StockOut_ChangedAtRuntime_WaitsForResourcesUntilRestocked()
    {
        var zone = SimulatorHarness.NewZone();
        _harness.Simulator.SetZoneCapacity(zone, hasCapacity: false);

        var id = await _harness.CreateAsync(zone);
        Assert.Equal("WAITING_FOR_RESOURCES", (await _client.GetQueuedResourceAsync(zone, id, CancellationToken.None))?.State?.State);

        _harness.Simulator.SetZoneCapacity(zone, hasCapacity: true);
        Assert.Equal("ACTIVE", (await _client.GetQueuedResourceAsync(zone, id, CancellationToken.None))?.State?.State);
        Assert.NotNull(await _client.GetNodeAsync(zone, id, CancellationToken.None));
    }

    [Fact]
    public async Task AdminRoutes_SetFaultsAndStockOutsOverHttp()
    {
        var zone = SimulatorHarness.NewZone();
        using var put = await _harness.Http.PutAsJsonAsync(new Uri(_harness.Simulator.BaseUri, "simulator/v1/faults"), new { rateLimitRate = 1.0, methods = new[] { "queuedResources.create" } });
        Assert.Equal(HttpStatusCode.OK, put.StatusCode);
        Assert.Equal(HttpStatusCode.TooManyRequests, (await PostCreateAsync(zone, "qr-1", Guid.NewGuid().ToString())).Status);

        using var clear = await _harness.Http.PutAsJsonAsync(new Uri(_harness.Simulator.BaseUri, "simulator/v1/faults"), new { });
        using var stockOut = await _harness.Http.PostAsync(new Uri(_harness.Simulator.BaseUri, $"simulator/v1/locations/{zone}:stockOut"), null);
        Assert.Equal((HttpStatusCode.OK, HttpStatusCode.OK), (clear.StatusCode, stockOut.StatusCode));
        var id = await _harness.CreateAsync(zone);
        Assert.Equal("WAITING_FOR_RESOURCES", (await _client.GetQueuedResourceAsync(zone, id, CancellationToken.None))?.State?.State);

        using var restock = await _harness.Http.PostAsync(new Uri(_harness.Simulator.BaseUri, $"simulator/v1/locations/{zone}:restock"), null);
        Assert.Equal("ACTIVE", (await _client.GetQueuedResourceAsync(zone, id, CancellationToken.None))?.State?.State);
    }
}
