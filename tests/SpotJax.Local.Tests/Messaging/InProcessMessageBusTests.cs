using System.Collections.Concurrent;
using System.Globalization;
using Microsoft.Extensions.Time.Testing;
using SpotJax.Contracts;
using SpotJax.Core.Ports;
using SpotJax.Local.Messaging;

namespace SpotJax.Local.Tests.Messaging;

public sealed class InProcessMessageBusTests : MessageBusContractTests, IAsyncDisposable
{
    private static readonly CancellationToken None = CancellationToken.None;

    private static readonly InProcessBusOptions Quick = new()
    {
        MinBackoff = TimeSpan.FromMilliseconds(1),
        MaxBackoff = TimeSpan.FromMilliseconds(5),
    };

    private readonly List<InProcessMessageBus> _buses = [];
    private readonly InProcessMessageBus _bus;

    public InProcessMessageBusTests() => _bus = NewBus(Quick);

    protected override IMessageBus Bus => _bus;

    protected override Task SubscribeAsync(string topic, Func<PubSubMessage, CancellationToken, Task> handler)
    {
        _bus.Subscribe(topic, handler);
        return Task.CompletedTask;
    }

    [Fact]
    public async Task PublishAsync_DuplicateProbabilityOne_EveryMessageDeliveredTwice()
    {
        var bus = NewBus(Quick with { DuplicateProbability = 1, Seed = 1 });
        var deliveries = new ConcurrentDictionary<string, int>();
        bus.Subscribe("t", (message, _) =>
        {
            deliveries.AddOrUpdate(message.MessageId, 1, (_, n) => n + 1);
            return Task.CompletedTask;
        });

        var ids = new List<string>();
        for (var i = 0; i < 10; i++)
        {
            ids.Add(await bus.PublishAsync("t", OutgoingMessage.FromText($"m{i}"), None));
        }

        await bus.WhenIdleAsync(None).WaitAsync(Patience);

        Assert.Equal(ids.Order(StringComparer.Ordinal), deliveries.Keys.Order(StringComparer.Ordinal));
        Assert.All(deliveries.Values, n => Assert.Equal(2, n));
        Assert.Equal(20, bus.Delivered);
    }

    [Fact]
    public async Task PublishAsync_MaxReorderDelay_AllArriveOutOfPublishOrder()
    {
        // On a fake clock the holds end in the order of their seeded lengths, not in the order in which a
        // busy machine happened to start them: every hold is waiting before the clock moves.
        var time = new TimerCountingTime();
        var bus = NewBus(Quick with { MaxReorderDelay = TimeSpan.FromMilliseconds(50), Seed = 42 }, time);
        var arrived = new ConcurrentQueue<string>();
        bus.Subscribe("t", (message, _) =>
        {
            arrived.Enqueue(message.MessageId);
            return Task.CompletedTask;
        });

        var published = new List<string>();
        for (var i = 0; i < 30; i++)
        {
            published.Add(await bus.PublishAsync("t", OutgoingMessage.FromText($"m{i}"), None));
        }

        await Eventually.TrueAsync(() => time.Timers == 30, "every message held");
        time.Advance(TimeSpan.FromMilliseconds(50));
        await bus.WhenIdleAsync(None).WaitAsync(Patience);

        Assert.Equal(published.Order(StringComparer.Ordinal), arrived.Order(StringComparer.Ordinal));
        Assert.NotEqual(published, arrived);
    }

    [Fact]
    public async Task PublishAsync_HandlerAlwaysFails_DeadLetteredAfterMaxDeliveryAttempts()
    {
        var bus = NewBus(Quick with { MaxDeliveryAttempts = 4 });
        var calls = 0;
        bus.Subscribe("t", (_, _) =>
        {
            Interlocked.Increment(ref calls);
            throw new InvalidOperationException("job document is corrupt");
        });

        var id = await bus.PublishAsync("t", OutgoingMessage.FromText("poison"), None);
        await bus.WhenIdleAsync(None).WaitAsync(Patience);

        var dead = Assert.Single(bus.DeadLetters);
        Assert.Equal("t", dead.Topic);
        Assert.Equal(id, dead.Message.MessageId);
        Assert.Equal("job document is corrupt", dead.LastError);
        Assert.Equal(4, dead.DeliveryAttempts);
        Assert.Equal(4, calls);
        Assert.Equal((4, 3, 4), (bus.Delivered, bus.Redelivered, bus.Failed));
    }

    [Fact]
    public async Task WhenIdleAsync_HandlerRunning_CompletesOnlyAfterItReturns()
    {
        var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var finished = false;
        _bus.Subscribe("t", async (_, _) =>
        {
            started.SetResult();
            await release.Task;
            Volatile.Write(ref finished, true);
        });

        await _bus.PublishAsync("t", OutgoingMessage.FromText("slow"), None);
        await started.Task.WaitAsync(Patience);
        var idle = _bus.WhenIdleAsync(None);

        Assert.False(idle.IsCompleted);
        release.SetResult();
        await idle.WaitAsync(Patience);
        Assert.True(Volatile.Read(ref finished));
    }

