using System.Collections.Concurrent;
using System.Text;
using SpotJax.Core.Ports;

namespace SpotJax.Contracts;

/// <summary>
/// What every <see cref="IMessageBus"/> with its subscriptions must do. Each implementation (the
/// in-process bus, Pub/Sub) runs these through a subclass; waits are on signals with a bounded
/// timeout, since a remote bus has no notion of being idle.
/// </summary>
public abstract class MessageBusContractTests
{
    protected static readonly TimeSpan Patience = TimeSpan.FromSeconds(60);
    private static readonly CancellationToken None = CancellationToken.None;

    /// <summary>The bus under test; retries must be quick (milliseconds of backoff).</summary>
    protected abstract IMessageBus Bus { get; }

    /// <summary>Routes the messages of <paramref name="topic"/> to <paramref name="handler"/>, as a push subscription.</summary>
    protected abstract Task SubscribeAsync(string topic, Func<PubSubMessage, CancellationToken, Task> handler);

    protected static string NewTopic() => $"topic-{Guid.NewGuid():N}";

    [Fact]
    public async Task PublishAsync_Subscribed_DeliversDataAttributesAndId()
    {
        var topic = NewTopic();
        var received = new TaskCompletionSource<PubSubMessage>(TaskCreationOptions.RunContinuationsAsynchronously);
        await SubscribeAsync(topic, (message, _) =>
        {
            received.TrySetResult(message);
            return Task.CompletedTask;
        });
        var data = Encoding.UTF8.GetBytes("{\"name\":\"llama\"}");
        var attributes = new Dictionary<string, string> { ["kind"] = "submit", ["origin"] = "test" };

        var id = await Bus.PublishAsync(topic, new OutgoingMessage(data, attributes), None);
        var message = await received.Task.WaitAsync(Patience);

        Assert.False(string.IsNullOrEmpty(id));
        Assert.Equal(id, message.MessageId);
        Assert.Equal(data, message.Data);
        Assert.Equal(attributes.OrderBy(a => a.Key), message.Attributes.OrderBy(a => a.Key));
    }

    [Fact]
    public async Task PublishAsync_BinaryData_ArrivesByteForByte()
    {
        var topic = NewTopic();
        var received = new TaskCompletionSource<PubSubMessage>(TaskCreationOptions.RunContinuationsAsynchronously);
        await SubscribeAsync(topic, (message, _) =>
        {
            received.TrySetResult(message);
            return Task.CompletedTask;
        });
        // Every byte value, so an encoding that is not binary-safe (base64 alphabets, UTF-8) shows.
        var data = Enumerable.Range(0, 256).Select(i => (byte)i).Concat(new byte[] { 0xfb, 0xff, 0xfe }).ToArray();

        await Bus.PublishAsync(topic, new OutgoingMessage(data, new Dictionary<string, string>()), None);

        Assert.Equal(data, (await received.Task.WaitAsync(Patience)).Data);
    }

    [Fact]
    public async Task PublishAsync_SeveralMessages_AssignsDistinctIds()
    {
        var topic = NewTopic();
        await SubscribeAsync(topic, (_, _) => Task.CompletedTask);

        var ids = await Task.WhenAll(Enumerable.Range(0, 20).Select(i => Bus.PublishAsync(topic, OutgoingMessage.FromText($"m{i}"), None)));

        Assert.Equal(20, ids.Distinct(StringComparer.Ordinal).Count());
    }

    [Fact]
    public async Task PublishAsync_HandlerFailsTwice_DeliveredThreeTimes()
    {
        var topic = NewTopic();
        var attempts = 0;
        var handled = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        await SubscribeAsync(topic, (message, _) =>
        {
            if (Interlocked.Increment(ref attempts) <= 2)
            {
                throw new InvalidOperationException("transient");
            }

            handled.TrySetResult(Encoding.UTF8.GetString(message.Data));
            return Task.CompletedTask;
        });

        await Bus.PublishAsync(topic, OutgoingMessage.FromText("retry me"), None);

        Assert.Equal("retry me", await handled.Task.WaitAsync(Patience));
        Assert.Equal(3, Volatile.Read(ref attempts));
    }

    [Fact]
    public async Task PublishAsync_ManyMessages_EveryOneDelivered()
    {
        var topic = NewTopic();
        var seen = new ConcurrentDictionary<string, byte>();
        var all = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await SubscribeAsync(topic, (message, _) =>
        {
            if (seen.TryAdd(Encoding.UTF8.GetString(message.Data), 0) && seen.Count == 50)
            {
                all.TrySetResult();
            }

            return Task.CompletedTask;
        });

        for (var i = 0; i < 50; i++)
        {
            await Bus.PublishAsync(topic, OutgoingMessage.FromText($"m{i}"), None);
        }

        await all.Task.WaitAsync(Patience);
        Assert.Equal(50, seen.Count);
    }
}
