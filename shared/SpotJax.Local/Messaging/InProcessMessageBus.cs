using System.Collections.Concurrent;
using System.Globalization;
using SpotJax.Core.Ports;

namespace SpotJax.Local.Messaging;

/// <summary>
/// The local stand-in for Pub/Sub. Each topic has at most one handler (one push subscription);
/// delivery is at least once, with exponential backoff between failed attempts and a dead-letter
/// list after the last one. Deliveries of different messages run concurrently and, with the chaos
/// switches of <see cref="InProcessBusOptions"/>, arrive duplicated and out of order, so that the
/// step handlers are exercised against the guarantees Pub/Sub really gives, not nicer ones.
/// </summary>
public sealed class InProcessMessageBus : IMessageBus, IAsyncDisposable
{
    private readonly InProcessBusOptions _options;
    private readonly TimeProvider _time;
    private readonly Action<string>? _log;
    private readonly ConcurrentDictionary<string, Func<PubSubMessage, CancellationToken, Task>> _handlers = new(StringComparer.Ordinal);
    private readonly SemaphoreSlim _slots;
    private readonly CancellationTokenSource _stopping = new();
    private readonly Random _random;
    private readonly Lock _gate = new();
    private readonly List<DeadLetter> _deadLetters = [];
    private TaskCompletionSource _idle = new();
    private int _inFlight;
    private long _lastMessageId;
    private long _published;
    private long _delivered;
    private long _redelivered;
    private long _failed;

    /// <summary>Creates a bus; nothing is delivered until a topic has a handler.</summary>
    /// <param name="options">Retry policy and chaos switches; defaults when null.</param>
    /// <param name="time">Clock for publish times, backoffs and reorder delays.</param>
    /// <param name="log">Receives one line per failed delivery, dead letter and dropped message.</param>
    public InProcessMessageBus(InProcessBusOptions? options = null, TimeProvider? time = null, Action<string>? log = null)
    {
        _options = options ?? new InProcessBusOptions();
        ArgumentOutOfRangeException.ThrowIfLessThan(_options.MinBackoff, TimeSpan.Zero, nameof(options));
        ArgumentOutOfRangeException.ThrowIfLessThan(_options.MaxBackoff, _options.MinBackoff, nameof(options));
        ArgumentOutOfRangeException.ThrowIfLessThan(_options.MaxDeliveryAttempts, 1, nameof(options));
        ArgumentOutOfRangeException.ThrowIfLessThan(_options.MaxConcurrency, 1, nameof(options));
        ArgumentOutOfRangeException.ThrowIfLessThan(_options.MaxReorderDelay, TimeSpan.Zero, nameof(options));
        if (_options.DuplicateProbability is < 0 or > 1 or double.NaN)
        {
            throw new ArgumentOutOfRangeException(nameof(options), _options.DuplicateProbability, "DuplicateProbability must be between 0 and 1");
        }

        _time = time ?? TimeProvider.System;
        _log = log;
        _slots = new SemaphoreSlim(_options.MaxConcurrency, _options.MaxConcurrency);
        _random = _options.Seed is int seed ? new Random(seed) : new Random();
        _idle.SetResult();
    }

    /// <summary>Messages accepted by <see cref="PublishAsync"/>, including those dropped for want of a handler.</summary>
    public long Published => Interlocked.Read(ref _published);

    /// <summary>Handler calls, counting retries and duplicates.</summary>
    public long Delivered => Interlocked.Read(ref _delivered);

    /// <summary>Handler calls that were retries after a failed delivery.</summary>
    public long Redelivered => Interlocked.Read(ref _redelivered);

    /// <summary>Handler calls that threw.</summary>
    public long Failed => Interlocked.Read(ref _failed);

    /// <summary>Messages given up on after <see cref="InProcessBusOptions.MaxDeliveryAttempts"/>, oldest first.</summary>
    public IReadOnlyList<DeadLetter> DeadLetters
    {
        get
        {
            lock (_gate)
            {
                return [.. _deadLetters];
            }
        }
    }

    /// <summary>
    /// Sets the handler of <paramref name="topic"/>. A handler that returns acknowledges the
    /// message; one that throws has it redelivered after a backoff.
    /// </summary>
    /// <exception cref="InvalidOperationException">The topic already has a handler.</exception>
    public void Subscribe(string topic, Func<PubSubMessage, CancellationToken, Task> handler)
    {
        ArgumentException.ThrowIfNullOrEmpty(topic);
        ArgumentNullException.ThrowIfNull(handler);
        if (!_handlers.TryAdd(topic, handler))
        {
            throw new InvalidOperationException($"topic '{topic}' already has a handler");
        }
    }

    /// <inheritdoc />
    /// <remarks>
    /// Returns once the message is queued, never after it was handled. A topic without a handler
    /// drops the message, as Pub/Sub does for a topic without a subscription.
    /// </remarks>
    public Task<string> PublishAsync(string topic, OutgoingMessage message, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(topic);
        ArgumentNullException.ThrowIfNull(message);
        cancellationToken.ThrowIfCancellationRequested();
        ObjectDisposedException.ThrowIf(_stopping.IsCancellationRequested, this);

        var id = NextMessageId().ToString(CultureInfo.InvariantCulture);
        Interlocked.Increment(ref _published);
        if (!_handlers.TryGetValue(topic, out var handler))
        {
            _log?.Invoke($"bus: message {id} on '{topic}' dropped: the topic has no handler");
            return Task.FromResult(id);
        }

        // Copies, so that a publisher reusing its buffer cannot change a queued message.
        var delivery = new PubSubMessage(
            id,
            [.. message.Data],
            new Dictionary<string, string>(message.Attributes, StringComparer.Ordinal),
            _time.GetUtcNow());
        // Random draws happen here, in publish order, so that a fixed Seed gives the same
        // delays and duplicates whatever the thread pool does.
        var hold = NextHold();
        Launch(() => DeliverAsync(topic, delivery, handler, hold));
        if (_options.DuplicateProbability > 0 && NextDouble() < _options.DuplicateProbability)
        {
            var duplicateHold = NextHold();
            Launch(() => DeliverDuplicateAsync(topic, delivery, handler, duplicateHold));
        }

        return Task.FromResult(id);
    }

