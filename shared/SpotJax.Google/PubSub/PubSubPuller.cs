using System.Threading.Channels;
using SpotJax.Core.Ports;
using SpotJax.Google.Http;

namespace SpotJax.Google.PubSub;

/// <summary>
/// Runs a handler over a pull subscription: pulls with <c>subscriptions.pull</c>, calls the handler
/// for each message concurrently (bounded), acknowledges what it handled and nacks
/// (<c>modifyAckDeadline</c> 0) what threw, so Pub/Sub redelivers it following the subscription's
/// retry policy. Acks and nacks are batched. This is the bus's "subscribe" for tests and local
/// tooling, and a way to run the functions without push subscriptions.
/// </summary>
public sealed class PubSubPuller : IAsyncDisposable
{
    // Client libraries send at most this many ack ids per call, well within the 512 KB request limit.
    private const int MaxAckIdsPerRequest = 1000;

    private readonly GoogleApiTransport _transport;
    private readonly Func<PubSubMessage, CancellationToken, Task> _handler;
    private readonly PubSubPullerOptions _options;
    private readonly TimeProvider _time;
    private readonly Action<string>? _log;
    private readonly Uri _pullUri;
    private readonly Uri _acknowledgeUri;
    private readonly Uri _modifyAckDeadlineUri;
    private readonly SemaphoreSlim _slots;
    private readonly CancellationTokenSource _stopPulling = new();
    private readonly CancellationTokenSource _abandonPull = new();
    private readonly CancellationTokenSource _stopHandling = new();
    private readonly Channel<(string AckId, bool Ack)> _settlements = Channel.CreateUnbounded<(string, bool)>(new UnboundedChannelOptions { SingleReader = true });
    private Task? _pulling;
    private Task? _settling;
    private long _acknowledged;
    private long _nacked;
    private int _state;

    /// <summary>A puller for one subscription; it pulls nothing until <see cref="Start"/>.</summary>
    /// <param name="transport">Authentication, deadlines and retries.</param>
    /// <param name="client">Project and API root.</param>
    /// <param name="subscription">The subscription id.</param>
    /// <param name="handler">Called once per delivery; returning acknowledges the message, throwing nacks it.</param>
    /// <param name="options">Concurrency and polling; defaults when null.</param>
    /// <param name="time">Clock for the pauses between pulls.</param>
    /// <param name="log">Receives one line per failed delivery, failed pull and failed acknowledgement.</param>
    public PubSubPuller(
        GoogleApiTransport transport,
        PubSubClientOptions client,
        string subscription,
        Func<PubSubMessage, CancellationToken, Task> handler,
        PubSubPullerOptions? options = null,
        TimeProvider? time = null,
        Action<string>? log = null)
    {
        ArgumentNullException.ThrowIfNull(transport);
        ArgumentNullException.ThrowIfNull(handler);
        _options = options ?? new PubSubPullerOptions();
        ArgumentOutOfRangeException.ThrowIfLessThan(_options.MaxConcurrency, 1, nameof(options));
        ArgumentOutOfRangeException.ThrowIfLessThan(_options.MinIdleDelay, TimeSpan.Zero, nameof(options));
        ArgumentOutOfRangeException.ThrowIfLessThan(_options.MaxIdleDelay, _options.MinIdleDelay, nameof(options));
        ArgumentOutOfRangeException.ThrowIfLessThan(_options.ErrorDelay, TimeSpan.Zero, nameof(options));
        var paths = new PubSubPaths(client);
        Subscription = paths.Subscription(subscription);
        _transport = transport;
        _handler = handler;
        _time = time ?? TimeProvider.System;
        _log = log;
        _pullUri = paths.Uri(Subscription, "pull");
        _acknowledgeUri = paths.Uri(Subscription, "acknowledge");
        _modifyAckDeadlineUri = paths.Uri(Subscription, "modifyAckDeadline");
        _slots = new SemaphoreSlim(_options.MaxConcurrency, _options.MaxConcurrency);
    }

    /// <summary>The full subscription name, <c>projects/P/subscriptions/S</c>.</summary>
    public string Subscription { get; }

