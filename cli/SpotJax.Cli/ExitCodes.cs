namespace SpotJax.Cli;

/// <summary>Exit codes scripts can rely on.</summary>
public static class ExitCodes
{
    public const int Succeeded = 0;

    /// <summary>The job ended FAILED, CANCELLED or REJECTED (<c>run</c>, <c>submit --follow</c>).</summary>
    public const int JobDidNotSucceed = 1;

    /// <summary>Bad command line or invalid job file.</summary>
    public const int Usage = 2;

    /// <summary>The job did not finish within <c>--timeout</c> (<c>run</c>: it was cancelled).</summary>
    public const int TimedOut = 3;

    /// <summary>No job with that id.</summary>
    public const int NotFound = 4;

    /// <summary>No deployment to talk to: none configured, the local plane not running, or Google Cloud refused or did not answer.</summary>
    public const int Unavailable = 5;

    /// <summary><c>spotjax setup</c> found a missing prerequisite.</summary>
    public const int PrerequisitesMissing = 6;

    /// <summary>An unexpected error: a defect to report, with the output of <c>--verbose</c>.</summary>
    public const int Unexpected = 70;

    /// <summary>
    /// Interrupted (Ctrl+C). <c>run</c> against a deployment only detaches: the job keeps running.
    /// <c>run --local</c> cancels the job, whose plane goes away with the command.
    /// </summary>
    public const int Interrupted = 130;
}
