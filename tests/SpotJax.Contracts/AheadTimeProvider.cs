namespace SpotJax.Contracts;

/// <summary>
/// The system clock moved ahead by a fixed offset (its timers are the system's): given to a control
/// plane whose TPU simulator keeps the real time, every queued resource looks at least that old to
/// the plane, as if it had waited that long.
/// </summary>
public sealed class AheadTimeProvider(TimeSpan offset) : TimeProvider
{
    public override DateTimeOffset GetUtcNow() => base.GetUtcNow() + offset;
}
