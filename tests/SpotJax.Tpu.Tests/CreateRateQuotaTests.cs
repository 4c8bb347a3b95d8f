using System.Collections.Concurrent;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Microsoft.Extensions.Time.Testing;
using SpotJax.Core.Ports;
using SpotJax.Google.Http;
using SpotJax.Google.Tpu;
using SpotJax.TpuSimulation;

namespace SpotJax.Tpu.Tests;

/// <summary>
/// The simulator's per-project rate quota on creates (<see cref="TpuFaults.CreatesPerMinute"/>), raw and through the
/// production client, whose transport honours the server's wait (Retry-After, RetryInfo) on an injected clock.
/// </summary>
public sealed class CreateRateQuotaTests
{
    private static readonly CancellationToken None = CancellationToken.None;

    private static async Task<(HttpStatusCode Status, JsonNode Body, HttpResponseMessage Response)> PostCreateAsync(SimulatorHarness harness, string project, string zone)
    {
        var id = SimulatorHarness.NewId("qr");
        var body = SimulatorHarness.SpotBody(zone, id);
        var spec = body.Tpu!.NodeSpec[0] with { Parent = $"projects/{project}/locations/{zone}" };
        var response = await harness.Http.PostAsJsonAsync(
            new Uri(harness.Simulator.BaseUri, $"v2/projects/{project}/locations/{zone}/queuedResources?queuedResourceId={id}&requestId={Guid.NewGuid()}"),
            body with { Tpu = body.Tpu with { NodeSpec = [spec] } });
        return (response.StatusCode, JsonNode.Parse(await response.Content.ReadAsStringAsync())!, response);
    }

    [Fact]
    public async Task Create_BeyondTheQuotaInTheWindow_Answers429WithRateLimitErrorInfoRetryInfoAndRetryAfter()
    {
        var time = new FakeTimeProvider();
        await using var harness = await SimulatorHarness.StartAsync(o => o with { Faults = new TpuFaults { CreatesPerMinute = 2 } }, time);
        var zone = SimulatorHarness.NewZone();

        Assert.Equal(HttpStatusCode.OK, (await PostCreateAsync(harness, SimulatorHarness.Project, zone)).Status);
        time.Advance(TimeSpan.FromSeconds(20));
        Assert.Equal(HttpStatusCode.OK, (await PostCreateAsync(harness, SimulatorHarness.Project, zone)).Status);
        time.Advance(TimeSpan.FromSeconds(15.5));
        var (status, body, response) = await PostCreateAsync(harness, SimulatorHarness.Project, SimulatorHarness.NewZone());

        Assert.Equal(HttpStatusCode.TooManyRequests, status);
        // The oldest create leaves the window 60 s after it was made, 24.5 s from now: rounded up to whole seconds.
        Assert.Equal(TimeSpan.FromSeconds(25), response.Headers.RetryAfter?.Delta);
        var error = body["error"]!.AsObject();
        Assert.Equal(429, (int)error["code"]!);
        Assert.Equal("RESOURCE_EXHAUSTED", (string?)error["status"]);
        Assert.Contains("per minute", (string?)error["message"], StringComparison.Ordinal);
        var details = error["details"]!.AsArray();
        Assert.Equal(["type.googleapis.com/google.rpc.ErrorInfo", "type.googleapis.com/google.rpc.RetryInfo"], details.Select(d => (string?)d!["@type"]));
        Assert.Equal("RATE_LIMIT_EXCEEDED", (string?)details[0]!["reason"]);
        Assert.Equal("tpu.googleapis.com/qps/create", (string?)details[0]!["metadata"]!["quota_metric"]);
        Assert.Equal("25s", (string?)details[1]!["retryDelay"]);
        Assert.Equal(1, harness.Simulator.CreatesRefusedForRate);
        response.Dispose();
    }

