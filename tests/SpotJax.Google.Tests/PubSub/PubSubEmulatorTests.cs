using System.Collections.Concurrent;
using System.Text.Json.Nodes;
using System.Text;
using SpotJax.Contracts;
using SpotJax.Core.Ports;
using SpotJax.Google.Http;
using SpotJax.Google.PubSub;
using SpotJax.Google.Tests.Emulators;
using SpotJax.Google.Tests.Http;

namespace SpotJax.Google.Tests.PubSub;

/// <summary>What the Pub/Sub clients do beyond the bus contract, against the emulator.</summary>
[Collection(PubSubEmulatorCollection.Name)]
public sealed class PubSubEmulatorTests(PubSubEmulator emulator) : IAsyncLifetime
{
    private const string Project = "spotjax-pubsub";
    private static readonly CancellationToken None = CancellationToken.None;
    private readonly PubSubPublisher _publisher = new(emulator.Transport, emulator.Client(Project));
    private readonly PubSubAdminClient _admin = new(emulator.Transport, emulator.Client(Project));
    private readonly List<PubSubPuller> _pullers = [];

    [Fact]
    public async Task PublishBatchAsync_2500Messages_EveryOneArrivesUnderItsId()
    {
        var (topic, subscription) = await TopicWithSubscriptionAsync();
        var arrived = new ConcurrentDictionary<string, string>();
        Pull(subscription, (message, _) =>
        {
            arrived[message.MessageId] = Encoding.UTF8.GetString(message.Data);
            return Task.CompletedTask;
        }, PubSubTesting.QuickPulls with { MaxConcurrency = 64 });
        var messages = Enumerable.Range(0, 2500).Select(i => OutgoingMessage.FromText($"m{i}")).ToList();

        var ids = await _publisher.PublishBatchAsync(topic, messages, None);

        // A bound for a lost message, not a throughput target: a machine shared with another test run is slow.
        await Eventually.TrueAsync(() => arrived.Count >= 2500, TimeSpan.FromMinutes(3));
        Assert.Equal(2500, ids.Distinct(StringComparer.Ordinal).Count());
        Assert.Equal(ids.Order(StringComparer.Ordinal), arrived.Keys.Order(StringComparer.Ordinal));
        Assert.All(ids.Select((id, i) => (id, i)), p => Assert.Equal($"m{p.i}", arrived[p.id]));
    }

    [Fact]
    public async Task Puller_HandlerThrows_NackedAndRedeliveredAsTheNextAttempt()
    {
        var (topic, subscription) = await TopicWithSubscriptionAsync(deadLetter: true);
        var attempts = new ConcurrentQueue<int?>();
        var redelivered = new TaskCompletionSource<PubSubMessage>(TaskCreationOptions.RunContinuationsAsynchronously);
        var puller = Pull(subscription, (message, _) =>
        {
            attempts.Enqueue(message.DeliveryAttempt);
            if (attempts.Count == 1)
            {
                throw new InvalidOperationException("transient");
            }

            redelivered.TrySetResult(message);
            return Task.CompletedTask;
        });

        var id = await _publisher.PublishAsync(topic, OutgoingMessage.FromText("again"), None);

        var message = await redelivered.Task.WaitAsync(Eventually.Patience);
        Assert.Equal(id, message.MessageId);
        Assert.Equal([1, 2], attempts);
        await Eventually.TrueAsync(() => puller.Acknowledged == 1);
        Assert.Equal(1, puller.Nacked);
    }

    [Fact]
    public async Task Puller_HandlerAlwaysFails_DeadLetteredAfterMaxDeliveryAttempts()
    {
        var (topic, subscription) = await TopicWithSubscriptionAsync(deadLetter: true);
        var calls = 0;
        Pull(subscription, (_, _) =>
        {
            Interlocked.Increment(ref calls);
            throw new InvalidOperationException("job document is corrupt");
        });
        var dead = new TaskCompletionSource<PubSubMessage>(TaskCreationOptions.RunContinuationsAsynchronously);
        await _admin.CreateSubscriptionAsync(new SubscriptionSpec { Name = "watch-" + topic, Topic = "dlq-" + topic }, None);
        Pull("watch-" + topic, (message, _) =>
        {
            dead.TrySetResult(message);
            return Task.CompletedTask;
        });

        var id = await _publisher.PublishAsync(topic, OutgoingMessage.FromText("poison"), None);

        var deadLetter = await dead.Task.WaitAsync(Eventually.Patience);
        Assert.Equal("poison", Encoding.UTF8.GetString(deadLetter.Data));
        Assert.NotEqual(id, deadLetter.MessageId);
        Assert.Equal(5, Volatile.Read(ref calls));
    }