    [Fact]
    public async Task WhenIdleAsync_WaitingForBackoff_CompletesAfterTheRetrySucceeds()
    {
        var bus = NewBus(Quick with { MinBackoff = TimeSpan.FromMilliseconds(30), MaxBackoff = TimeSpan.FromMilliseconds(30) });
        var calls = 0;
        bus.Subscribe("t", (_, _) => Interlocked.Increment(ref calls) == 1 ? throw new TimeoutException("busy") : Task.CompletedTask);

        await bus.PublishAsync("t", OutgoingMessage.FromText("x"), None);
        await bus.WhenIdleAsync(None).WaitAsync(Patience);

        Assert.Equal(2, calls);
        Assert.Equal((1, 2, 1, 1), (bus.Published, bus.Delivered, bus.Redelivered, bus.Failed));
        Assert.Empty(bus.DeadLetters);
    }

    [Fact]
    public async Task PublishAsync_MaxConcurrency_NeverMoreHandlersAtOnce()
    {
        var bus = NewBus(Quick with { MaxConcurrency = 2 });
        var running = 0;
        var peak = 0;
        var full = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        bus.Subscribe("t", async (_, _) =>
        {
            var now = Interlocked.Increment(ref running);
            InterlockedMax(ref peak, now);
            if (now == 2)
            {
                full.TrySetResult();
            }

            await release.Task;
            Interlocked.Decrement(ref running);
        });

        for (var i = 0; i < 6; i++)
        {
            await bus.PublishAsync("t", OutgoingMessage.FromText($"m{i}"), None);
        }

        await full.Task.WaitAsync(Patience);
        release.SetResult();
        await bus.WhenIdleAsync(None).WaitAsync(Patience);

        Assert.Equal(2, peak);
        Assert.Equal(6, bus.Delivered);
    }

    [Fact]
    public async Task PublishAsync_WithFakeClock_StampsPublishTimeAndIncreasingIds()
    {
        var time = new FakeTimeProvider(new DateTimeOffset(2025, 6, 1, 12, 0, 0, TimeSpan.Zero));
        var bus = NewBus(Quick, time);
        var received = new ConcurrentQueue<PubSubMessage>();
        bus.Subscribe("t", (message, _) =>
        {
            received.Enqueue(message);
            return Task.CompletedTask;
        });

        var first = await bus.PublishAsync("t", OutgoingMessage.FromText("a"), None);
        time.Advance(TimeSpan.FromSeconds(5));
        var second = await bus.PublishAsync("t", OutgoingMessage.FromText("b"), None);
        await bus.WhenIdleAsync(None).WaitAsync(Patience);

        Assert.True(long.Parse(second, CultureInfo.InvariantCulture) > long.Parse(first, CultureInfo.InvariantCulture));
        Assert.Equal(time.Start, received.Single(m => m.MessageId == first).PublishTime);
        Assert.Equal(time.Start.AddSeconds(5), received.Single(m => m.MessageId == second).PublishTime);
    }

    [Fact]
    public async Task PublishAsync_NoSubscriber_DropsTheMessage()
    {
        var id = await _bus.PublishAsync("nobody-listens", OutgoingMessage.FromText("lost"), None);
        _bus.Subscribe("nobody-listens", (_, _) => Task.CompletedTask);
        await _bus.WhenIdleAsync(None).WaitAsync(Patience);

        Assert.False(string.IsNullOrEmpty(id));
        Assert.Equal((1, 0), (_bus.Published, _bus.Delivered));
    }

    [Fact]
    public void Subscribe_SecondHandlerForATopic_Throws()
    {
        _bus.Subscribe("t", (_, _) => Task.CompletedTask);

        Assert.Throws<InvalidOperationException>(() => _bus.Subscribe("t", (_, _) => Task.CompletedTask));
    }

    [Fact]
    public async Task DisposeAsync_HandlerRunning_CancelsItsTokenAndWaitsForIt()
    {
        var bus = new InProcessMessageBus(Quick);
        var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var cancelled = false;
        bus.Subscribe("t", async (_, token) =>
        {
            started.SetResult();
            try
            {
                await Task.Delay(Timeout.Infinite, token);
            }
            catch (OperationCanceledException)
            {
                Volatile.Write(ref cancelled, true);
                throw;
            }
        });
        await bus.PublishAsync("t", OutgoingMessage.FromText("long"), None);
        await started.Task.WaitAsync(Patience);

        await bus.DisposeAsync().AsTask().WaitAsync(Patience);

        Assert.True(Volatile.Read(ref cancelled));
        Assert.Empty(bus.DeadLetters);
        await Assert.ThrowsAsync<ObjectDisposedException>(() => bus.PublishAsync("t", OutgoingMessage.FromText("late"), None));
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var bus in _buses)
        {
            await bus.DisposeAsync();
        }
    }

    private InProcessMessageBus NewBus(InProcessBusOptions options, TimeProvider? time = null)
    {
        var bus = new InProcessMessageBus(options, time);
        _buses.Add(bus);
        return bus;
    }

    /// <summary>A fake clock that counts the timers set on it (each message's hold sets one).</summary>
    private sealed class TimerCountingTime : FakeTimeProvider
    {
        private int timers;

        public int Timers => Volatile.Read(ref timers);

        public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period)
        {
            Interlocked.Increment(ref timers);
            return base.CreateTimer(callback, state, dueTime, period);
        }
    }

    private static void InterlockedMax(ref int target, int value)
    {
        var current = Volatile.Read(ref target);
        while (value > current)
        {
            var seen = Interlocked.CompareExchange(ref target, value, current);
            if (seen == current)
            {
                return;
            }

            current = seen;
        }
    }
}
