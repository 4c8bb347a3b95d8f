namespace SpotJax.Ssh;

/// <summary>One worker's launch failed at a named step; the runner turns it into that worker's result.</summary>
internal sealed class WorkerLaunchException(string message, Exception? inner = null) : Exception(message, inner);
