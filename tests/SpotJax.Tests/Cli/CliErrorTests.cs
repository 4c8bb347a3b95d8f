using System.CommandLine;
using System.Net.Sockets;
using System.Text;
using Spectre.Console;
using SpotJax.Cli;
using SpotJax.Contracts;

namespace SpotJax.Tests.Cli;

/// <summary>What the spotjax program says when something goes wrong, run as a user runs it: in its own process.</summary>
public sealed class CliErrorTests : IDisposable
{
    private const string Job = "name: errors\ntpu: {type: v4-8, zone: us-central2-b}\ncode: .\nscript: train.py\nmaxRetries: 0\n";
    private readonly string dir = Directory.CreateTempSubdirectory("spotjax-cli-errors-").FullName;

    // Outside the code folder (`code: .`), which would otherwise pack the run's own state.
    private readonly string state = Directory.CreateTempSubdirectory("spotjax-cli-state-").FullName;

    private readonly SpotJaxProgram program = new();

    public void Dispose()
    {
        program.Dispose();
        Directory.Delete(dir, recursive: true);
        Directory.Delete(state, recursive: true);
    }

    [Fact]
    public async Task RunLocal_Utf16JobFileFromAWindowsEditor_RunsTheJob()
    {
        await File.WriteAllTextAsync(Path.Combine(dir, "train.py"), "print('read a UTF-16 job')\n");
        await File.WriteAllBytesAsync(Path.Combine(dir, "job.yaml"), [.. Encoding.Unicode.Preamble, .. Encoding.Unicode.GetBytes(Job)]);

        var (exit, stdout, stderr) = await program.RunAsync("run", "--local", Path.Combine(dir, "job.yaml"), "--provision-delay", "0s", "--state-dir", state);
        var output = stdout + stderr;

        Assert.True(exit == 0, output);
        Assert.Contains("read a UTF-16 job", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task RunLocal_JobFileWithInvalidUtf8_ExitsTwoNamingTheOffset()
    {
        var bytes = Encoding.UTF8.GetBytes(Job);
        bytes[8] = 0xFE;
        await File.WriteAllBytesAsync(Path.Combine(dir, "job.yaml"), bytes);

        var (exit, stdout, stderr) = await program.RunAsync("run", "--local", Path.Combine(dir, "job.yaml"));
        var output = stdout + stderr;

        Assert.True(exit == 2, output);
        Assert.Contains("document: is not valid UTF-8: invalid byte 0xFE at offset 8; save it as UTF-8", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task RunLocal_ScriptWritingToStderrAndExitingTwo_ErrorShowsItsLastLineAndTheLogFile()
    {
        await File.WriteAllTextAsync(Path.Combine(dir, "train.py"), "import sys\nprint('starting')\nsys.stderr.write('ValueError: learning rate must be positive\\n')\nsys.exit(2)\n");
        await File.WriteAllTextAsync(Path.Combine(dir, "job.yaml"), Job);

        var (exit, stdout, stderr) = await program.RunAsync("run", "--local", Path.Combine(dir, "job.yaml"), "--provision-delay", "0s", "--state-dir", state);
        var output = stdout + stderr;

        Assert.True(exit == 1, output);
        var error = output[output.IndexOf("last error:", StringComparison.Ordinal)..];
        Assert.Contains("script failed: worker 0 exited 2 (its log: ", error, StringComparison.Ordinal);
        Assert.Contains(Path.Combine(state, "bucket"), error, StringComparison.Ordinal);
        Assert.Contains("logs/attempt-1/worker-0.log); the end of its output:\nstarting\nValueError: learning rate must be positive", error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task RunLocal_CodeFolderWithASocket_LeavesItOutSaysSoAndRuns()
    {
        await File.WriteAllTextAsync(Path.Combine(dir, "train.py"), "print('ran without the socket')\n");
        await File.WriteAllTextAsync(Path.Combine(dir, "job.yaml"), Job);
        using var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        socket.Bind(new UnixDomainSocketEndPoint(Path.Combine(dir, "MSBuild11479")));

        var (exit, stdout, stderr) = await program.RunAsync("run", "--local", Path.Combine(dir, "job.yaml"), "--provision-delay", "0s", "--state-dir", state);
        var output = stdout + stderr;

        Assert.True(exit == 0, output);
        Assert.Contains($"packed {dir}: 2 files, ", output, StringComparison.Ordinal);
        Assert.Contains("left out 1 that are not regular files (sockets, FIFOs, devices): MSBuild11479", output, StringComparison.Ordinal);
        Assert.Contains("ran without the socket", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task RunLocal_CodeFolderOverTheLimitInTheVariable_ExitsTwoWithOneErrorLine()
    {
        await File.WriteAllTextAsync(Path.Combine(dir, "train.py"), "print('never runs')\n");
        Directory.CreateDirectory(Path.Combine(dir, "data"));
        await File.WriteAllTextAsync(Path.Combine(dir, "data", "big.bin"), new string('x', 5000));
        await File.WriteAllTextAsync(Path.Combine(dir, "job.yaml"), Job);

        program.Environment["SPOTJAX_MAX_CODE_SIZE"] = "4KiB";
        var (exit, stdout, stderr) = await program.RunAsync("run", "--local", Path.Combine(dir, "job.yaml"), "--state-dir", state);
        var output = stdout + stderr;

        Assert.True(exit == 2, output);
        Assert.Contains("error: the code folder", output, StringComparison.Ordinal);
        Assert.Contains("biggest folders: data/ 4.9 KiB", output, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", output, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task InvokeAsync_UnexpectedException_OneLineAndTheTraceOnlyWithVerbose(bool verbose)
    {
        var root = SpotJaxCommand.Build();
        var boom = new Command("boom");
        boom.SetAction(_ => Thrower());
        root.Subcommands.Add(boom);
        var written = new StringWriter();
        var error = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(written), Ansi = AnsiSupport.No, ColorSystem = ColorSystemSupport.NoColors });
        error.Profile.Width = 1000;

        var exit = await SpotJaxCommand.InvokeAsync(root.Parse(verbose ? ["boom", "--verbose"] : ["boom"]), error);

        Assert.Equal(ExitCodes.Unexpected, exit);
        var lines = written.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries);
        if (verbose)
        {
            Assert.Equal("error: unexpected: the disk moved", lines[0].TrimEnd());
            Assert.Contains(lines, line => line.Contains(nameof(Thrower), StringComparison.Ordinal));
        }
        else
        {
            Assert.Equal("error: unexpected: the disk moved (run again with --verbose for details)", Assert.Single(lines).TrimEnd());
        }
    }

    private static int Thrower() => throw new InvalidOperationException("the disk\nmoved");
}
