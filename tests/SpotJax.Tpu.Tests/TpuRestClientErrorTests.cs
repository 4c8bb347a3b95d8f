using System.Net;
using System.Text;
using SpotJax.Core;
using SpotJax.Core.Ports;
using SpotJax.Google.Http;
using SpotJax.Google.Tpu;

namespace SpotJax.Tpu.Tests;

/// <summary>
/// How the client reads real-shaped Google error bodies (and what it puts on the wire), from fixtures
/// served by a canned handler; everything else in this project uses the simulator over HTTP.
/// </summary>
public sealed class TpuRestClientErrorTests
{
    private const string Zone = "us-central2-b";

    [Fact]
    public async Task CreateQueuedResourceAsync_AlreadyExists409_ReturnsNull()
    {
        var (client, _) = Client(HttpStatusCode.Conflict, Fixture("already-exists-409.json"));

        var result = await client.CreateQueuedResourceAsync(Zone, "job-1", SimulatorHarness.SpotBody(Zone, "job-1"), "req-1", CancellationToken.None);

        Assert.Null(result);
    }

    [Fact]
    public async Task CreateQueuedResourceAsync_Aborted409_ThrowsTransientAborted()
    {
        var (client, _) = Client(HttpStatusCode.Conflict, Fixture("aborted-409.json"));

        var error = await Assert.ThrowsAsync<GoogleApiException>(() =>
            client.CreateQueuedResourceAsync(Zone, "job-1", SimulatorHarness.SpotBody(Zone, "job-1"), "req-1", CancellationToken.None));

        Assert.Equal("ABORTED", error.Status);
        Assert.Equal(HttpStatusCode.Conflict, error.HttpStatus);
        Assert.True(error.IsTransient);
    }

