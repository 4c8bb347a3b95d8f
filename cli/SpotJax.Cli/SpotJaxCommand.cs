using System.CommandLine;
using Spectre.Console;

namespace SpotJax.Cli;

/// <summary>The <c>spotjax</c> command line.</summary>
public static class SpotJaxCommand
{
    /// <summary>
    /// <c>--verbose</c>, on every command: more detail as it runs, and the stack trace of an unexpected error
    /// (otherwise one line).
    /// </summary>
    public static Option<bool> Verbose { get; } = new("--verbose", "-v")
    {
        Description = "Show more: the control plane's retries and rejected messages, and the details of an unexpected error.",
        Recursive = true,
    };

    public static RootCommand Build()
    {
        var root = new RootCommand("""
            SpotJax: JAX training on Spot TPUs that survives preemptions without anyone watching.

            Exit codes: 0 done, 1 the job did not succeed, 2 bad usage or job file, 3 timed out,
            4 no such job (or log), 5 no deployment reachable, 6 prerequisites missing, 70 unexpected error,
            130 interrupted.
            """);
        root.Options.Add(Verbose);
        root.Subcommands.Add(SubmitCommand.Build());
        root.Subcommands.Add(StatusCommand.Build());
        root.Subcommands.Add(LogsCommand.Build());
        root.Subcommands.Add(CancelCommand.Build());
        root.Subcommands.Add(SetupCommand.Build());
        root.Subcommands.Add(LocalCommand.Build());
        root.Subcommands.Add(RunCommand.Build());
        return root;
    }

    /// <summary>
    /// Runs the parsed command. Whatever escapes it becomes one <c>error:</c> line on <paramref name="error"/>:
    /// a user's mistake says what to do next, anything else is "unexpected", with its stack trace only under <c>--verbose</c>.
    /// </summary>
    public static async Task<int> InvokeAsync(ParseResult parse, IAnsiConsole error)
    {
        ArgumentNullException.ThrowIfNull(parse);
        try
        {
            // Ctrl+C and SIGTERM cancel the command's token; the wait lets `run` cancel its job and `local up`
            // stop its workers before the process ends (System.CommandLine's default is 2 seconds).
            return await parse.InvokeAsync(new InvocationConfiguration
            {
                ProcessTerminationTimeout = TimeSpan.FromSeconds(30),
                EnableDefaultExceptionHandler = false,
            });
        }
        catch (Exception e)
        {
            return Consoles.Report(e, parse.GetValue(Verbose), error);
        }
    }
}
