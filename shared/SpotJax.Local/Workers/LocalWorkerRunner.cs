using System.ComponentModel;
using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using SpotJax.Core;
using SpotJax.Core.Agent;
using SpotJax.Core.Ports;

namespace SpotJax.Local.Workers;

/// <summary>
/// Local mode's <see cref="IWorkerRunner"/>: every worker of a node is a folder under
/// <see cref="LocalWorkerOptions.NodesRoot"/> in which the node agent runs as a local process, just
/// as it runs on a TPU VM reached over SSH. The agent itself makes a repeated launch harmless.
/// </summary>
public sealed partial class LocalWorkerRunner : IWorkerRunner
{
    private const int StderrTailChars = 2048;

    // After launch exits its stderr closes at once, unless something it started kept the pipe.
    private static readonly TimeSpan StderrDrainTimeout = TimeSpan.FromSeconds(5);

    private readonly LocalWorkerOptions options;
    private readonly Lazy<byte[]> agentSource = new(NodeAgent.Source);
    private readonly Lazy<string> interpreter;

    /// <summary>Creates a runner that lays workers out as <paramref name="options"/> says.</summary>
    public LocalWorkerRunner(LocalWorkerOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        this.options = options;
        interpreter = new(() => ResolveInterpreter(options.Python));
    }

    /// <summary>
    /// The interpreter's real path, asked once: <c>python3</c> is often a version manager's shim that
    /// costs a shell and a lookup on every start, and a launch starts one per worker.
    /// </summary>
    private static string ResolveInterpreter(string python)
    {
        try
        {
            var start = new ProcessStartInfo(python) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
            start.ArgumentList.Add("-c");
            start.ArgumentList.Add("import sys; print(sys.executable)");
            using var process = Process.Start(start)!;
            var path = process.StandardOutput.ReadToEnd().Trim();
            process.WaitForExit();
            return process.ExitCode == 0 && File.Exists(path) ? path : python;
        }
        catch (Win32Exception)
        {
            return python;
        }
    }

    /// <summary>The home folder of one worker: <c>{NodesRoot}/{zone}/{nodeId}/worker-{index}</c>.</summary>
    public static string WorkerHome(string nodesRoot, string zone, string nodeId, int index) =>
        Path.Combine(nodesRoot, zone, nodeId, string.Create(CultureInfo.InvariantCulture, $"worker-{index}"));

    /// <inheritdoc />
    public async Task<IReadOnlyList<WorkerResult>> LaunchAsync(LaunchPlan plan, CancellationToken cancellationToken)
    {
        var (zone, nodeId) = Check(plan);
        return await Task.WhenAll(plan.Workers.Select(w => LaunchWorkerAsync(plan, zone, nodeId, w.Index, cancellationToken)));
    }

    /// <inheritdoc />
    public async Task<IReadOnlyList<WorkerResult>> StopAsync(LaunchPlan plan, CancellationToken cancellationToken)
    {
        var (zone, nodeId) = Check(plan);
        return await Task.WhenAll(plan.Workers.Select(async w =>
        {
            var started = options.TimeProvider.GetTimestamp();
            var home = WorkerHome(options.NodesRoot, zone, nodeId, plan.NodeWorker(w));
            var configName = string.Create(CultureInfo.InvariantCulture, $"attempt-{plan.Attempt}.json");
            if (!File.Exists(Path.Combine(home, configName)))
            {
                // Never launched on this worker: nothing to stop.
                return new WorkerResult(w.Index, true, 0, "", options.TimeProvider.GetElapsedTime(started));
            }

            return await RunAgentAsync("stop", home, configName, w.Index, started, cancellationToken);
        }));
    }

