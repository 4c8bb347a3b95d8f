using System.Diagnostics;
namespace SpotJax.Contracts;

/// <summary>
/// The spotjax program run as a user runs it, in its own process from the repository root, with a
/// home folder of the test's own (so ~/.spotjax/local is the test's) and no Google settings.
/// </summary>
public sealed class SpotJaxProgram : IDisposable
{
    private static readonly string[] ClearedVariables =
    [
        "SPOTJAX_HOME", "SPOTJAX_LOCAL_DIR", "SPOTJAX_TARGET", "SPOTJAX_BUCKET", "GOOGLE_CLOUD_PROJECT", "GOOGLE_APPLICATION_CREDENTIALS",
        "CLOUDSDK_CONFIG", "CLOUDSDK_CORE_PROJECT", "CLOUDSDK_ACTIVE_CONFIG_NAME", "PUBSUB_EMULATOR_HOST", "FIRESTORE_EMULATOR_HOST", "SPOTJAX_STORAGE_API",
        "SPOTJAX_TPU_API", "SPOTJAX_BUCKET_DIR",
    ];

    public SpotJaxProgram() => Home = Directory.CreateTempSubdirectory("spotjax-home-").FullName;

    /// <summary>The HOME of every run.</summary>
    public string Home { get; }

    /// <summary>The default local state folder under <see cref="Home"/>.</summary>
    public string LocalStateDir => Path.Combine(Home, ".spotjax", "local");

    /// <summary>Variables set for every run (after the Google ones are cleared).</summary>
    public Dictionary<string, string> Environment { get; } = [];

    public Task<(int ExitCode, string Output, string Error)> RunAsync(params string[] args) => RunAsync(TimeSpan.FromMinutes(2), args);

    /// <summary>As <see cref="RunAsync(string[])"/>, for a command that may take longer than two minutes (a whole local run).</summary>
    public async Task<(int ExitCode, string Output, string Error)> RunAsync(TimeSpan limit, params string[] args)
    {
        var start = StartInfo(args);
        using var process = Process.Start(start)!;
        process.StandardInput.Close();
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(limit);
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync();
            throw new TimeoutException($"spotjax {string.Join(' ', args)} did not exit within {limit}:\n{await stdout}{await stderr}");
        }

        return (process.ExitCode, await stdout, await stderr);
    }

    /// <summary>Starts the program and returns while it runs, for a test that acts on its output (interrupts it).</summary>
    public RunningProgram Start(params string[] args) => RunningProgram.Start(StartInfo(args, interruptible: true));

    private ProcessStartInfo StartInfo(string[] args, bool interruptible = false)
    {
        // A test run started in the background (`cmd &` in a shell without job control, as CI may start it)
        // inherits SIGINT ignored, and .NET keeps an ignored SIGINT ignored: Ctrl+C would never reach the
        // program. env(1) restores the default first, as a terminal's foreground process has it, and execs
        // dotnet in the same process, so the pid the test signals is the program's.
        var start = new ProcessStartInfo(interruptible ? "/usr/bin/env" : "dotnet")
        {
            WorkingDirectory = Repository.Root,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
        };
        if (interruptible)
        {
            start.ArgumentList.Add("--default-signal=INT");
            start.ArgumentList.Add("dotnet");
        }

        start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "spotjax.dll"));
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        foreach (var name in ClearedVariables)
        {
            start.Environment.Remove(name);
        }

        start.Environment["HOME"] = Home;
        start.Environment["NO_COLOR"] = "1";
        foreach (var (name, value) in Environment)
        {
            start.Environment[name] = value;
        }

        return start;
    }

    /// <summary>Runs until the result satisfies <paramref name="done"/> (a job moving on, a log filling up).</summary>
    public async Task<(int ExitCode, string Output, string Error)> EventuallyAsync(Func<(int ExitCode, string Output, string Error), bool> done, params string[] args)
    {
        (int, string, string) last = default;
        await Eventually.TrueAsync(async () => done(last = await RunAsync(args)), TimeSpan.FromSeconds(60));
        return last;
    }

    /// <summary>Processes whose command line names <paramref name="text"/> (a state folder: the plane, its workers).</summary>
    public static IReadOnlyList<int> ProcessesMentioning(string text)
    {
        var found = new List<int>();
        foreach (var dir in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(dir), out var pid) || pid == System.Environment.ProcessId)
            {
                continue;
            }

            try
            {
                if (File.ReadAllText(Path.Combine(dir, "cmdline")).Replace('\0', ' ').Contains(text, StringComparison.Ordinal) ||
                    File.ReadAllText(Path.Combine(dir, "environ")).Contains(text, StringComparison.Ordinal))
                {
                    found.Add(pid);
                }
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // Ended while we looked.
            }
        }

        return found;
    }

    public void Dispose()
    {
        // Whatever a failed test left running goes with the home folder.
        if (Directory.Exists(LocalStateDir))
        {
            RunAsync("local", "down").GetAwaiter().GetResult();
        }

        Directory.Delete(Home, recursive: true);
    }
}