    /// <summary>Completes when no message is queued, waiting for a retry, or being handled.</summary>
    public Task WhenIdleAsync(CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            return _inFlight == 0 ? Task.CompletedTask : _idle.Task.WaitAsync(cancellationToken);
        }
    }

    /// <summary>
    /// Stops delivery: waiting messages are abandoned, running handlers see their token cancelled
    /// and are waited for. Later publishes throw <see cref="ObjectDisposedException"/>.
    /// </summary>
    public async ValueTask DisposeAsync()
    {
        await _stopping.CancelAsync();
        await WhenIdleAsync(CancellationToken.None);
    }

    private long NextMessageId()
    {
        // Starting from the clock keeps ids unique across restarts of a local session; job ids
        // derive from message ids, so restarting from 1 would collide with earlier jobs.
        if (Interlocked.Read(ref _lastMessageId) == 0)
        {
            Interlocked.CompareExchange(ref _lastMessageId, _time.GetUtcNow().ToUnixTimeMilliseconds() * 1_000_000, 0);
        }

        return Interlocked.Increment(ref _lastMessageId);
    }

    private void Launch(Func<Task> delivery)
    {
        lock (_gate)
        {
            if (_inFlight++ == 0)
            {
                _idle = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            }
        }

        // Task.Run keeps a handler's synchronous part off the publisher's thread.
        _ = Task.Run(delivery);
    }

    private void Done()
    {
        TaskCompletionSource? idle = null;
        lock (_gate)
        {
            if (--_inFlight == 0)
            {
                idle = _idle;
            }
        }

        idle?.TrySetResult();
    }

    private async Task DeliverAsync(
        string topic, PubSubMessage message, Func<PubSubMessage, CancellationToken, Task> handler, TimeSpan hold)
    {
        var stopping = _stopping.Token;
        try
        {
            await HoldAsync(hold, stopping);
            for (var attempt = 1; ; attempt++)
            {
                if (attempt > 1)
                {
                    Interlocked.Increment(ref _redelivered);
                }

                var error = await InvokeAsync(topic, message, handler, stopping);
                if (error is null || stopping.IsCancellationRequested)
                {
                    return;
                }

                if (attempt >= _options.MaxDeliveryAttempts)
                {
                    lock (_gate)
                    {
                        _deadLetters.Add(new DeadLetter(topic, message, error.Message, attempt));
                    }

                    _log?.Invoke($"bus: message {message.MessageId} on '{topic}' dead-lettered after {attempt} attempts: {error.Message}");
                    return;
                }

                await Task.Delay(Backoff(attempt), _time, stopping);
            }
        }
        catch (OperationCanceledException) when (stopping.IsCancellationRequested)
        {
            // Disposed: like a subscriber shutting down, the message is abandoned.
        }
        finally
        {
            Done();
        }
    }

    private async Task DeliverDuplicateAsync(
        string topic, PubSubMessage message, Func<PubSubMessage, CancellationToken, Task> handler, TimeSpan hold)
    {
        var stopping = _stopping.Token;
        try
        {
            await HoldAsync(hold, stopping);
            await InvokeAsync(topic, message, handler, stopping);
        }
        catch (OperationCanceledException) when (stopping.IsCancellationRequested)
        {
            // Disposed before the duplicate was due.
        }
        finally
        {
            Done();
        }
    }

    /// <summary>Calls the handler in a concurrency slot; returns what it threw, or null.</summary>
    private async Task<Exception?> InvokeAsync(
        string topic, PubSubMessage message, Func<PubSubMessage, CancellationToken, Task> handler, CancellationToken stopping)
    {
        await _slots.WaitAsync(stopping);
        try
        {
            Interlocked.Increment(ref _delivered);
            await handler(message, stopping);
            return null;
        }
        catch (Exception ex)
        {
            Interlocked.Increment(ref _failed);
            _log?.Invoke($"bus: handler of '{topic}' failed on message {message.MessageId}: {ex.Message}");
            return ex;
        }
        finally
        {
            _slots.Release();
        }
    }

    private TimeSpan NextHold() =>
        _options.MaxReorderDelay > TimeSpan.Zero
            ? TimeSpan.FromTicks((long)(NextDouble() * _options.MaxReorderDelay.Ticks))
            : TimeSpan.Zero;

    private async Task HoldAsync(TimeSpan hold, CancellationToken stopping)
    {
        if (hold > TimeSpan.Zero)
        {
            await Task.Delay(hold, _time, stopping);
        }
    }

    private TimeSpan Backoff(int failedAttempts)
    {
        var ticks = _options.MinBackoff.Ticks * Math.Pow(2, failedAttempts - 1);
        return ticks >= _options.MaxBackoff.Ticks ? _options.MaxBackoff : TimeSpan.FromTicks((long)ticks);
    }

    private double NextDouble()
    {
        lock (_gate)
        {
            return _random.NextDouble();
        }
    }
}
