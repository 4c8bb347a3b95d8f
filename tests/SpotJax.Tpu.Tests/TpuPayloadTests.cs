using System.Net;
using System.Text.Json;
using SpotJax.Core.Ports;
using SpotJax.Core.Tpu;
using SpotJax.Google.Http;

namespace SpotJax.Tpu.Tests;

/// <summary>
/// Real-shaped Cloud TPU v2 payloads (Fixtures/, after gcp-contracts.md §1) served over HTTP to the
/// production client: every field SpotJax acts on must come out of its models.
/// </summary>
public sealed class TpuPayloadTests
{
    private const string Id = "llama-tiny-4f2a-3";
    private const string CapacityMessage = "There is no more capacity in the zone \"us-central2-b\"";
    private static readonly CancellationToken None = CancellationToken.None;

    /// <summary>The production retry policy with millisecond backoffs.</summary>
    private static readonly GoogleApiOptions QuickRetries = new() { BaseDelay = TimeSpan.FromMilliseconds(1), MaxDelay = TimeSpan.FromMilliseconds(5) };

    [Theory]
    [InlineData("qr-creating.json", "CREATING", null, false)]
    [InlineData("qr-accepted.json", "ACCEPTED", null, false)]
    [InlineData("qr-waiting-for-resources.json", "WAITING_FOR_RESOURCES", null, false)]
    [InlineData("qr-provisioning.json", "PROVISIONING", null, false)]
    [InlineData("qr-active.json", "ACTIVE", null, false)]
    [InlineData("qr-suspending.json", "SUSPENDING", "SERVICE", true)]
    [InlineData("qr-suspended.json", "SUSPENDED", "SERVICE", true)]
    [InlineData("qr-failed.json", "FAILED", null, false)]
    [InlineData("qr-deleting.json", "DELETING", "USER", true)]
    public async Task GetQueuedResourceAsync_RealPayloadInEachState_ReadsStateInitiatorAndSpec(string fixture, string state, string? initiator, bool lost)
    {
        await using var server = await FixtureServer.StartAsync(HttpStatusCode.OK, Payloads.Read(fixture));

        var resource = await server.Client().GetQueuedResourceAsync(Payloads.Zone, Id, None);

        Assert.NotNull(resource);
        Assert.Equal((state, initiator), (resource.State?.State, resource.State?.StateInitiator));
        Assert.Equal(lost, QueuedResourceStates.IsLost(resource.State?.State));
        Assert.Equal(Id, resource.Id);
        Assert.NotNull(resource.Spot);
        Assert.Equal("7200s", resource.QueueingPolicy?.ValidUntilDuration);
        var spec = Assert.Single(resource.Tpu!.NodeSpec);
        Assert.Equal(($"projects/{Payloads.Project}/locations/{Payloads.Zone}", Id), (spec.Parent, spec.NodeId));
        Assert.Equal(("v4-32", "tpu-ubuntu2204-base", true), (spec.Node.AcceleratorType, spec.Node.RuntimeVersion, spec.Node.NetworkConfig?.EnableExternalIps));
        Assert.Equal(new Dictionary<string, string> { ["spotjax-job"] = "llama-tiny-4f2a", ["spotjax-attempt"] = "3" }, resource.NodeLabels);
        Assert.Equal($"GET /v2/projects/{Payloads.Project}/locations/{Payloads.Zone}/queuedResources/{Id}", Only(server));
    }