    /// <summary>Messages acknowledged so far (their handler returned and the ack reached Pub/Sub).</summary>
    public long Acknowledged => Interlocked.Read(ref _acknowledged);

    /// <summary>Deliveries nacked so far (their handler threw, or was stopped by <see cref="DisposeAsync"/>).</summary>
    public long Nacked => Interlocked.Read(ref _nacked);

    /// <summary>Starts pulling in the background; call once.</summary>
    public void Start()
    {
        if (Interlocked.CompareExchange(ref _state, 1, 0) != 0)
        {
            throw new InvalidOperationException($"the puller of {Subscription} was already started or disposed");
        }

        _settling = Task.Run(SettleLoopAsync);
        _pulling = Task.Run(PullLoopAsync);
    }

    /// <summary>
    /// Stops pulling, cancels the running handlers' token and waits for them, nacks what they did
    /// not finish (so it is redelivered at once rather than after its ack deadline) and sends the
    /// last acknowledgements.
    /// </summary>
    public async ValueTask DisposeAsync()
    {
        var previous = Interlocked.Exchange(ref _state, 2);
        if (previous == 2)
        {
            return;
        }

        await _stopPulling.CancelAsync();
        _abandonPull.CancelAfter(_options.StopGrace);
        if (_pulling is not null)
        {
            await _pulling;
        }

        await _stopHandling.CancelAsync();
        for (var i = 0; i < _options.MaxConcurrency; i++)
        {
            await _slots.WaitAsync();
        }

        _settlements.Writer.Complete();
        if (_settling is not null)
        {
            await _settling;
        }

        _stopPulling.Dispose();
        _abandonPull.Dispose();
        _stopHandling.Dispose();
        _slots.Dispose();
    }

    private async Task PullLoopAsync()
    {
        var stop = _stopPulling.Token;
        var idle = _options.MinIdleDelay;
        while (!stop.IsCancellationRequested)
        {
            try
            {
                await _slots.WaitAsync(stop);
            }
            catch (OperationCanceledException)
            {
                return;
            }

            var free = 1;
            while (free < _options.MaxConcurrency && _slots.Wait(0))
            {
                free++;
            }

            IReadOnlyList<WireReceivedMessage> received;
            try
            {
                // A short pull in flight is let finish when stopping: cancelled on the wire, it could still be
                // served after this puller's last nacks and take messages nobody reads until their ack deadline.
                received = await PullAsync(free, _options.ReturnImmediately ? _abandonPull.Token : stop);
            }
            catch (OperationCanceledException) when (stop.IsCancellationRequested)
            {
                _slots.Release(free);
                return;
            }
            catch (GoogleApiException e) when (!_options.ReturnImmediately && e.Status == "DEADLINE_EXCEEDED")
            {
                // A long poll that nothing arrived for.
                received = [];
            }
            catch (Exception e)
            {
                // Whatever went wrong, a puller that stops pulling silently is worse: log and go on.
                _slots.Release(free);
                _log?.Invoke($"{Subscription}: pull failed, trying again in {_options.ErrorDelay}: {e.Message}");
                await PauseAsync(_options.ErrorDelay, stop);
                continue;
            }

            if (stop.IsCancellationRequested)
            {
                foreach (var message in received.Where(m => !string.IsNullOrEmpty(m.AckId)))
                {
                    Settle(message.AckId!, ack: false);
                }

                _slots.Release(free);
                return;
            }

            if (received.Count < free)
            {
                _slots.Release(free - received.Count);
            }

            foreach (var message in received)
            {
                _ = Task.Run(() => DeliverAsync(message));
            }

            if (received.Count > 0 || !_options.ReturnImmediately)
            {
                idle = _options.MinIdleDelay;
                continue;
            }

            await PauseAsync(idle, stop);
            idle = TimeSpan.FromTicks(Math.Min(Math.Max(idle.Ticks * 2, 1), _options.MaxIdleDelay.Ticks));
        }
    }

