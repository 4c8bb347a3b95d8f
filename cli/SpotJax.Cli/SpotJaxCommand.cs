using System.CommandLine;

namespace SpotJax.Cli;

/// <summary>The <c>spotjax</c> command line.</summary>
public static class SpotJaxCommand
{
    public static RootCommand Build()
    {
        var root = new RootCommand("SpotJax: JAX training on Spot TPUs that survives preemptions without anyone watching.");
        root.Subcommands.Add(RunCommand.Build());
        return root;
    }
}
