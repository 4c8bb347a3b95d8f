using System.CommandLine;
using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using Spectre.Console;
using SpotJax.Functions.Local;

namespace SpotJax.Cli;

/// <summary>
/// <c>spotjax local up|down</c>: a long-running local control plane over a state folder that
/// persists (SQLite job store, bucket folder, worker folders), so that <c>submit</c>, <c>status</c>,
/// <c>logs</c> and <c>cancel</c> work against it from other processes, as against Google Cloud.
/// </summary>
public static class LocalCommand
{
    /// <summary>Set in the background process that <c>up --detach</c> starts.</summary>
    private const string DetachedVariable = "SPOTJAX_DETACHED";

    private static readonly TimeSpan StartPatience = TimeSpan.FromSeconds(60);
    private static readonly TimeSpan StopPatience = TimeSpan.FromSeconds(30);

    public static Command Build()
    {
        var command = new Command("local", "Run the control plane on this machine: every function, the TPU simulator and local workers.");
        command.Subcommands.Add(BuildUp());
        command.Subcommands.Add(BuildDown());
        command.Subcommands.Add(LocalPreemptCommand.Build());
        return command;
    }

    internal static Option<DirectoryInfo?> StateDirOption() => new("--state-dir")
    {
        Description = "Where the plane keeps its job store, bucket and worker folders (default: $SPOTJAX_LOCAL_DIR, else ~/.spotjax/local).",
    };

    private static Command BuildUp()
    {
        var stateDir = StateDirOption();
        var detach = new Option<bool>("--detach", "-d") { Description = "Start in the background (log in STATE_DIR/plane.log) and return once it is ready." };
        var port = new Option<int>("--port") { Description = "The loopback port of the status page and API (0: any free port).", DefaultValueFactory = _ => 0 };
        var provisionDelay = new Option<string[]>("--provision-delay")
        {
            Description = "How long a simulated TPU takes to become ACTIVE. Repeat it: the n-th value applies to attempt n, the last one to later attempts.",
            AllowMultipleArgumentsPerToken = false,
            DefaultValueFactory = _ => ["1s"],
        };
        var command = new Command("up", """
            Start the local control plane. It serves the status page on 127.0.0.1 and takes
            submissions from `spotjax submit --local`; jobs, logs and checkpoints stay in the state
            folder across restarts. Exits 0 at once when a plane already runs in the folder.

            Examples:
              spotjax local up --detach
              spotjax local up --state-dir /tmp/spotjax --port 8765
              spotjax local up --detach --provision-delay 1s --provision-delay 10m
            """)
        {
            stateDir, detach, port, provisionDelay,
        };
        command.SetAction((parse, ct) => Consoles.RunAsync(
            async console =>
            {
                var root = parse.GetValue(stateDir)?.FullName ?? CliPaths.DefaultLocalStateDir;
                var delayTexts = parse.GetValue(provisionDelay) is { Length: > 0 } given ? given : ["1s"];
                var delays = new List<TimeSpan>();
                foreach (var text in delayTexts)
                {
                    delays.Add(Durations.TryParse(text, out var delay)
                        ? delay
                        : throw new CliException(ExitCodes.Usage, $"--provision-delay {text} is not a duration (examples: 0s, 1s, 30s)"));
                }

                if (LocalPlaneInfo.ReadLive(root) is { } running)
                {
                    console.MarkupLineInterpolated($"A local control plane already runs in {root} (pid {running.Pid}): status page {running.Url.AbsoluteUri}");
                    return ExitCodes.Succeeded;
                }

                Directory.CreateDirectory(root);
                return parse.GetValue(detach)
                    ? await DetachAsync(console, root, parse.GetValue(port), delayTexts, parse.GetValue(SpotJaxCommand.Verbose), ct)
                    : await RunAsync(console, root, parse.GetValue(port), delays, parse.GetValue(SpotJaxCommand.Verbose), ct);
            },
            ct));
        return command;
    }