    private static (string Zone, string NodeId) Check(LaunchPlan plan)
    {
        ArgumentNullException.ThrowIfNull(plan);
        var match = NodeNamePattern().Match(plan.NodeName);
        if (!match.Success)
        {
            throw new ArgumentException($"node name '{plan.NodeName}' is not projects/P/locations/ZONE/nodes/NODE", nameof(plan));
        }

        if (plan.Workers.Count == 0 || plan.FirstWorker < 0 || plan.Workers.Any(w => w.Index < plan.FirstWorker) || plan.Workers.DistinctBy(w => w.Index).Count() != plan.Workers.Count)
        {
            throw new ArgumentException("the plan needs at least one worker and distinct worker indexes from its first worker's on", nameof(plan));
        }

        return (match.Groups["zone"].Value, match.Groups["node"].Value);
    }

    private async Task<WorkerResult> LaunchWorkerAsync(LaunchPlan plan, string zone, string nodeId, int index, CancellationToken cancellationToken)
    {
        var started = options.TimeProvider.GetTimestamp();
        var home = WorkerHome(options.NodesRoot, zone, nodeId, index - plan.FirstWorker);
        Directory.CreateDirectory(home);

        var agentPath = Path.Combine(home, NodeAgent.FileName);
        if (!File.Exists(agentPath) || !File.ReadAllBytes(agentPath).AsSpan().SequenceEqual(agentSource.Value))
        {
            await WriteAtomicAsync(agentPath, agentSource.Value, cancellationToken);
        }

        var configName = string.Create(CultureInfo.InvariantCulture, $"attempt-{plan.Attempt}.json");
        var config = BuildConfig(plan, zone, nodeId, index);
        await WriteAtomicAsync(Path.Combine(home, configName), JsonSerializer.SerializeToUtf8Bytes(config, SpotJaxJson.Options), cancellationToken);
        return await RunAgentAsync("launch", home, configName, index, started, cancellationToken);
    }

    /// <summary>Runs one command of the node agent in a worker's home and waits for it under the step timeout.</summary>
    private async Task<WorkerResult> RunAgentAsync(string command, string home, string configName, int index, long started, CancellationToken cancellationToken)
    {
        var start = new ProcessStartInfo(interpreter.Value)
        {
            WorkingDirectory = home,
            UseShellExecute = false,
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        start.ArgumentList.Add(NodeAgent.FileName);
        start.ArgumentList.Add(command);
        start.ArgumentList.Add(configName);
        foreach (var (name, value) in options.ExtraEnvironment ?? new Dictionary<string, string>())
        {
            start.Environment[name] = value;
        }

        using var process = new Process { StartInfo = start };
        try
        {
            process.Start();
        }
        catch (Win32Exception e)
        {
            return new WorkerResult(index, false, -1, $"cannot start {options.Python}: {e.Message}", options.TimeProvider.GetElapsedTime(started));
        }

        process.StandardInput.Close();
        // Only stderr is reported; stdout is drained so that launch never blocks on a full pipe.
        var stdout = new TailReader(process.StandardOutput, StderrTailChars);
        var stderr = new TailReader(process.StandardError, StderrTailChars);

        using var timeout = new CancellationTokenSource(options.StepTimeout, options.TimeProvider);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, timeout.Token);
        try
        {
            await process.WaitForExitAsync(linked.Token);
        }
        catch (OperationCanceledException)
        {
            // Setup scripts and pip run as children of launch: stop them too.
            process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync(CancellationToken.None);
            cancellationToken.ThrowIfCancellationRequested();
            var tail = await stderr.CompleteAsync(StderrDrainTimeout, options.TimeProvider);
            return new WorkerResult(
                index, false, -1, Tail($"{tail}{command} did not finish within {options.StepTimeout}"), options.TimeProvider.GetElapsedTime(started));
        }

        var stderrTail = await stderr.CompleteAsync(StderrDrainTimeout, options.TimeProvider);
        await stdout.CompleteAsync(StderrDrainTimeout, options.TimeProvider);
        return new WorkerResult(index, process.ExitCode == 0, process.ExitCode, stderrTail, options.TimeProvider.GetElapsedTime(started));
    }