    [Fact]
    public async Task ListQueuedResourcesAsync_ResourceExhausted429_ThrowsTransient()
    {
        var (client, _) = Client(HttpStatusCode.TooManyRequests, Fixture("resource-exhausted-429.json"));

        var error = await Assert.ThrowsAsync<GoogleApiException>(() => client.ListQueuedResourcesAsync(Zone, CancellationToken.None));

        Assert.Equal("RESOURCE_EXHAUSTED", error.Status);
        Assert.True(error.IsTransient);
        Assert.Contains("Quota exceeded", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task DeleteQueuedResourceAsync_FailedPrecondition400_ThrowsPermanent()
    {
        var (client, _) = Client(HttpStatusCode.BadRequest, Fixture("failed-precondition-400.json"));

        var error = await Assert.ThrowsAsync<GoogleApiException>(() =>
            client.DeleteQueuedResourceAsync(Zone, "job-1", force: false, "req-1", CancellationToken.None));

        Assert.Equal("FAILED_PRECONDITION", error.Status);
        Assert.False(error.IsTransient);
    }

    [Fact]
    public async Task GetQueuedResourceAsync_NotFound404Envelope_ReturnsNull()
    {
        var (client, _) = Client(HttpStatusCode.NotFound, Fixture("not-found-404.json"));

        Assert.Null(await client.GetQueuedResourceAsync(Zone, "job-9", CancellationToken.None));
    }

    [Fact]
    public async Task GetQueuedResourceAsync_NotJson502_ThrowsUnknownWithBodyText()
    {
        var (client, _) = Client(HttpStatusCode.BadGateway, Fixture("bad-gateway-502.html"), "text/html");

        var error = await Assert.ThrowsAsync<GoogleApiException>(() => client.GetQueuedResourceAsync(Zone, "job-1", CancellationToken.None));

        Assert.Equal("UNKNOWN", error.Status);
        Assert.Equal(HttpStatusCode.BadGateway, error.HttpStatus);
        Assert.True(error.IsTransient);
        Assert.Contains("502", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(HttpStatusCode.BadRequest, "INVALID_ARGUMENT")]
    [InlineData(HttpStatusCode.Unauthorized, "UNAUTHENTICATED")]
    [InlineData(HttpStatusCode.Forbidden, "PERMISSION_DENIED")]
    [InlineData(HttpStatusCode.Conflict, "ABORTED")]
    [InlineData(HttpStatusCode.TooManyRequests, "RESOURCE_EXHAUSTED")]
    [InlineData(HttpStatusCode.InternalServerError, "INTERNAL")]
    [InlineData(HttpStatusCode.ServiceUnavailable, "UNAVAILABLE")]
    [InlineData(HttpStatusCode.GatewayTimeout, "DEADLINE_EXCEEDED")]
    [InlineData((HttpStatusCode)418, "UNKNOWN")]
    public async Task GetNodeAsync_NoEnvelope_StatusFromHttpCode(HttpStatusCode httpStatus, string status)
    {
        var (client, _) = Client(httpStatus, "upstream connect error or disconnect/reset before headers", "text/plain");

        var error = await Assert.ThrowsAsync<GoogleApiException>(() => client.GetNodeAsync(Zone, "node-1", CancellationToken.None));

        Assert.Equal(status, error.Status);
    }

    [Fact]
    public async Task GetNodeAsync_NoEnvelope404_ReturnsNull()
    {
        var (client, _) = Client(HttpStatusCode.NotFound, "Not Found", "text/plain");

        Assert.Null(await client.GetNodeAsync(Zone, "node-1", CancellationToken.None));
    }

    [Fact]
    public async Task CreateQueuedResourceAsync_WithToken_SendsBearerAndExactUrl()
    {
        var (client, handler) = Client(HttpStatusCode.OK, """{"name":"projects/p/locations/z/operations/operation-1","done":false}""",
            token: "ya29.token");

        var operation = await client.CreateQueuedResourceAsync(Zone, "job-1", SimulatorHarness.SpotBody(Zone, "job-1"), "7d3c2b1a", CancellationToken.None);

        Assert.Equal("projects/p/locations/z/operations/operation-1", operation?.Name);
        Assert.Equal("Bearer ya29.token", handler.Authorization);
        Assert.Equal(
            $"https://tpu.googleapis.com/v2/projects/{SimulatorHarness.Project}/locations/{Zone}/queuedResources?queuedResourceId=job-1&requestId=7d3c2b1a",
            handler.Uri?.AbsoluteUri);
        Assert.Contains("\"spot\":{}", handler.Body, StringComparison.Ordinal);
        Assert.DoesNotContain("null", handler.Body, StringComparison.Ordinal);
    }

    [Fact]
    public async Task DeleteQueuedResourceAsync_TokenSourceReturnsNull_NoAuthorizationHeader()
    {
        var (client, handler) = Client(HttpStatusCode.OK, """{"name":"projects/p/locations/z/operations/operation-2","done":true}""",
            token: null);

        await client.DeleteQueuedResourceAsync(Zone, "job-1", force: true, "r-1", CancellationToken.None);

        Assert.Null(handler.Authorization);
        Assert.Equal(
            $"https://tpu.googleapis.com/v2/projects/{SimulatorHarness.Project}/locations/{Zone}/queuedResources/job-1?requestId=r-1&force=true",
            handler.Uri?.AbsoluteUri);
    }

    [Theory]
    [InlineData("a/b")]
    [InlineData("..")]
    [InlineData("")]
    public async Task GetQueuedResourceAsync_IdThatBreaksThePath_ThrowsArgumentWithoutCalling(string id)
    {
        var (client, handler) = Client(HttpStatusCode.OK, "{}");

        await Assert.ThrowsAnyAsync<ArgumentException>(() => client.GetQueuedResourceAsync(Zone, id, CancellationToken.None));

        Assert.Null(handler.Uri);
    }

    [Fact]
    public async Task GetQueuedResourceAsync_NothingListening_ThrowsUnavailable()
    {
        var port = LoopbackPorts.Choose();
        using var http = new HttpClient();
        var client = new TpuRestClient(new GoogleApiTransport(http, FixedTokenSource.None, QuickRetries), new TpuClientOptions { Project = "p", BaseUri = new Uri($"http://127.0.0.1:{port}/") });

        var error = await Assert.ThrowsAsync<GoogleApiException>(() => client.GetQueuedResourceAsync(Zone, "job-1", CancellationToken.None));

        Assert.Equal("UNAVAILABLE", error.Status);
        Assert.True(error.IsTransient);
    }

    /// <summary>The production retry policy with millisecond backoffs, so transient fixtures stay fast.</summary>
    private static readonly GoogleApiOptions QuickRetries = new() { BaseDelay = TimeSpan.FromMilliseconds(1), MaxDelay = TimeSpan.FromMilliseconds(5) };

    private static string Fixture(string name) => File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "Fixtures", name));

    private static (TpuRestClient Client, CannedHandler Handler) Client(
        HttpStatusCode status, string body, string mediaType = "application/json", string? token = null)
    {
        var handler = new CannedHandler(status, body, mediaType);
        var client = new TpuRestClient(
            new GoogleApiTransport(new HttpClient(handler), new FixedTokenSource(token), QuickRetries),
            new TpuClientOptions { Project = SimulatorHarness.Project });
        return (client, handler);
    }

    /// <summary>Answers every request with one fixed response and remembers the last request.</summary>
    private sealed class CannedHandler(HttpStatusCode status, string body, string mediaType) : HttpMessageHandler
    {
        public Uri? Uri { get; private set; }
        public string? Authorization { get; private set; }
        public string? Body { get; private set; }

        protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            Uri = request.RequestUri;
            Authorization = request.Headers.Authorization?.ToString();
            Body = request.Content is null ? null : await request.Content.ReadAsStringAsync(cancellationToken);
            return new HttpResponseMessage(status) { Content = new StringContent(body, Encoding.UTF8, mediaType) };
        }
    }
}
