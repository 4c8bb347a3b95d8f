namespace SpotJax.Cli;

/// <summary>Exit codes scripts can rely on.</summary>
public static class ExitCodes
{
    public const int Succeeded = 0;

    /// <summary>The job ended FAILED, CANCELLED or REJECTED.</summary>
    public const int JobDidNotSucceed = 1;

    /// <summary>Bad command line or invalid job file.</summary>
    public const int Usage = 2;

    /// <summary>The job did not finish within <c>--timeout</c> (it was cancelled).</summary>
    public const int TimedOut = 3;

    /// <summary>Interrupted (Ctrl+C); the job was cancelled.</summary>
    public const int Interrupted = 130;
}
