using System.CommandLine;

namespace SpotJax.Cli;

/// <summary>The <c>spotjax</c> command line.</summary>
public static class SpotJaxCommand
{
    public static RootCommand Build()
    {
        var root = new RootCommand("""
            SpotJax: JAX training on Spot TPUs that survives preemptions without anyone watching.

            Exit codes: 0 done, 1 the job did not succeed, 2 bad usage or job file, 3 timed out,
            4 no such job (or log), 5 no deployment reachable, 6 prerequisites missing, 130 interrupted.
            """);
        root.Subcommands.Add(SubmitCommand.Build());
        root.Subcommands.Add(StatusCommand.Build());
        root.Subcommands.Add(LogsCommand.Build());
        root.Subcommands.Add(CancelCommand.Build());
        root.Subcommands.Add(SetupCommand.Build());
        root.Subcommands.Add(LocalCommand.Build());
        root.Subcommands.Add(RunCommand.Build());
        return root;
    }
}