    [Fact]
    public async Task Create_AfterTheOldestLeavesTheWindow_IsAdmittedAgain()
    {
        var time = new FakeTimeProvider();
        await using var harness = await SimulatorHarness.StartAsync(o => o with { Faults = new TpuFaults { CreatesPerMinute = 1, CreateQuotaWindow = TimeSpan.FromSeconds(10) } }, time);
        var zone = SimulatorHarness.NewZone();
        Assert.Equal(HttpStatusCode.OK, (await PostCreateAsync(harness, SimulatorHarness.Project, zone)).Status);

        time.Advance(TimeSpan.FromSeconds(9.9));
        var refused = await PostCreateAsync(harness, SimulatorHarness.Project, zone);
        time.Advance(TimeSpan.FromSeconds(0.1));
        var admitted = await PostCreateAsync(harness, SimulatorHarness.Project, zone);

        Assert.Equal(HttpStatusCode.TooManyRequests, refused.Status);
        Assert.Contains("per 10 s", (string?)refused.Body["error"]!["message"], StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.OK, admitted.Status);
    }

    [Fact]
    public async Task Create_OtherProject_HasItsOwnQuota()
    {
        await using var harness = await SimulatorHarness.StartAsync(o => o with { Faults = new TpuFaults { CreatesPerMinute = 1 } }, new FakeTimeProvider());
        var zone = SimulatorHarness.NewZone();

        var first = await PostCreateAsync(harness, SimulatorHarness.Project, zone);
        var sameProject = await PostCreateAsync(harness, SimulatorHarness.Project, SimulatorHarness.NewZone());
        var otherProject = await PostCreateAsync(harness, "other-project", zone);

        Assert.Equal(HttpStatusCode.OK, first.Status);
        Assert.Equal(HttpStatusCode.TooManyRequests, sameProject.Status);
        Assert.Equal(HttpStatusCode.OK, otherProject.Status);
    }

    [Fact]
    public async Task Create_OtherMethodsAndNoQuota_AreNotLimited()
    {
        await using var harness = await SimulatorHarness.StartAsync(o => o with { Faults = new TpuFaults { CreatesPerMinute = 0 } }, new FakeTimeProvider());
        var zone = SimulatorHarness.NewZone();

        var list = await harness.Client.ListQueuedResourcesAsync(zone, None);
        var refused = await PostCreateAsync(harness, SimulatorHarness.Project, zone);
        harness.Simulator.SetFaults(new TpuFaults());
        var admitted = await PostCreateAsync(harness, SimulatorHarness.Project, zone);

        Assert.Empty(list);
        Assert.Equal(HttpStatusCode.TooManyRequests, refused.Status);
        Assert.Equal(HttpStatusCode.OK, admitted.Status);
    }

    [Fact]
    public async Task Client_WaitLongerThanItsMaxDelay_ThrowsAtOnceWithRetryAfterAndSendsNothingMore()
    {
        var time = new FakeTimeProvider();
        await using var harness = await SimulatorHarness.StartAsync(o => o with { Faults = new TpuFaults { CreatesPerMinute = 1 } }, time);
        var client = new TpuRestClient(
            new GoogleApiTransport(harness.Http, FixedTokenSource.None, new GoogleApiOptions { MaxDelay = TimeSpan.FromSeconds(10) }, time),
            new TpuClientOptions { Project = SimulatorHarness.Project, BaseUri = harness.Simulator.BaseUri });
        var zone = SimulatorHarness.NewZone();
        await client.CreateQueuedResourceAsync(zone, "qr-1", SimulatorHarness.SpotBody(zone, "qr-1"), "req-1", None);

        var error = await Assert.ThrowsAsync<GoogleApiException>(() =>
            client.CreateQueuedResourceAsync(zone, "qr-2", SimulatorHarness.SpotBody(zone, "qr-2"), "req-2", None));

        Assert.Equal("RESOURCE_EXHAUSTED", error.Status);
        Assert.Equal("RATE_LIMIT_EXCEEDED", error.Reason);
        Assert.Equal(TimeSpan.FromSeconds(60), error.RetryAfter);
        Assert.Equal(1, harness.Simulator.CreatesRefusedForRate);
    }

