using System.CommandLine;
using SpotJax.Cli;
using SpotJax.Contracts;

namespace SpotJax.Tests.Deploy;

/// <summary>The example READMEs' spotjax commands, as bash splits them, through the real command line parser.</summary>
public sealed class ExampleReadmeTests
{
    [Theory]
    [InlineData("examples/quickstart/README.md")]
    [InlineData("examples/jax-mnist/README.md")]
    public async Task ExampleReadme_SpotjaxCommands_ParseWithTheRealCommandLineAndNameFilesThatExist(string document)
    {
        var (shell, calls) = await ReadmeCommands.RunAsync(ReadmeCommands.Part(document));

        Assert.True(shell.ExitCode == 0, $"{document}: {shell}");
        var commands = calls.Where(c => c.Tool == "spotjax").ToList();
        Assert.NotEmpty(commands);
        Assert.All(commands, call =>
        {
            var parse = SpotJaxCommand.Build().Parse(call.Arguments.ToArray());
            Assert.True(parse.Errors.Count == 0, $"{document}: spotjax {string.Join(' ', call.Arguments)}: {string.Join("; ", parse.Errors.Select(e => e.Message))}");
            if (parse.CommandResult.Command.Name == "submit")
            {
                var script = parse.GetValue<FileInfo?>("script")?.ToString() ?? "";
                Assert.False(script.EndsWith(".yaml", StringComparison.Ordinal) || script.EndsWith(".json", StringComparison.Ordinal), $"{document}: spotjax {string.Join(' ', call.Arguments)} passes a job file as the script; use --file");
            }

            Assert.All(
                call.Arguments.Where(a => a.EndsWith(".py", StringComparison.Ordinal) || a.EndsWith(".yaml", StringComparison.Ordinal)),
                path => Assert.True(File.Exists(Path.Combine(Repository.Root, path)), $"{document}: {path} does not exist (the commands run from the repository root)"));
        });
    }
}
