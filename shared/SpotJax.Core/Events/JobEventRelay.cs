using SpotJax.Core.Ports;

namespace SpotJax.Core.Events;

/// <summary>
/// Publishes the outbox's <see cref="JobEvent"/>s to <see cref="Topics.JobEvents"/> and removes each
/// one once published. Right after a transition it publishes that job's events; the sweep calls it
/// for all of them, which republishes what a crash between the write and the publish left behind.
/// </summary>
/// <remarks>
/// A failure here never fails the caller: a lifecycle step must not be redelivered, nor a sweep
/// pass reported failed, because the events topic is down. The event stays in the outbox and the
/// next pass tries again; every call is bounded by <see cref="Timeout"/>, so a hanging publish
/// slows a step by at most that.
/// </remarks>
public sealed class JobEventRelay(IJobEventStore store, IMessageBus bus, Topics topics, TimeProvider time, Action<string>? warn = null)
{
    /// <summary>Events published per call at most (the sweep's batch).</summary>
    public const int Batch = 100;

    /// <summary>How long one call may take before the rest is left for the next one.</summary>
    public TimeSpan Timeout { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>Publishes and removes the pending events, only <paramref name="jobId"/>'s when given; returns how many were published.</summary>
    public async Task<int> PublishPendingAsync(string? jobId, CancellationToken cancellationToken)
    {
        using var bounded = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        using var timer = new CancellationTokenSource(Timeout, time);
        using var link = timer.Token.Register(bounded.Cancel);
        var published = 0;
        try
        {
            foreach (var pending in await store.ListOutboxAsync(jobId, Batch, bounded.Token))
            {
                var attributes = new Dictionary<string, string>(StringComparer.Ordinal)
                {
                    ["jobId"] = pending.JobId,
                    ["eventId"] = pending.Id,
                    ["type"] = pending.Type,
                };
                await bus.PublishAsync(topics.JobEvents, new OutgoingMessage(pending.ToBytes(), attributes), bounded.Token);
                await store.RemoveFromOutboxAsync(pending.Id, bounded.Token);
                published++;
            }
        }
        catch (Exception e) when (!cancellationToken.IsCancellationRequested)
        {
            warn?.Invoke($"job events{(jobId is null ? "" : $" of {jobId}")}: publishing stopped after {published}, the rest stays in the outbox: {e.Message}");
        }

        return published;
    }
}