    [Fact]
    public async Task GetQueuedResourceAsync_RealFailedPayload_ReadsTheNumericCodeAndMessage()
    {
        await using var server = await FixtureServer.StartAsync(HttpStatusCode.OK, Payloads.Read("qr-failed.json"));

        var error = (await server.Client().GetQueuedResourceAsync(Payloads.Zone, Id, None))?.State?.FailedData?.Error;

        Assert.NotNull(error);
        Assert.Equal(8, error.Code);
        Assert.StartsWith(CapacityMessage, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task GetNodeAsync_RealMultiHostNode_ReadsEveryWorkerWithItsExternalIp()
    {
        await using var server = await FixtureServer.StartAsync(HttpStatusCode.OK, Payloads.Read("node-v4-32-ready.json"));

        var node = await server.Client().GetNodeAsync(Payloads.Zone, Id, None);

        Assert.NotNull(node);
        Assert.Equal(("READY", "HEALTHY", "The TPU is healthy."), (node.State, node.Health, node.HealthDescription));
        Assert.Equal($"projects/{Payloads.Project}/locations/{Payloads.Zone}/queuedResources/{Id}", node.QueuedResource);
        Assert.Equal(
            [("10.130.0.14", 8470, "34.172.81.20"), ("10.130.0.15", 8470, "35.226.14.3"), ("10.130.0.16", 8470, "34.66.190.121"), ("10.130.0.17", 8470, "34.122.7.88")],
            node.NetworkEndpoints!.Select(e => (e.IpAddress, e.Port, e.AccessConfig?.ExternalIp)));
        Assert.Equal("llama-tiny-4f2a", node.Labels!["spotjax-job"]);
        Assert.StartsWith("spotjax:ssh-ed25519 ", node.Metadata!["ssh-keys"], StringComparison.Ordinal);
        Assert.Equal("2024-11-28T13:24:05.208211Z", node.CreateTime);
    }

    [Fact]
    public async Task GetNodeAsync_RealPreemptedNode_ReadsTheStateWithoutHealth()
    {
        await using var server = await FixtureServer.StartAsync(HttpStatusCode.OK, Payloads.Read("node-v4-32-preempted.json"));

        var node = await server.Client().GetNodeAsync(Payloads.Zone, Id, None);

        Assert.Equal(("PREEMPTED", null), (node?.State, node?.Health));
        Assert.Equal(4, node?.NetworkEndpoints?.Count);
    }

    [Fact]
    public async Task GetOperationAsync_RealRunningCreate_NotDoneWithItsMetadata()
    {
        await using var server = await FixtureServer.StartAsync(HttpStatusCode.OK, Payloads.Read("operation-create-running.json"));
        var name = $"projects/{Payloads.Project}/locations/{Payloads.Zone}/operations/operation-1732800041512-62795c2a3e1f8-4b7f0c9d-8d2e61a3";

        var operation = await server.Client().GetOperationAsync(name, None);

        Assert.Equal((name, false, false), (operation.Name, operation.Done, operation.Succeeded));
        Assert.Null(operation.Error);
        Assert.Null(operation.Response);
        Assert.Equal(("create", $"projects/{Payloads.Project}/locations/{Payloads.Zone}/queuedResources/{Id}"), (operation.Metadata?.Verb, operation.Metadata?.Target));
        Assert.Equal($"GET /v2/{name}", Only(server));
    }

    [Fact]
    public async Task GetOperationAsync_RealCreateDoneWithError_ReadsTheNumericCode()
    {
        await using var server = await FixtureServer.StartAsync(HttpStatusCode.OK, Payloads.Read("operation-create-done-error.json"));

        var operation = await server.Client().GetOperationAsync($"projects/{Payloads.Project}/locations/{Payloads.Zone}/operations/op-1", None);

        Assert.Equal((true, false), (operation.Done, operation.Succeeded));
        Assert.Equal(8, operation.Error?.Code);
        Assert.StartsWith(CapacityMessage, operation.Error?.Message, StringComparison.Ordinal);
        Assert.Null(operation.Response);
        Assert.Equal("2024-11-28T13:20:43.118356730Z", operation.Metadata?.EndTime);
    }

    [Fact]
    public async Task GetOperationAsync_RealCreateDoneWithResponse_ReadsTheQueuedResource()
    {
        await using var server = await FixtureServer.StartAsync(HttpStatusCode.OK, Payloads.Read("operation-create-done-response.json"));

        var operation = await server.Client().GetOperationAsync($"projects/{Payloads.Project}/locations/{Payloads.Zone}/operations/op-1", None);

        Assert.True(operation.Succeeded);
        var response = operation.Response!.Value;
        Assert.Equal("type.googleapis.com/google.cloud.tpu.v2.QueuedResource", response.GetProperty("@type").GetString());
        var resource = response.Deserialize<QueuedResource>(GoogleJson.Options);
        Assert.Equal((Id, "ACCEPTED"), (resource?.Id, resource?.State?.State));
    }

    [Fact]
    public async Task GetOperationAsync_RealDeleteDone_ResponseIsEmpty()
    {
        await using var server = await FixtureServer.StartAsync(HttpStatusCode.OK, Payloads.Read("operation-delete-done.json"));

        var operation = await server.Client().GetOperationAsync($"projects/{Payloads.Project}/locations/{Payloads.Zone}/operations/op-2", None);

        Assert.True(operation.Succeeded);
        Assert.Equal("delete", operation.Metadata?.Verb);
        Assert.Equal(["@type"], operation.Response!.Value.EnumerateObject().Select(p => p.Name));
        Assert.Equal("type.googleapis.com/google.protobuf.Empty", operation.Response.Value.GetProperty("@type").GetString());
    }

    [Fact]
    public async Task ListQueuedResourcesAsync_RealPages_FollowsTheTokenAndSendsItBack()
    {
        await using var server = await FixtureServer.StartAsync(request =>
            (HttpStatusCode.OK, Payloads.Read(request.PathAndQuery.Contains("pageToken=", StringComparison.Ordinal) ? "queued-resources-page-2.json" : "queued-resources-page-1.json")));

        var all = await server.Client().ListQueuedResourcesAsync(Payloads.Zone, None);

        Assert.Equal(["job-1-1", "job-2-1", "job-3-1"], all.Select(r => r.Id));
        Assert.Equal(["ACTIVE", "WAITING_FOR_RESOURCES", "SUSPENDED"], all.Select(r => r.State?.State));
        Assert.Equal("job-3", all[2].NodeLabels["spotjax-job"]);
        var path = $"/v2/projects/{Payloads.Project}/locations/{Payloads.Zone}/queuedResources";
        Assert.Equal([$"{path}?pageSize=1000", $"{path}?pageSize=1000&pageToken=Cg5qb2ItMi0xEgJ2MhgB"], server.Requests.Select(r => r.PathAndQuery));
    }

    [Fact]
    public async Task ListQueuedResourcesAsync_SamePageTokenForever_FailsOnTheRepeatWithAClearError()
    {
        await using var server = await FixtureServer.StartAsync(HttpStatusCode.OK, Payloads.Read("queued-resources-page-1.json"));

        var error = await Assert.ThrowsAsync<GoogleApiException>(() => server.Client().ListQueuedResourcesAsync(Payloads.Zone, None));

        Assert.Equal("UNKNOWN", error.Status);
        Assert.Contains("did not end: page 2 sent the page token 'Cg5qb2ItMi0xEgJ2MhgB' again", error.Message, StringComparison.Ordinal);
        Assert.Equal(2, server.Requests.Count);
    }

    [Fact]
    public async Task ListQueuedResourcesAsync_NewPageTokenForever_FailsAtThePageLimit()
    {
        using var recorded = JsonDocument.Parse(Payloads.Read("queued-resources-page-1.json"));
        var page = recorded.RootElement.GetProperty("queuedResources").GetRawText();
        await using var server = await FixtureServer.StartAsync(_ => (HttpStatusCode.OK, $$"""{"queuedResources":{{page}},"nextPageToken":"{{Guid.NewGuid():N}}"}"""));

        var error = await Assert.ThrowsAsync<GoogleApiException>(() => server.Client(maxListPages: 5).ListQueuedResourcesAsync(Payloads.Zone, None));

        Assert.Contains("it still sent a next page token after 5 pages (10 queued resources read)", error.Message, StringComparison.Ordinal);
        Assert.Equal(5, server.Requests.Count);
    }

    [Fact]
    public async Task CreateQueuedResourceAsync_RealPermissionDenied403_ThrowsPermanentOnceOnly()
    {
        await using var server = await FixtureServer.StartAsync(HttpStatusCode.Forbidden, Payloads.Read("permission-denied-403.json"));

        var error = await Assert.ThrowsAsync<GoogleApiException>(() =>
            server.Client(QuickRetries).CreateQueuedResourceAsync(Payloads.Zone, Id, SimulatorHarness.SpotBody(Payloads.Zone, Id), "req-1", None));

        Assert.Equal(("PERMISSION_DENIED", HttpStatusCode.Forbidden, false), (error.Status, error.HttpStatus, error.IsTransient));
        Assert.Contains("tpu.queuedResources.create", error.Message, StringComparison.Ordinal);
        Assert.Single(server.Requests);
    }

    [Fact]
    public async Task GetQueuedResourceAsync_RealUnavailable503_RetriedThenThrowsTransient()
    {
        await using var server = await FixtureServer.StartAsync(HttpStatusCode.ServiceUnavailable, Payloads.Read("unavailable-503.json"));

        var error = await Assert.ThrowsAsync<GoogleApiException>(() => server.Client(QuickRetries).GetQueuedResourceAsync(Payloads.Zone, Id, None));

        Assert.Equal(("UNAVAILABLE", true), (error.Status, error.IsTransient));
        Assert.Equal(1 + QuickRetries.MaxRetries, server.Requests.Count);
    }

    private static string Only(FixtureServer server)
    {
        var request = Assert.Single(server.Requests);
        return $"{request.Method} {request.PathAndQuery}";
    }
}
