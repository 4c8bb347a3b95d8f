using System.Diagnostics;

namespace SpotJax.Google.Tests.Emulators;

/// <summary>
/// A server a test fixture starts (an emulator, the storage server): its last output lines kept to
/// explain a failure, and stopped by its own process id, with everything it started.
/// </summary>
internal sealed class ServerProcess : IAsyncDisposable
{
    private const int LinesKept = 200;
    private readonly Queue<string> lines = new();
    private readonly Process process;
    private readonly Action<string>? onLine;

    private ServerProcess(ProcessStartInfo start, Action<string>? onLine)
    {
        this.onLine = onLine;
        start.RedirectStandardOutput = true;
        start.RedirectStandardError = true;
        start.UseShellExecute = false;
        process = Process.Start(start) ?? throw new InvalidOperationException($"{start.FileName} did not start");
        process.OutputDataReceived += (_, e) => Record(e.Data);
        process.ErrorDataReceived += (_, e) => Record(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
    }

    public bool HasExited => process.HasExited;

    public int ExitCode => process.ExitCode;

    /// <param name="onLine">Sees every line the server prints, from the first one on.</param>
    public static ServerProcess Start(ProcessStartInfo start, Action<string>? onLine = null) => new(start, onLine);

    public Task WaitForExitAsync() => process.WaitForExitAsync();

    /// <summary>The server's latest output, for a failure message.</summary>
    public string Output()
    {
        lock (lines)
        {
            return string.Join('\n', lines);
        }
    }

    /// <summary>
    /// Polls <paramref name="uri"/> until it answers <c>Ok</c> (how Google's emulators say they accept
    /// calls), failing when the server exits or <paramref name="patience"/> runs out.
    /// </summary>
    public async Task WaitForOkAsync(HttpClient http, Uri uri, string name, TimeSpan patience)
    {
        var deadline = DateTime.UtcNow + patience;
        while (DateTime.UtcNow < deadline)
        {
            if (process.HasExited)
            {
                throw new InvalidOperationException($"the {name} exited with {process.ExitCode}:\n{Output()}");
            }

            try
            {
                if ((await http.GetStringAsync(uri)).Trim() == "Ok")
                {
                    return;
                }
            }
            catch (HttpRequestException)
            {
                // Not listening yet.
            }

            await Task.Delay(50);
        }

        throw new TimeoutException($"the {name} was not ready within {patience}:\n{Output()}");
    }

    public async ValueTask DisposeAsync()
    {
        if (!process.HasExited)
        {
            process.Kill(entireProcessTree: true);
        }

        await process.WaitForExitAsync();
        process.Dispose();
    }

    private void Record(string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (lines)
        {
            // Emulators log every request; only the latest lines help explain a failure.
            if (lines.Count == LinesKept)
            {
                lines.Dequeue();
            }

            lines.Enqueue(line);
        }

        onLine?.Invoke(line);
    }
}