    [Fact]
    public async Task Client_ShortRetryAfter_RetriesNoSoonerThanTheServerAskedAndThenSucceeds()
    {
        var fake = new FakeTimeProvider();
        var clock = new RecordingClock(fake);
        await using var harness = await SimulatorHarness.StartAsync(o => o with { Faults = new TpuFaults { CreatesPerMinute = 1, CreateQuotaWindow = TimeSpan.FromSeconds(4) } }, fake);
        var client = new TpuRestClient(
            new GoogleApiTransport(harness.Http, FixedTokenSource.None, new GoogleApiOptions { MaxDelay = TimeSpan.FromSeconds(10), Deadline = TimeSpan.FromMinutes(5) }, clock),
            new TpuClientOptions { Project = SimulatorHarness.Project, BaseUri = harness.Simulator.BaseUri });
        var zone = SimulatorHarness.NewZone();
        await client.CreateQueuedResourceAsync(zone, "qr-1", SimulatorHarness.SpotBody(zone, "qr-1"), "req-1", None);
        fake.Advance(TimeSpan.FromSeconds(1));

        var second = client.CreateQueuedResourceAsync(zone, "qr-2", SimulatorHarness.SpotBody(zone, "qr-2"), "req-2", None);
        // The one timer with a due time: the pause before the retry (the deadline's is armed later, through Change).
        // The server asked for 3 s, so 3 to 4.5 s.
        await Eventually.TrueAsync(() => clock.DueTimes.Any(d => d > TimeSpan.Zero), "the transport to pause before its retry");
        var pause = clock.DueTimes.Single(d => d > TimeSpan.Zero);
        fake.Advance(pause);
        var operation = await second;

        Assert.InRange(pause, TimeSpan.FromSeconds(3), TimeSpan.FromSeconds(4.5));
        Assert.NotNull(operation?.Name);
        Assert.Equal(1, harness.Simulator.CreatesRefusedForRate);
    }

    [Fact]
    public void ToException_RetryInfoAndHeader_TakesTheLongerWait()
    {
        const string body = """
            {"error": {"code": 429, "message": "Quota exceeded", "status": "RESOURCE_EXHAUSTED", "details": [
              {"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "RATE_LIMIT_EXCEEDED", "domain": "googleapis.com"},
              {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "7.250s"}]}}
            """;

        Assert.Equal(TimeSpan.FromSeconds(7.25), GoogleApiTransport.ToException(HttpStatusCode.TooManyRequests, body).RetryAfter);
        Assert.Equal(TimeSpan.FromSeconds(9), GoogleApiTransport.ToException(HttpStatusCode.TooManyRequests, body, TimeSpan.FromSeconds(9)).RetryAfter);
        Assert.Equal(TimeSpan.FromSeconds(7.25), GoogleApiTransport.ToException(HttpStatusCode.TooManyRequests, body, TimeSpan.FromSeconds(2)).RetryAfter);
        Assert.Null(GoogleApiTransport.ToException(HttpStatusCode.TooManyRequests, """{"error": {"code": 429, "status": "RESOURCE_EXHAUSTED", "details": [{"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "soon"}]}}""").RetryAfter);
    }

    [Theory]
    [InlineData(0.0, 10.0)]
    [InlineData(0.5, 12.5)]
    [InlineData(0.999, 14.995)]
    public void ServerDelay_NeverBelowTheServersWait_AndJitteredUpToHalfOfItAgain(double sample, double seconds)
    {
        Assert.Equal(TimeSpan.FromSeconds(seconds), GoogleApiTransport.ServerDelay(TimeSpan.FromSeconds(10), sample));
    }

    /// <summary>A clock over a fake one that records the due time of every timer created on it; it never moves time itself.</summary>
    private sealed class RecordingClock(FakeTimeProvider fake) : TimeProvider
    {
        private readonly ConcurrentQueue<TimeSpan> _dueTimes = new();

        public IReadOnlyList<TimeSpan> DueTimes => [.. _dueTimes];

        public override DateTimeOffset GetUtcNow() => fake.GetUtcNow();

        public override long GetTimestamp() => fake.GetTimestamp();

        public override long TimestampFrequency => fake.TimestampFrequency;

        public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period)
        {
            _dueTimes.Enqueue(dueTime);
            return fake.CreateTimer(callback, state, dueTime, period);
        }
    }
}