    [Fact]
    public async Task PublishAsync_MissingTopic_NotFoundWithoutRetry()
    {
        var time = new RecordingTimeProvider();
        var transport = emulator.Endpoint.CreateTransport(emulator.Http, new GoogleApiOptions { BaseDelay = TimeSpan.FromMilliseconds(5) }, time);
        var publisher = new PubSubPublisher(transport, emulator.Client(Project));

        var error = await Assert.ThrowsAsync<GoogleApiException>(() => publisher.PublishAsync(PubSubTesting.UniqueName("missing"), OutgoingMessage.FromText("x"), None));

        Assert.Equal("NOT_FOUND", error.Status);
        Assert.Equal(System.Net.HttpStatusCode.NotFound, error.HttpStatus);
        Assert.DoesNotContain(time.Timers, t => t > TimeSpan.Zero && t != transport.Options.Deadline);
    }

    [Fact]
    public async Task CreateTopicAsync_Twice_SecondReportsItExisted()
    {
        var topic = PubSubTesting.UniqueName("topic");

        Assert.True(await _admin.CreateTopicAsync(topic, None));
        Assert.False(await _admin.CreateTopicAsync(topic, None));
        Assert.True(await _admin.DeleteTopicAsync(topic, None));
        Assert.False(await _admin.DeleteTopicAsync(topic, None));
    }

    [Fact]
    public async Task CreateSubscriptionAsync_Twice_SecondReportsItExisted()
    {
        var (topic, subscription) = await TopicWithSubscriptionAsync();

        Assert.False(await _admin.CreateSubscriptionAsync(new SubscriptionSpec { Name = subscription, Topic = topic }, None));
        Assert.True(await _admin.DeleteSubscriptionAsync(subscription, None));
        Assert.False(await _admin.DeleteSubscriptionAsync(subscription, None));
    }

    [Fact]
    public async Task CreateSubscriptionAsync_MissingTopic_NotFound()
    {
        var spec = new SubscriptionSpec { Name = PubSubTesting.UniqueName("sub"), Topic = PubSubTesting.UniqueName("missing") };

        var error = await Assert.ThrowsAsync<GoogleApiException>(() => _admin.CreateSubscriptionAsync(spec, None));

        Assert.Equal("NOT_FOUND", error.Status);
    }

    [Fact]
    public async Task CreateSubscriptionAsync_PushEndpoint_EmulatorPostsTheWrappedMessage()
    {
        await using var endpoint = StubApiServer.Script(StubResponse.Ok());
        var topic = PubSubTesting.UniqueName("topic");
        await _admin.CreateTopicAsync(topic, None);
        var subscription = PubSubTesting.UniqueName("push");
        await _admin.CreateSubscriptionAsync(
            new SubscriptionSpec { Name = subscription, Topic = topic, PushEndpoint = new Uri(endpoint.BaseUri, "pubsub"), MinimumBackoff = TimeSpan.FromSeconds(1), MaximumBackoff = TimeSpan.FromSeconds(2) },
            None);

        var id = await _publisher.PublishAsync(topic, new OutgoingMessage(Encoding.UTF8.GetBytes("pushed"), new Dictionary<string, string> { ["jobId"] = "j-1" }), None);

        await Eventually.TrueAsync(() => endpoint.Requests.Count > 0);
        var push = endpoint.Requests[0];
        Assert.Equal(("POST", "/pubsub"), (push.Method, push.PathAndQuery));
        var body = JsonNode.Parse(push.Body)!;
        Assert.Equal($"projects/{Project}/subscriptions/{subscription}", body["subscription"]!.GetValue<string>());
        Assert.Equal(id, body["message"]!["messageId"]!.GetValue<string>());
        Assert.Equal("pushed", Encoding.UTF8.GetString(Convert.FromBase64String(body["message"]!["data"]!.GetValue<string>())));
        Assert.Equal("j-1", body["message"]!["attributes"]!["jobId"]!.GetValue<string>());
    }