    private AgentConfig BuildConfig(LaunchPlan plan, string zone, string nodeId, int index)
    {
        var workerId = (index - plan.FirstWorker).ToString(CultureInfo.InvariantCulture);
        // In local mode the control bucket is a folder: a gs:// value of that bucket (SPOT_CHECKPOINT_DIR,
        // SPOT_LOG_DIR, or one of the job's own) reaches the script as the folder's path.
        var env = plan.Environment.ToDictionary(e => e.Key, e => options.ResolveUri(e.Value), StringComparer.Ordinal);
        env["SPOT_WORKER_ID"] = workerId;
        return new AgentConfig
        {
            JobId = plan.JobId,
            Attempt = plan.Attempt,
            WorkerId = index,
            NumWorkers = plan.Workers.Count,
            CodeUri = options.ResolveUri(plan.CodeUri),
            Script = plan.Script,
            Args = plan.Args,
            Env = env,
            MarkersUri = options.ResolveUri(string.Create(CultureInfo.InvariantCulture, $"{plan.MarkersUri.TrimEnd('/')}/attempt-{plan.Attempt}/worker-{index}")),
            LogUri = options.ResolveUri(BucketLayout.LogObject(plan.LogUri, plan.Attempt, index)),
            PrepareLogUri = options.ResolveUri(BucketLayout.PrepareLogObject(plan.LogUri, plan.Attempt, index)),
            MetadataUrl = options.MetadataUrl(zone, nodeId),
            RequirementsCacheUri = options.RequirementsCacheUri is { } cache ? options.ResolveUri(cache) : null,
            Python = plan.Python,
            ExtraIndexUrls = plan.ExtraIndexUrls,
            PipArgs = plan.PipArgs,
            SecretEnv = plan.SecretEnvironment,
        };
    }

    private static async Task WriteAtomicAsync(string path, byte[] content, CancellationToken cancellationToken)
    {
        // A concurrent launch of the same worker may read the file at any moment: never show it half written.
        var temp = Path.Combine(Path.GetDirectoryName(path)!, $".tmp-{Path.GetFileName(path)}-{Guid.NewGuid():N}");
        await File.WriteAllBytesAsync(temp, content, cancellationToken);
        File.Move(temp, path, overwrite: true);
    }

    private static string Tail(string text) => text.Length <= StderrTailChars ? text : text[^StderrTailChars..];

    [GeneratedRegex("^projects/[^/]+/locations/(?<zone>[a-z0-9][a-z0-9-]*)/nodes/(?<node>[a-z0-9][a-z0-9-]*)$")]
    private static partial Regex NodeNamePattern();

    /// <summary>Keeps the last characters of a stream that may be long.</summary>
    private sealed class TailReader
    {
        private readonly StringBuilder text = new();
        private readonly int limit;
        private readonly Task reading;

        public TailReader(StreamReader reader, int limit)
        {
            this.limit = limit;
            reading = ReadAsync(reader);
        }

        public async Task<string> CompleteAsync(TimeSpan timeout, TimeProvider timeProvider)
        {
            try
            {
                await reading.WaitAsync(timeout, timeProvider);
            }
            catch (TimeoutException)
            {
                // A grandchild still holds the pipe; what arrived so far is the tail.
            }

            lock (text)
            {
                return text.ToString();
            }
        }

        private async Task ReadAsync(StreamReader reader)
        {
            var buffer = new char[1024];
            try
            {
                int read;
                while ((read = await reader.ReadAsync(buffer)) > 0)
                {
                    lock (text)
                    {
                        text.Append(buffer, 0, read);
                        if (text.Length > limit)
                        {
                            text.Remove(0, text.Length - limit);
                        }
                    }
                }
            }
            catch (ObjectDisposedException)
            {
                // The process was disposed while a grandchild still held the pipe open.
            }
        }
    }
}
