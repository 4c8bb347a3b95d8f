using System.Diagnostics;
using SpotJax.Core.Agent;

namespace SpotJax.Ssh.Tests;

/// <summary>The single quoting function, checked against real shells rather than expected strings alone.</summary>
public sealed class ShellQuoteTests : IDisposable
{
    private readonly string folder = Directory.CreateTempSubdirectory("spotjax-quote-").FullName;

    public static TheoryData<string> Hostile => new()
    {
        "plain",
        "",
        "it's",
        "'",
        "''",
        "'\\''",
        "$(touch PWNED)",
        "`touch PWNED`",
        "; touch PWNED",
        "a && touch PWNED || touch PWNED",
        "line\ntouch PWNED",
        "\"$(touch PWNED)\"",
        "${IFS}touch${IFS}PWNED",
        "$HOME * ? [a] ~ # ! %",
        "-n",
        "\\",
        "tab\tand\rreturn",
        "ünïcödé ✓",
    };

    [Theory]
    [MemberData(nameof(Hostile))]
    public async Task Word_HostileValue_ShellsSeeItVerbatimAndRunNothing(string value)
    {
        foreach (var shell in new[] { "sh", "bash" })
        {
            var output = await RunAsync(shell, $"printf '%s' {ShellQuote.Word(value)}");

            Assert.Equal(value, output);
        }

        Assert.Empty(Directory.GetFiles(folder, "PWNED"));
    }

    [Fact]
    public async Task Command_SeveralHostileWords_ArriveAsSeparateArguments()
    {
        string[] words = ["printf", "<%s>", "a b", "it's", "$(touch PWNED)", "", "x\ny"];

        var output = await RunAsync("sh", ShellQuote.Command(words));

        Assert.Equal("<a b><it's><$(touch PWNED)><><x\ny>", output);
        Assert.Empty(Directory.GetFiles(folder, "PWNED"));
    }

    [Fact]
    public void Word_SingleQuote_ClosesEscapesAndReopens()
    {
        Assert.Equal(@"'it'\''s'", ShellQuote.Word("it's"));
        Assert.Equal("''", ShellQuote.Word(""));
    }

    [Fact]
    public void Word_Nul_IsRejected()
    {
        var error = Assert.Throws<ArgumentException>(() => ShellQuote.Word("a\0b"));

        Assert.Contains("NUL", error.Message, StringComparison.Ordinal);
    }

    public void Dispose() => Directory.Delete(folder, recursive: true);

    private async Task<string> RunAsync(string shell, string command)
    {
        var start = new ProcessStartInfo(shell) { WorkingDirectory = folder, RedirectStandardOutput = true, RedirectStandardError = true };
        start.ArgumentList.Add("-c");
        start.ArgumentList.Add(command);
        using var process = Process.Start(start)!;
        var output = await process.StandardOutput.ReadToEndAsync();
        var error = await process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        Assert.True(process.ExitCode == 0, error);
        return output;
    }
}
