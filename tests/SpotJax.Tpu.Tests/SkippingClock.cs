using System.Threading.Channels;
using Microsoft.Extensions.Time.Testing;

namespace SpotJax.Tpu.Tests;

/// <summary>
/// A clock that skips the waits of the code under test: each timer created on it moves the shared
/// <see cref="FakeTimeProvider"/> forward by exactly its due time, once the code is waiting on it.
/// The due times are recorded, so a test reads the pauses the code took.
/// </summary>
internal sealed class SkippingClock(FakeTimeProvider fake) : TimeProvider
{
    private static readonly TimeSpan RealTimeBound = TimeSpan.FromSeconds(60);
    private readonly Channel<TimeSpan> _timers = Channel.CreateUnbounded<TimeSpan>();

    /// <summary>The due time of every timer skipped so far, in order.</summary>
    public List<TimeSpan> Pauses { get; } = [];

    public override DateTimeOffset GetUtcNow() => fake.GetUtcNow();

    public override long GetTimestamp() => fake.GetTimestamp();

    public override long TimestampFrequency => fake.TimestampFrequency;

    public override TimeZoneInfo LocalTimeZone => fake.LocalTimeZone;

    public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period)
    {
        var timer = fake.CreateTimer(callback, state, dueTime, period);
        _timers.Writer.TryWrite(dueTime);
        return timer;
    }

    /// <summary>Runs <paramref name="action"/>, skipping each of its waits, within a bound of real time.</summary>
    public async Task<T> RunAsync<T>(Func<Task<T>> action)
    {
        using var bound = new CancellationTokenSource(RealTimeBound);
        var task = action();
        while (true)
        {
            using var reading = CancellationTokenSource.CreateLinkedTokenSource(bound.Token);
            var next = _timers.Reader.ReadAsync(reading.Token).AsTask();
            if (await Task.WhenAny(task, next) == task)
            {
                // Leave no reader behind to swallow a timer of a later run.
                await reading.CancelAsync();
                await Task.WhenAny(next);
                return await task;
            }

            var due = await next;
            Pauses.Add(due);
            fake.Advance(due);
        }
    }
}
