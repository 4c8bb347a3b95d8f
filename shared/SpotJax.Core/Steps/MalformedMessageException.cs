namespace SpotJax.Core.Steps;

/// <summary>Input that can never be processed: logged and acknowledged, never retried.</summary>
public sealed class MalformedMessageException : Exception
{
    public MalformedMessageException(string message)
        : base(message)
    {
    }
}
