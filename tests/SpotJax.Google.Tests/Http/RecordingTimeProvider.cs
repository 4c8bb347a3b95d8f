using System.Collections.Concurrent;

namespace SpotJax.Google.Tests.Http;

/// <summary>The system clock, noting the due time of every timer: how a test sees the transport's backoff waits.</summary>
internal sealed class RecordingTimeProvider : TimeProvider
{
    private readonly ConcurrentQueue<TimeSpan> _timers = new();

    public IReadOnlyList<TimeSpan> Timers => [.. _timers];

    public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period)
    {
        _timers.Enqueue(dueTime);
        return System.CreateTimer(callback, state, dueTime, period);
    }
}
