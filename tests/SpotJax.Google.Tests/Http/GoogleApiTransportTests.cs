using System.Net;
using SpotJax.Contracts;
using SpotJax.Core.Ports;
using SpotJax.Google.Http;

namespace SpotJax.Google.Tests.Http;

public sealed class GoogleApiTransportTests : IDisposable
{
    // Quick backoff, but a generous deadline and attempt timeout: on a machine busy starting the
    // emulators a stub's answer can take seconds, and that must not become a retry of its own.
    private static readonly GoogleApiOptions Quick = new()
    {
        Deadline = TimeSpan.FromSeconds(90),
        AttemptTimeout = TimeSpan.FromSeconds(45),
        MaxRetries = 3,
        BaseDelay = TimeSpan.FromMilliseconds(2),
        MaxDelay = TimeSpan.FromMilliseconds(20),
    };

    private readonly HttpClient _http = new();
    private readonly RecordingTimeProvider _time = new();

    [Theory]
    [InlineData(503, "UNAVAILABLE")]
    [InlineData(429, "RESOURCE_EXHAUSTED")]
    [InlineData(504, "DEADLINE_EXCEEDED")]
    [InlineData(500, "INTERNAL")]
    public async Task SendAsync_TransientStatusTwiceThenOk_RetriedWithBackoff(int http, string status)
    {
        await using var server = StubApiServer.Script(StubResponse.Error(http, status), StubResponse.Error(http, status), StubResponse.Ok("""{"done":true}"""));

        var body = await Transport().SendAsync(HttpMethod.Get, Uri(server), null, idempotent: true, CancellationToken.None);

        Assert.Equal("""{"done":true}""", body);
        Assert.Equal(3, server.Requests.Count);
        // Each retry waits a jittered delay up to the cap; a delay the jitter makes zero sets no timer, so one or two
        // timers, each a real wait. (Their sum is random: it was once 1 ms against a 2 ms base delay.)
        var waits = BackoffWaits();
        Assert.InRange(waits.Count, 1, 2);
        Assert.All(waits, wait => Assert.InRange(wait, TimeSpan.FromTicks(1), Quick.MaxDelay));
    }

    [Theory]
    [InlineData(400, "INVALID_ARGUMENT")]
    [InlineData(403, "PERMISSION_DENIED")]
    [InlineData(400, "FAILED_PRECONDITION")]
    [InlineData(404, "NOT_FOUND")]
    [InlineData(409, "ALREADY_EXISTS")]
    [InlineData(409, "ABORTED")]
    public async Task SendAsync_PermanentStatus_ThrowsItWithoutRetry(int http, string status)
    {
        await using var server = StubApiServer.Script(StubResponse.Error(http, status), StubResponse.Ok());

        var error = await Assert.ThrowsAsync<GoogleApiException>(() => Transport().SendAsync(HttpMethod.Get, Uri(server), null, idempotent: true, CancellationToken.None));

        Assert.Equal(status, error.Status);
        Assert.Equal((HttpStatusCode)http, error.HttpStatus);
        Assert.Single(server.Requests);
        Assert.Empty(BackoffWaits());
    }

    [Fact]
    public async Task SendAsync_Http400CarryingUnavailable_RetriedBecauseStatusDecides()
    {
        await using var server = StubApiServer.Script(StubResponse.Error(400, "UNAVAILABLE"), StubResponse.Ok());

        await Transport().SendAsync(HttpMethod.Get, Uri(server), null, idempotent: true, CancellationToken.None);

        Assert.Equal(2, server.Requests.Count);
    }

    [Fact]
    public async Task SendAsync_Http503CarryingFailedPrecondition_NotRetriedBecauseStatusDecides()
    {
        await using var server = StubApiServer.Script(StubResponse.Error(503, "FAILED_PRECONDITION"), StubResponse.Ok());

        var error = await Assert.ThrowsAsync<GoogleApiException>(() => Transport().SendAsync(HttpMethod.Get, Uri(server), null, idempotent: true, CancellationToken.None));

        Assert.Equal("FAILED_PRECONDITION", error.Status);
        Assert.Single(server.Requests);
    }

