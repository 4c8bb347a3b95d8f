using SpotJax.Google.Http;
using SpotJax.Google.PubSub;
using SpotJax.Google.Tests.Http;

namespace SpotJax.Google.Tests.PubSub;

/// <summary>
/// Stopping a <see cref="PubSubPuller"/> while a pull is on the wire, against a stand-in that answers
/// that pull late: the emulator, busy, can serve a pull its client already gave up on, after the
/// client's last nacks, and the messages it hands out then wait out their ack deadline unseen.
/// </summary>
public sealed class PubSubPullerStopTests : IDisposable
{
    private const string Message = """{"receivedMessages":[{"ackId":"ack-late","message":{"messageId":"m-late","data":"aGk="}}]}""";

    private readonly HttpClient _http = new();

    [Fact]
    public async Task DisposeAsync_ShortPullInFlight_WaitsForItAndNacksWhatItBrought()
    {
        var pullArrived = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var answerPull = new ManualResetEventSlim();
        await using var server = StubApiServer.Start(request =>
        {
            if (!request.PathAndQuery.EndsWith(":pull", StringComparison.Ordinal))
            {
                return StubResponse.Ok();
            }

            pullArrived.TrySetResult();
            answerPull.Wait(TimeSpan.FromSeconds(30));
            return StubResponse.Ok(Message);
        });
        var handled = 0;
        var puller = Puller(server, new PubSubPullerOptions { MaxConcurrency = 4 }, () => Interlocked.Increment(ref handled));
        puller.Start();
        await pullArrived.Task.WaitAsync(TimeSpan.FromSeconds(30));

        var stopping = puller.DisposeAsync().AsTask();
        // The pull cannot be answered before answerPull is set, so a stop that waits for it is not done yet;
        // the nack below proves it waited (a stop that had dropped the pull would never see its message).
        Assert.False(stopping.IsCompleted, "stopping returned before the pull it sent was answered");
        answerPull.Set();
        await stopping.WaitAsync(TimeSpan.FromSeconds(30));

        Assert.Equal(0, Volatile.Read(ref handled));
        Assert.Equal((0, 1), (puller.Acknowledged, puller.Nacked));
        var nack = Assert.Single(server.Requests, r => r.PathAndQuery.EndsWith(":modifyAckDeadline", StringComparison.Ordinal));
        Assert.Contains("\"ack-late\"", nack.Body, StringComparison.Ordinal);
        Assert.Contains("\"ackDeadlineSeconds\":0", nack.Body, StringComparison.Ordinal);
        Assert.Single(server.Requests, r => r.PathAndQuery.EndsWith(":pull", StringComparison.Ordinal));
        answerPull.Dispose();
    }

    [Fact]
    public async Task DisposeAsync_ShortPullNeverAnswered_AbandonsItAfterTheGrace()
    {
        var pullArrived = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var server = StubApiServer.Start(request =>
        {
            if (request.PathAndQuery.EndsWith(":pull", StringComparison.Ordinal))
            {
                pullArrived.TrySetResult();
                return null;
            }

            return StubResponse.Ok();
        });
        var puller = Puller(server, new PubSubPullerOptions { StopGrace = TimeSpan.FromMilliseconds(300) }, () => { });
        puller.Start();
        await pullArrived.Task.WaitAsync(TimeSpan.FromSeconds(30));

        await puller.DisposeAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(20));

        Assert.Equal((0, 0), (puller.Acknowledged, puller.Nacked));
    }

    public void Dispose() => _http.Dispose();

    private PubSubPuller Puller(StubApiServer server, PubSubPullerOptions options, Action onMessage)
    {
        var transport = new GoogleApiTransport(_http, FixedTokenSource.None, new GoogleApiOptions { Deadline = TimeSpan.FromSeconds(60), AttemptTimeout = TimeSpan.FromSeconds(45) });
        return new PubSubPuller(transport, new PubSubClientOptions { Project = "p", BaseUri = server.BaseUri }, "sub", (_, _) =>
        {
            onMessage();
            return Task.CompletedTask;
        }, options);
    }
}
