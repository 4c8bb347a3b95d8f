using System.Diagnostics;

namespace SpotJax.Tpu.Tests;

/// <summary>
/// A real process group in a worker folder that registers itself the way the node agent does: its own session
/// (setsid) and its group id in <c>a.pgid</c>.
/// </summary>
internal sealed class NodeProcess : IDisposable
{
    private readonly Process _process;

    private NodeProcess(Process process, string workerDirectory)
    {
        _process = process;
        WorkerDirectory = workerDirectory;
    }

    public string WorkerDirectory { get; }
    public string TermFile => Path.Combine(WorkerDirectory, "got-term");
    public bool HasExited => _process.HasExited;
    public int ExitCode => _process.ExitCode;

    /// <summary>Exits 0 on SIGTERM after writing <c>got-term</c>.</summary>
    public static Task<NodeProcess> StartGracefulAsync(string workerDirectory) =>
        StartAsync(workerDirectory, """trap "echo term > $DIR/got-term; exit 0" TERM""");

    /// <summary>Writes <c>got-term</c> on SIGTERM and keeps running, so only SIGKILL stops it.</summary>
    public static Task<NodeProcess> StartStubbornAsync(string workerDirectory) =>
        StartAsync(workerDirectory, """trap "echo term > $DIR/got-term" TERM""");

    public async Task WaitForExitAsync()
    {
        using var deadline = new CancellationTokenSource(Eventually.Timeout);
        await _process.WaitForExitAsync(deadline.Token);
    }

    public void Dispose()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
        }

        _process.Dispose();
    }

    private static async Task<NodeProcess> StartAsync(string workerDirectory, string trap)
    {
        Directory.CreateDirectory(workerDirectory);
        var start = new ProcessStartInfo("setsid")
        {
            WorkingDirectory = workerDirectory,
            ArgumentList = { "bash", "-c", $"{trap}; echo $$ > $DIR/a.pgid; while true; do sleep 0.1; done" },
            Environment = { ["DIR"] = workerDirectory },
        };
        var process = new NodeProcess(Process.Start(start)!, workerDirectory);
        var pgidFile = Path.Combine(workerDirectory, "a.pgid");
        try
        {
            await Eventually.TrueAsync(() => File.Exists(pgidFile) && File.ReadAllText(pgidFile).Trim().Length > 0, "the pgid file");
            return process;
        }
        catch
        {
            process.Dispose();
            throw;
        }
    }
}