    private async Task<IReadOnlyList<WireReceivedMessage>> PullAsync(int maxMessages, CancellationToken cancellationToken)
    {
        var request = new PullRequest { MaxMessages = maxMessages, ReturnImmediately = _options.ReturnImmediately };
        // A pull is safe to send again (what a lost answer held is redelivered after its ack deadline),
        // but a long poll's own timeout must end the call, not start another.
        var answer = await _transport.SendJsonAsync<PullResponse>(HttpMethod.Post, _pullUri, request, idempotent: _options.ReturnImmediately, cancellationToken);
        var messages = answer.ReceivedMessages ?? [];
        if (messages.Count > maxMessages)
        {
            // Never seen, but handing out more than the free slots would break the concurrency bound.
            throw new GoogleApiException(System.Net.HttpStatusCode.OK, "UNKNOWN", $"POST {_pullUri}: {messages.Count} messages for maxMessages {maxMessages}");
        }

        return messages;
    }

    private async Task DeliverAsync(WireReceivedMessage received)
    {
        try
        {
            if (string.IsNullOrEmpty(received.AckId))
            {
                _log?.Invoke($"{Subscription}: a received message without an ack id was dropped");
                return;
            }

            PubSubMessage? message = null;
            try
            {
                message = ToMessage(received, _time);
                await _handler(message, _stopHandling.Token);
                Settle(received.AckId, ack: true);
            }
            catch (Exception e)
            {
                _log?.Invoke($"{Subscription}: message {message?.MessageId ?? received.Message?.MessageId} failed (delivery {received.DeliveryAttempt?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "?"}), nacked: {e.Message}");
                Settle(received.AckId, ack: false);
            }
        }
        finally
        {
            _slots.Release();
        }
    }

    /// <summary>A pulled message as the handlers see it.</summary>
    internal static PubSubMessage ToMessage(WireReceivedMessage received, TimeProvider time)
    {
        var message = received.Message ?? new WireMessage();
        return new PubSubMessage(
            message.MessageId ?? "",
            string.IsNullOrEmpty(message.Data) ? [] : Convert.FromBase64String(message.Data),
            message.Attributes ?? [],
            message.PublishTime ?? time.GetUtcNow())
        {
            DeliveryAttempt = received.DeliveryAttempt is > 0 ? received.DeliveryAttempt : null,
        };
    }

    private void Settle(string ackId, bool ack)
    {
        // The writer completes only after every handler has returned, so this cannot fail.
        _settlements.Writer.TryWrite((ackId, ack));
    }

    private async Task SettleLoopAsync()
    {
        var reader = _settlements.Reader;
        while (await reader.WaitToReadAsync())
        {
            var acks = new List<string>();
            var nacks = new List<string>();
            while (acks.Count + nacks.Count < MaxAckIdsPerRequest && reader.TryRead(out var settlement))
            {
                (settlement.Ack ? acks : nacks).Add(settlement.AckId);
            }

            if (acks.Count > 0 && await TrySendAsync(_acknowledgeUri, new AcknowledgeRequest(acks)))
            {
                Interlocked.Add(ref _acknowledged, acks.Count);
            }

            if (nacks.Count > 0 && await TrySendAsync(_modifyAckDeadlineUri, new ModifyAckDeadlineRequest(nacks, 0)))
            {
                Interlocked.Add(ref _nacked, nacks.Count);
            }
        }
    }

    private async Task<bool> TrySendAsync(Uri uri, object body)
    {
        try
        {
            // Not cancelled on dispose: the last settlements must still go out; the transport's deadline bounds them.
            await _transport.SendAsync(HttpMethod.Post, uri, body, idempotent: true, CancellationToken.None);
            return true;
        }
        catch (GoogleApiException e)
        {
            // Harmless beyond latency: an unsettled message comes back when its ack deadline passes.
            _log?.Invoke($"{Subscription}: {uri.AbsolutePath} failed: {e.Message}");
            return false;
        }
    }

    private async Task PauseAsync(TimeSpan delay, CancellationToken stop)
    {
        try
        {
            await Task.Delay(delay, _time, stop);
        }
        catch (OperationCanceledException)
        {
            // Stopping: the loop checks the token next.
        }
    }
}