    [Fact]
    public async Task SendAsync_ProxyAnswer503WithoutEnvelope_ClassifiedByHttpCodeAndRetried()
    {
        await using var server = StubApiServer.Script(new StubResponse(503, "<html>Service Unavailable</html>"), StubResponse.Ok());

        await Transport().SendAsync(HttpMethod.Get, Uri(server), null, idempotent: true, CancellationToken.None);

        Assert.Equal(2, server.Requests.Count);
    }

    [Fact]
    public async Task SendAsync_TransientForever_GivesUpAfterMaxRetries()
    {
        await using var server = StubApiServer.Script(StubResponse.Error(503, "UNAVAILABLE"));

        var error = await Assert.ThrowsAsync<GoogleApiException>(() => Transport().SendAsync(HttpMethod.Get, Uri(server), null, idempotent: true, CancellationToken.None));

        Assert.Equal("UNAVAILABLE", error.Status);
        Assert.Equal(Quick.MaxRetries + 1, server.Requests.Count);
    }

    [Fact]
    public async Task SendAsync_NotIdempotentAndUnavailable_SentOnce()
    {
        await using var server = StubApiServer.Script(StubResponse.Error(503, "UNAVAILABLE"), StubResponse.Ok());

        var error = await Assert.ThrowsAsync<GoogleApiException>(() => Transport().SendAsync(HttpMethod.Post, Uri(server), new { a = 1 }, idempotent: false, CancellationToken.None));

        Assert.Equal("UNAVAILABLE", error.Status);
        var request = Assert.Single(server.Requests);
        Assert.Equal("""{"a":1}""", request.Body);
    }

    [Fact]
    public async Task SendAsync_UnauthorizedOnce_RetriedWithRefreshedToken()
    {
        await using var server = StubApiServer.Script(StubResponse.Error(401, "UNAUTHENTICATED"), StubResponse.Ok());
        var tokens = new CountingTokenSource();

        // Not idempotent: the token refresh is not a retry of a possibly executed call, the 401 proves it was refused.
        await Transport(tokens).SendAsync(HttpMethod.Post, Uri(server), new { }, idempotent: false, CancellationToken.None);

        Assert.Equal(["Bearer token-1", "Bearer token-2"], server.Requests.Select(r => r.Authorization));
        Assert.Equal(1, tokens.Refreshes);
    }

    [Fact]
    public async Task SendAsync_UnauthorizedTwice_ThrowsUnauthenticatedAfterOneRefresh()
    {
        await using var server = StubApiServer.Script(StubResponse.Error(401, "UNAUTHENTICATED"));
        var tokens = new CountingTokenSource();

        var error = await Assert.ThrowsAsync<GoogleApiException>(() => Transport(tokens).SendAsync(HttpMethod.Get, Uri(server), null, idempotent: true, CancellationToken.None));

        Assert.Equal("UNAUTHENTICATED", error.Status);
        Assert.Equal(2, server.Requests.Count);
        Assert.Equal(1, tokens.Refreshes);
    }

    [Fact]
    public async Task SendAsync_TokenSourceReturnsNull_NoAuthorizationHeader()
    {
        await using var server = StubApiServer.Script(StubResponse.Ok());

        await Transport(FixedTokenSource.None).SendAsync(HttpMethod.Get, Uri(server), null, idempotent: true, CancellationToken.None);

        Assert.Null(Assert.Single(server.Requests).Authorization);
    }