    [Fact]
    public async Task Puller_LongPoll_DeliversAMessagePublishedWhileItWaits()
    {
        var (topic, subscription) = await TopicWithSubscriptionAsync();
        var received = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        Pull(subscription, (message, _) =>
        {
            received.TrySetResult(Encoding.UTF8.GetString(message.Data));
            return Task.CompletedTask;
        }, PubSubTesting.QuickPulls with { ReturnImmediately = false });

        await _publisher.PublishAsync(topic, OutgoingMessage.FromText("while waiting"), None);

        Assert.Equal("while waiting", await received.Task.WaitAsync(Eventually.Patience));
    }

    [Fact]
    public async Task DisposeAsync_HandlerRunning_CancelsItAndNacksForImmediateRedelivery()
    {
        // A 10-minute ack deadline: only the nack can bring the message back within the test's patience.
        var (topic, subscription) = await TopicWithSubscriptionAsync(ackDeadlineSeconds: 600);
        var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var cancelled = false;
        var first = new PubSubPuller(emulator.Transport, emulator.Client(Project), subscription, async (_, token) =>
        {
            started.TrySetResult();
            try
            {
                await Task.Delay(Timeout.Infinite, token);
            }
            catch (OperationCanceledException)
            {
                Volatile.Write(ref cancelled, true);
                throw;
            }
        }, PubSubTesting.QuickPulls);
        first.Start();
        var id = await _publisher.PublishAsync(topic, OutgoingMessage.FromText("interrupted"), None);
        await started.Task.WaitAsync(Eventually.Patience);

        await first.DisposeAsync();

        Assert.True(Volatile.Read(ref cancelled));
        Assert.Equal((0, 1), (first.Acknowledged, first.Nacked));
        var again = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        Pull(subscription, (message, _) =>
        {
            again.TrySetResult(message.MessageId);
            return Task.CompletedTask;
        });
        Assert.Equal(id, await again.Task.WaitAsync(Eventually.Patience));
    }

    [Fact]
    public async Task Puller_MaxConcurrency_NeverMoreHandlersAtOnce()
    {
        var (topic, subscription) = await TopicWithSubscriptionAsync();
        var running = 0;
        var peak = 0;
        var handled = 0;
        var full = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        Pull(subscription, async (_, _) =>
        {
            var now = Interlocked.Increment(ref running);
            lock (full)
            {
                peak = Math.Max(peak, now);
            }

            if (now == 2)
            {
                full.TrySetResult();
            }

            await release.Task;
            Interlocked.Decrement(ref running);
            Interlocked.Increment(ref handled);
        }, PubSubTesting.QuickPulls with { MaxConcurrency = 2 });

        await _publisher.PublishBatchAsync(topic, Enumerable.Range(0, 6).Select(i => OutgoingMessage.FromText($"m{i}")).ToList(), None);
        await full.Task.WaitAsync(Eventually.Patience);
        release.SetResult();

        await Eventually.TrueAsync(() => Volatile.Read(ref handled) == 6);
        Assert.Equal(2, peak);
    }

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        foreach (var puller in _pullers)
        {
            await puller.DisposeAsync();
        }
    }

    private async Task<(string Topic, string Subscription)> TopicWithSubscriptionAsync(bool deadLetter = false, int ackDeadlineSeconds = 10)
    {
        var topic = PubSubTesting.UniqueName("topic");
        await _admin.CreateTopicAsync(topic, None);
        if (deadLetter)
        {
            await _admin.CreateTopicAsync("dlq-" + topic, None);
        }

        var subscription = "sub-" + topic;
        await _admin.CreateSubscriptionAsync(
            new SubscriptionSpec
            {
                Name = subscription,
                Topic = topic,
                AckDeadlineSeconds = ackDeadlineSeconds,
                DeadLetterTopic = deadLetter ? "dlq-" + topic : null,
                MaxDeliveryAttempts = 5,
            },
            None);
        return (topic, subscription);
    }

    private PubSubPuller Pull(string subscription, Func<PubSubMessage, CancellationToken, Task> handler, PubSubPullerOptions? options = null)
    {
        var puller = new PubSubPuller(emulator.Transport, emulator.Client(Project), subscription, handler, options ?? PubSubTesting.QuickPulls);
        _pullers.Add(puller);
        puller.Start();
        return puller;
    }
}