    private static Command BuildDown()
    {
        var stateDir = StateDirOption();
        var command = new Command("down", """
            Stop the local control plane and every worker process it started. The state folder is
            kept: jobs that were running carry on with a new attempt at the next `local up`.

            Example:
              spotjax local down
            """)
        {
            stateDir,
        };
        command.SetAction((parse, ct) => Consoles.RunAsync(
            async console =>
            {
                var root = parse.GetValue(stateDir)?.FullName ?? CliPaths.DefaultLocalStateDir;
                if (LocalPlaneInfo.ReadLive(root) is not { } plane)
                {
                    // A plane killed outright leaves its workers behind, in sessions of their own.
                    LocalControlPlane.KillLeftoverWorkers(root);
                    File.Delete(LocalPlaneInfo.PathIn(root));
                    console.MarkupLineInterpolated($"No local control plane runs in {root}.");
                    return ExitCodes.Succeeded;
                }

                using var process = Process.GetProcessById(plane.Pid);
                try
                {
                    using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(10) };
                    using var request = new HttpRequestMessage(HttpMethod.Post, new Uri(plane.Url, "local/shutdown"));
                    request.Headers.Authorization = new("Bearer", plane.Token);
                    using var response = await http.SendAsync(request, ct);
                    response.EnsureSuccessStatusCode();
                    using var patience = CancellationTokenSource.CreateLinkedTokenSource(ct);
                    patience.CancelAfter(StopPatience);
                    await process.WaitForExitAsync(patience.Token);
                }
                catch (Exception e) when (e is HttpRequestException or OperationCanceledException && !ct.IsCancellationRequested)
                {
                    console.MarkupLineInterpolated($"[yellow]The plane (pid {plane.Pid}) did not stop when asked ({e.Message}): killing it and its workers.[/]");
                    process.Kill(entireProcessTree: true);
                    await process.WaitForExitAsync(ct);
                    LocalControlPlane.KillLeftoverWorkers(root);
                    plane.Remove(root);
                }

                console.MarkupLineInterpolated($"Local control plane stopped (pid {plane.Pid}) with its workers; state kept in {root}.");
                return ExitCodes.Succeeded;
            },
            ct));
        return command;
    }

    /// <summary>Runs the plane in this process until Ctrl+C, SIGTERM or <c>local down</c>.</summary>
    private static async Task<int> RunAsync(IAnsiConsole console, string root, int port, IReadOnlyList<TimeSpan> provisionDelays, bool verbose, CancellationToken ct)
    {
        FileStream guard;
        try
        {
            // Held for the plane's lifetime: a second `up` on the same folder finds it taken.
            guard = new FileStream(Path.Combine(root, "plane.lock"), FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
        }
        catch (IOException)
        {
            throw new CliException(ExitCodes.Unavailable, $"another local control plane is starting or running in {root}: use it (`spotjax status --local`), stop it with `spotjax local down`, or give another --state-dir");
        }

        using var hangUp = Environment.GetEnvironmentVariable(DetachedVariable) == "1"
            // Detached: closing the terminal that started it must not stop it.
            ? PosixSignalRegistration.Create(PosixSignal.SIGHUP, context => context.Cancel = true)
            : null;
        await using (guard)
        {
            using var stop = CancellationTokenSource.CreateLinkedTokenSource(ct);
            await using var plane = await LocalControlPlane.StartAsync(
                new LocalControlPlaneOptions
                {
                    Root = root,
                    ProvisionDelay = provisionDelays[0],
                    ProvisionDelayByAttempt = provisionDelays.Count > 1 ? provisionDelays : [],
                    Log = verbose ? message => console.MarkupLineInterpolated($"[grey]{DateTimeOffset.UtcNow:HH:mm:ss}  control plane: {message}[/]") : null,
                },
                ct);
            var token = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(32));
            await using var server = await LocalServer.StartAsync(plane, port, token, stop.Cancel, ct);
            var info = new LocalPlaneInfo(Environment.ProcessId, server.BaseUri, token, plane.ControlPlane.Project, plane.Objects.Bucket, DateTimeOffset.UtcNow);
            await info.WriteAsync(root, ct);
            console.MarkupLineInterpolated($"SpotJax local control plane up (pid {info.Pid}).");
            console.MarkupLineInterpolated($"  status page: {server.BaseUri.AbsoluteUri}");
            console.MarkupLineInterpolated($"  state:       {root}");
            console.MarkupLineInterpolated($"  submit with: spotjax submit train.py --local --tpu v4-8 --zone us-central2-b");
            console.MarkupLineInterpolated($"  stop with:   spotjax local down (or Ctrl+C)");
            try
            {
                await Task.Delay(Timeout.Infinite, stop.Token);
            }
            catch (OperationCanceledException)
            {
                // Asked to stop.
            }

            info.Remove(root);
            console.MarkupLine("Stopping: the functions, the TPU simulator and every worker process.");
        }

        return ExitCodes.Succeeded;
    }

    /// <summary>Starts <c>local up</c> as a background process, its output in <c>plane.log</c>, and waits until it serves.</summary>
    private static async Task<int> DetachAsync(IAnsiConsole console, string root, int port, IReadOnlyList<string> provisionDelays, bool verbose, CancellationToken ct)
    {
        var log = Path.Combine(root, "plane.log");
        // exec through sh, so the plane's output goes to the log file rather than to a pipe of ours,
        // and nothing of this process's standard streams stays open in it.
        var start = new ProcessStartInfo("/bin/sh") { UseShellExecute = false };
        start.ArgumentList.Add("-c");
        start.ArgumentList.Add("exec \"$@\" >>\"$SPOTJAX_PLANE_LOG\" 2>&1 </dev/null");
        start.ArgumentList.Add("sh");
        foreach (var part in SelfCommand())
        {
            start.ArgumentList.Add(part);
        }

        foreach (var arg in new[] { "local", "up", "--state-dir", root, "--port", port.ToString(System.Globalization.CultureInfo.InvariantCulture) })
        {
            start.ArgumentList.Add(arg);
        }

        foreach (var delay in provisionDelays)
        {
            start.ArgumentList.Add("--provision-delay");
            start.ArgumentList.Add(delay);
        }

        if (verbose)
        {
            start.ArgumentList.Add("--verbose");
        }

        start.Environment["SPOTJAX_PLANE_LOG"] = log;
        start.Environment[DetachedVariable] = "1";
        start.Environment["NO_COLOR"] = "1";
        using var child = Process.Start(start) ?? throw new CliException(ExitCodes.Unavailable, "cannot start the local control plane in the background; run `spotjax local up` without --detach to see why");
        var waited = Stopwatch.StartNew();
        while (true)
        {
            if (LocalPlaneInfo.ReadLive(root) is { } plane && plane.Pid == child.Id)
            {
                console.MarkupLineInterpolated($"SpotJax local control plane up in the background (pid {plane.Pid}).");
                console.MarkupLineInterpolated($"  status page: {plane.Url.AbsoluteUri}");
                console.MarkupLineInterpolated($"  state:       {root} (log: {log})");
                console.MarkupLineInterpolated($"  stop with:   spotjax local down");
                return ExitCodes.Succeeded;
            }

            if (child.HasExited || waited.Elapsed > StartPatience)
            {
                if (!child.HasExited)
                {
                    child.Kill(entireProcessTree: true);
                }

                var tail = File.Exists(log) ? string.Join('\n', File.ReadLines(log).TakeLast(20)) : "";
                throw new CliException(ExitCodes.Unavailable, $"the local control plane did not come up; {log} says:\n{tail}");
            }

            await Task.Delay(100, ct);
        }
    }

    /// <summary>How to run this program again: the apphost, or <c>dotnet spotjax.dll</c>.</summary>
    private static IEnumerable<string> SelfCommand()
    {
        var host = Environment.ProcessPath ?? throw new CliException(ExitCodes.Unavailable, "cannot tell which program this is, to start it in the background; run `spotjax local up` without --detach");
        yield return host;
        if (Path.GetFileNameWithoutExtension(host) == "dotnet")
        {
            yield return typeof(LocalCommand).Assembly.Location;
        }
    }
}
