namespace SpotJax.Cli;

/// <summary>A command cannot go on: the message says why and what to do, the exit code is one of <see cref="ExitCodes"/>.</summary>
public sealed class CliException(int exitCode, string message) : Exception(message)
{
    public int ExitCode { get; } = exitCode;
}
