namespace SpotJax.Core.Ports;

/// <summary>
/// A step that must be retried later: the host answers non-2xx so that the message is redelivered.
/// Anything else a handler survives is acknowledged.
/// </summary>
public sealed class TransientException : Exception
{
    public TransientException(string message)
        : base(message)
    {
    }

    public TransientException(string message, Exception inner)
        : base(message, inner)
    {
    }
}
