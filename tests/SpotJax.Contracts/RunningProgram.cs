using System.Diagnostics;
using System.Globalization;
using System.Text;

namespace SpotJax.Contracts;

/// <summary>
/// A program started by <see cref="SpotJaxProgram.Start"/> and still running: its output as it
/// comes, a wait for a line that says what the test needs to act on, and Ctrl+C as a terminal sends it.
/// </summary>
public sealed class RunningProgram : IDisposable
{
    private static readonly TimeSpan Patience = TimeSpan.FromMinutes(2);

    private readonly Process process;
    private readonly StringBuilder output = new();
    private readonly StringBuilder error = new();
    private readonly List<(Func<string, bool> Matches, TaskCompletionSource Seen)> waiters = [];
    private readonly TaskCompletionSource outputClosed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource errorClosed = new(TaskCreationOptions.RunContinuationsAsynchronously);

    private RunningProgram(Process process) => this.process = process;

    /// <summary>Standard output and standard error so far.</summary>
    public string Output
    {
        get
        {
            lock (waiters)
            {
                return output.ToString() + error;
            }
        }
    }

    internal static RunningProgram Start(ProcessStartInfo start)
    {
        var process = new Process { StartInfo = start };
        var running = new RunningProgram(process);
        process.OutputDataReceived += (_, e) => running.Received(e.Data, running.output, running.outputClosed);
        process.ErrorDataReceived += (_, e) => running.Received(e.Data, running.error, running.errorClosed);
        process.Start();
        process.StandardInput.Close();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return running;
    }

    /// <summary>Returns once a line of its output satisfies <paramref name="line"/>; fails if the program ends first.</summary>
    public async Task WaitForLineAsync(Func<string, bool> line, string what)
    {
        var seen = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        lock (waiters)
        {
            if (output.ToString().Split('\n').Concat(error.ToString().Split('\n')).Any(line))
            {
                return;
            }

            waiters.Add((line, seen));
        }

        var ended = Task.WhenAll(outputClosed.Task, errorClosed.Task);
        var first = await Task.WhenAny(seen.Task, ended, Task.Delay(Patience));
        if (first != seen.Task)
        {
            Assert.Fail($"{what} did not appear {(first == ended ? "before the program ended" : $"within {Patience}")}:\n{Output}");
        }
    }

    /// <summary>Sends SIGINT, what Ctrl+C in a terminal sends.</summary>
    public async Task InterruptAsync()
    {
        using var kill = Process.Start("kill", ["-INT", process.Id.ToString(CultureInfo.InvariantCulture)]);
        await kill.WaitForExitAsync();
        Assert.Equal(0, kill.ExitCode);
    }

    /// <summary>The exit code and all output, once the program has ended.</summary>
    public async Task<(int ExitCode, string Output, string Error)> ExitAsync()
    {
        using var timeout = new CancellationTokenSource(Patience);
        try
        {
            await process.WaitForExitAsync(timeout.Token);
            await Task.WhenAll(outputClosed.Task, errorClosed.Task).WaitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            Assert.Fail($"the program did not exit within {Patience}:\n{Output}");
        }

        lock (waiters)
        {
            return (process.ExitCode, output.ToString(), error.ToString());
        }
    }

    private void Received(string? line, StringBuilder into, TaskCompletionSource closed)
    {
        if (line is null)
        {
            closed.TrySetResult();
            return;
        }

        lock (waiters)
        {
            into.Append(line).Append('\n');
            foreach (var waiter in waiters.Where(w => w.Matches(line)).ToList())
            {
                waiter.Seen.TrySetResult();
                waiters.Remove(waiter);
            }
        }
    }

    public void Dispose()
    {
        if (!process.HasExited)
        {
            process.Kill(entireProcessTree: true);
            process.WaitForExit();
        }

        process.Dispose();
    }
}