    [Fact]
    public async Task SendAsync_ServerHangs_DeadlineEndsItWithDeadlineExceeded()
    {
        await using var server = StubApiServer.Script((StubResponse?)null);
        // The retry budget is far larger than the deadline allows, so the deadline, not the budget, ends the call; the
        // deadline is forty attempts long, so that a machine stalled for seconds still fits two attempts (and the
        // server's record of both) in it.
        var options = Quick with { AttemptTimeout = TimeSpan.FromMilliseconds(200), Deadline = TimeSpan.FromSeconds(8), MaxRetries = 1000 };

        var error = await Assert.ThrowsAsync<GoogleApiException>(() => Transport(options: options).SendAsync(HttpMethod.Get, Uri(server), null, idempotent: true, CancellationToken.None))
            .WaitAsync(TimeSpan.FromSeconds(60));

        Assert.Equal("DEADLINE_EXCEEDED", error.Status);
        Assert.Equal(HttpStatusCode.GatewayTimeout, error.HttpStatus);
        // Each attempt timed out and was retried until the deadline ended the call.
        Assert.InRange(server.Requests.Count, 2, options.MaxRetries);
    }

    [Fact]
    public async Task SendAsync_NotIdempotentAndServerHangs_DeadlineExceededAfterOneAttempt()
    {
        await using var server = StubApiServer.Script((StubResponse?)null);
        // The attempt is long enough for a loaded machine's stub to take the request in before the client gives up.
        var options = Quick with { AttemptTimeout = TimeSpan.FromSeconds(2), Deadline = TimeSpan.FromSeconds(5) };

        var error = await Assert.ThrowsAsync<GoogleApiException>(() => Transport(options: options).SendAsync(HttpMethod.Post, Uri(server), new { }, idempotent: false, CancellationToken.None))
            .WaitAsync(TimeSpan.FromSeconds(60));

        Assert.Equal("DEADLINE_EXCEEDED", error.Status);
        // The call is over, so no retry can come any more; the stub may record the one request a moment later.
        await Eventually.TrueAsync(() => server.Requests.Count >= 1);
        Assert.Single(server.Requests);
    }

    [Fact]
    public async Task SendAsync_CallerCancels_ThrowsOperationCanceled()
    {
        await using var server = StubApiServer.Script((StubResponse?)null);
        using var cancel = new CancellationTokenSource();
        var call = Transport().SendAsync(HttpMethod.Get, Uri(server), null, idempotent: true, cancel.Token);
        await Eventually.TrueAsync(() => server.Requests.Count == 1);

        await cancel.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => call).WaitAsync(TimeSpan.FromSeconds(10));
    }

    [Fact]
    public async Task SendAsync_NothingListening_UnavailableAfterRetries()
    {
        Uri closed;
        await using (var server = StubApiServer.Script(StubResponse.Ok()))
        {
            closed = Uri(server);
        }

        var error = await Assert.ThrowsAsync<GoogleApiException>(() => Transport().SendAsync(HttpMethod.Get, closed, null, idempotent: true, CancellationToken.None));

        Assert.Equal("UNAVAILABLE", error.Status);
        Assert.InRange(BackoffWaits().Count, 1, Quick.MaxRetries);
    }

    [Fact]
    public async Task SendJsonAsync_Answer_ReadsCamelCaseAndInt64Strings()
    {
        await using var server = StubApiServer.Script(StubResponse.Ok("""{"name":"n","sizeBytes":"12345678901","extra":{}}"""));

        var answer = await Transport().SendJsonAsync<Sized>(HttpMethod.Get, Uri(server), null, idempotent: true, CancellationToken.None);

        Assert.Equal(new Sized { Name = "n", SizeBytes = 12345678901 }, answer);
    }

    public void Dispose() => _http.Dispose();

    private GoogleApiTransport Transport(IAccessTokenSource? tokens = null, GoogleApiOptions? options = null) =>
        new(_http, tokens ?? new CountingTokenSource(), options ?? Quick, _time);

    private static Uri Uri(StubApiServer server) => new(server.BaseUri, "v1/projects/p/things/t");

    /// <summary>The retry waits: every timer but the deadline's and the unarmed (infinite) ones.</summary>
    private List<TimeSpan> BackoffWaits() => [.. _time.Timers.Where(t => t != Quick.Deadline && t != Timeout.InfiniteTimeSpan)];

    private sealed record Sized
    {
        public string? Name { get; init; }
        public long SizeBytes { get; init; }
    }
}
