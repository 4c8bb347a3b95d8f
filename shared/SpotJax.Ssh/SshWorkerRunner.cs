using System.Globalization;
using System.Net.Sockets;
using System.Text.Json;
using System.Text.RegularExpressions;
using Renci.SshNet;
using Renci.SshNet.Common;
using SpotJax.Core;
using SpotJax.Core.Agent;
using SpotJax.Core.Ports;

namespace SpotJax.Ssh;

/// <summary>
/// The <see cref="IWorkerRunner"/> of TPU VMs: reaches every worker of a node over SSH (SSH.NET), at
/// most <see cref="SshRunnerOptions.MaxConcurrency"/> at a time, over one connection and one command
/// per worker: a small Python installer that reads the node agent, the attempt's configuration and a
/// local code bundle from stdin, writes them into the worker's root and runs the agent's
/// <c>launch</c>, which starts the agent detached and returns in a moment (the agent then fetches the
/// code, runs the setup script and installs the requirements on its own). Job values travel in the
/// JSON configuration and stdin; the command is constant, quoted by <see cref="ShellQuote"/>.
/// Everything is idempotent: an unchanged file is not rewritten and the agent starts an attempt once.
/// </summary>
public sealed partial class SshWorkerRunner : IWorkerRunner
{
    private const int StderrTailChars = 2048;

    // Keeps a session alive through NAT and firewalls while a slow worker answers.
    private static readonly TimeSpan KeepAlive = TimeSpan.FromSeconds(30);

    /// <summary>
    /// The worker's side of a launch, run as <c>python3 -c</c> (Python 3.8+, like the agent): writes each
    /// file from stdin into the root unless it already holds those bytes (a repeated launch rewrites
    /// nothing; a file is never seen half written), then becomes the agent's <c>launch</c> in the root.
    /// </summary>
    private const string Installer = """
        import json, os, sys
        i = sys.stdin.buffer
        h = json.loads(i.readline())
        r = os.path.abspath(h["root"])
        os.makedirs(r, exist_ok=True)
        for n, s in h["files"]:
            d = i.read(s)
            if len(d) != s:
                sys.exit("spotjax: %s arrived cut short" % n)
            p = os.path.join(r, n)
            try:
                with open(p, "rb") as f:
                    same = f.read() == d
            except OSError:
                same = False
            if not same:
                t = "%s.partial-%d" % (p, os.getpid())
                with open(t, "wb") as f:
                    f.write(d)
                os.replace(t, p)
        os.chdir(r)
        os.environ.update(h["env"])
        os.execv(sys.executable, [sys.executable, h["agent"], "launch", h["config"]])
        """;

    private readonly SshRunnerOptions options;
    private readonly IObjectStore hostKeys;
    private readonly byte[] agentSource = NodeAgent.Source();

    /// <param name="options">How to reach and prepare the workers.</param>
    /// <param name="hostKeys">The control bucket, where the host key seen first in each attempt is recorded.</param>
    public SshWorkerRunner(SshRunnerOptions options, IObjectStore hostKeys)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(hostKeys);
        ArgumentOutOfRangeException.ThrowIfLessThan(options.MaxConcurrency, 1);
        ArgumentException.ThrowIfNullOrEmpty(options.User);
        if (options.AgentEnvironment?.Keys.FirstOrDefault(name => !EnvironmentName().IsMatch(name)) is { } bad)
        {
            throw new ArgumentException($"'{bad}' is not an environment variable name", nameof(options));
        }

        if (options.PreferredKeyExchange.FirstOrDefault(name => !SshKeyExchange.Supported.Contains(name, StringComparer.Ordinal)) is { } unknown)
        {
            throw new ArgumentException(
                $"'{unknown}' is not a key exchange method SSH.NET implements; it has: {string.Join(", ", SshKeyExchange.Supported)}", nameof(options));
        }

        this.options = options;
        this.hostKeys = hostKeys;
    }

    /// <inheritdoc />
    public async Task<IReadOnlyList<WorkerResult>> LaunchAsync(LaunchPlan plan, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(plan);
        if (plan.Workers.Count == 0 || plan.FirstWorker < 0 || plan.Workers.Any(w => w.Index < plan.FirstWorker) || plan.Workers.DistinctBy(w => w.Index).Count() != plan.Workers.Count)
        {
            throw new ArgumentException("the plan needs at least one worker and distinct worker indexes from its first worker's on", nameof(plan));
        }

        var key = await options.KeySource.GetPrivateKeyAsync(cancellationToken);
        var keyProblem = CheckKey(key);
        var user = await UserAsync(cancellationToken);
        var code = options.ResolveUri(plan.CodeUri);
        var bundle = !code.StartsWith("gs://", StringComparison.Ordinal) && (File.Exists(code) || Directory.Exists(code))
            ? await LocalBundle.LoadAsync(code, cancellationToken)
            : null;

        return await EachWorkerAsync(plan, keyProblem, worker => LaunchWorkerAsync(plan, worker, user, key, code, bundle, cancellationToken), cancellationToken);
    }

    /// <inheritdoc />
    public async Task<IReadOnlyList<WorkerResult>> StopAsync(LaunchPlan plan, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(plan);
        var key = await options.KeySource.GetPrivateKeyAsync(cancellationToken);
        var user = await UserAsync(cancellationToken);
        return await EachWorkerAsync(plan, CheckKey(key), worker => StopWorkerAsync(plan, worker, user, key, cancellationToken), cancellationToken);
    }

    private async Task<string> UserAsync(CancellationToken cancellationToken)
    {
        if (options.LoginUser is null)
        {
            return options.User;
        }

        var user = await options.LoginUser(cancellationToken);
        return string.IsNullOrWhiteSpace(user) ? throw new InvalidOperationException("the login user source gave no user name") : user;
    }

    /// <summary>Runs one worker's part of a step on every worker, at most <see cref="SshRunnerOptions.MaxConcurrency"/> at once.</summary>
    private async Task<IReadOnlyList<WorkerResult>> EachWorkerAsync(
        LaunchPlan plan, string? keyProblem, Func<WorkerEndpoint, Task<(int ExitCode, string Stderr)>> step, CancellationToken cancellationToken)
    {
        using var slots = new SemaphoreSlim(options.MaxConcurrency);
        var workers = plan.Workers.Select(w => options.Port is { } port ? w with { Port = port } : w);
        return await Task.WhenAll(workers.Select(async worker =>
        {
            await slots.WaitAsync(cancellationToken);
            var started = options.TimeProvider.GetTimestamp();
            try
            {
                if (keyProblem is not null)
                {
                    throw new WorkerLaunchException(keyProblem);
                }

                var (exitCode, stderr) = await step(worker);
                return new WorkerResult(worker.Index, exitCode == 0, exitCode, Tail(stderr), options.TimeProvider.GetElapsedTime(started));
            }
            catch (WorkerLaunchException e)
            {
                var where = string.Create(CultureInfo.InvariantCulture, $"worker {worker.Index} at {worker.IpAddress}:{worker.Port}");
                return new WorkerResult(worker.Index, false, -1, Tail($"{where}: {e.Message}"), options.TimeProvider.GetElapsedTime(started));
            }
            finally
            {
                slots.Release();
            }
        }));
    }

    private static string? CheckKey(byte[] key)
    {
        try
        {
            using var parsed = new PrivateKeyFile(new MemoryStream(key, writable: false));
            return null;
        }
        catch (Exception e) when (e is SshException or ArgumentException or InvalidOperationException or FormatException or NotSupportedException)
        {
            return $"the SSH private key cannot be used: {e.Message}";
        }
    }

    private async Task<(int ExitCode, string Stderr)> LaunchWorkerAsync(
        LaunchPlan plan, WorkerEndpoint worker, string user, byte[] key, string code, LocalBundle? bundle, CancellationToken ct)
    {
        var pin = new HostKeyPin(hostKeys, plan.JobId, plan.Attempt, worker.Index);
        await pin.LoadAsync(ct);
        using var failed = CancellationTokenSource.CreateLinkedTokenSource(ct);
        using var sshConnection = await ConnectAsync(worker, user, key, pin, info => new SshClient(info) { KeepAliveInterval = KeepAlive }, failed);
        await pin.RecordAsync(ct);

        // A local bundle lands beside the agent; the agent reads a relative code path from its own folder.
        var codeUri = bundle is null ? code : bundle.FileName;
        var configName = ConfigName(plan);
        var files = new List<(string Name, byte[] Content)>
        {
            (NodeAgent.FileName, agentSource),
            (configName, JsonSerializer.SerializeToUtf8Bytes(BuildConfig(plan, worker, codeUri), SpotJaxJson.Options)),
        };
        if (bundle is not null)
        {
            files.Add((bundle.FileName, bundle.Content));
        }

        return await StepAsync("the node agent's launch", t => RunAsync(sshConnection.Client, InstallerCommand(), Payload(options.RemoteRoot(plan, worker), files, configName), t), ct);
    }

    private async Task<(int ExitCode, string Stderr)> StopWorkerAsync(LaunchPlan plan, WorkerEndpoint worker, string user, byte[] key, CancellationToken ct)
    {
        var pin = new HostKeyPin(hostKeys, plan.JobId, plan.Attempt, worker.Index);
        await pin.LoadAsync(ct);
        using var failed = CancellationTokenSource.CreateLinkedTokenSource(ct);
        using var sshConnection = await ConnectAsync(worker, user, key, pin, info => new SshClient(info) { KeepAliveInterval = KeepAlive }, failed);
        await pin.RecordAsync(ct);
        // A relative root is under the home folder, where an SSH command starts.
        return await StepAsync("the node agent's stop", t => RunAsync(sshConnection.Client, AgentCommand(options.RemoteRoot(plan, worker), "stop", ConfigName(plan)), null, t), ct);
    }

    private static string ConfigName(LaunchPlan plan) => string.Create(CultureInfo.InvariantCulture, $"attempt-{plan.Attempt}.json");

    /// <summary>The one command of a worker's launch: <see cref="Installer"/>, which reads everything else from stdin.</summary>
    private string InstallerCommand() => ShellQuote.Command([options.Python, "-c", Installer]);

    /// <summary>
    /// What the installer reads from stdin: one JSON line (the root, the files' names and sizes, the
    /// agent's environment and configuration name), then the files' bytes one after the other.
    /// </summary>
    private byte[] Payload(string root, IReadOnlyList<(string Name, byte[] Content)> files, string configName)
    {
        var header = JsonSerializer.SerializeToUtf8Bytes(new Dictionary<string, object>
        {
            ["root"] = root,
            ["files"] = files.Select(f => new object[] { f.Name, f.Content.Length }).ToList(),
            ["env"] = options.AgentEnvironment ?? new Dictionary<string, string>(),
            ["agent"] = NodeAgent.FileName,
            ["config"] = configName,
        });
        using var payload = new MemoryStream();
        payload.Write(header);
        payload.WriteByte((byte)'\n');
        foreach (var (_, content) in files)
        {
            payload.Write(content);
        }

        return payload.ToArray();
    }

    /// <summary>One command of the node agent run on a worker; every word in it is quoted.</summary>
    private string AgentCommand(string root, string command, string configName)
    {
        var words = new List<string>();
        if (options.AgentEnvironment is { Count: > 0 } environment)
        {
            words.Add("env");
            words.AddRange(environment.Select(e => $"{e.Key}={e.Value}"));
        }

        words.AddRange([options.Python, NodeAgent.FileName, command, configName]);
        return $"cd {ShellQuote.Word(root)} && {ShellQuote.Command(words)}";
    }

    private AgentConfig BuildConfig(LaunchPlan plan, WorkerEndpoint worker, string codeUri)
    {
        var index = worker.Index;
        var env = plan.Environment.ToDictionary(e => e.Key, e => options.ResolveUri(e.Value), StringComparer.Ordinal);
        env["SPOT_WORKER_ID"] = plan.NodeWorker(worker).ToString(CultureInfo.InvariantCulture);
        return new AgentConfig
        {
            JobId = plan.JobId,
            Attempt = plan.Attempt,
            WorkerId = index,
            NumWorkers = plan.Workers.Count,
            CodeUri = codeUri,
            Script = plan.Script,
            Args = plan.Args,
            Env = env,
            MarkersUri = options.ResolveUri(string.Create(CultureInfo.InvariantCulture, $"{plan.MarkersUri.TrimEnd('/')}/attempt-{plan.Attempt}/worker-{index}")),
            LogUri = options.ResolveUri(BucketLayout.LogObject(plan.LogUri, plan.Attempt, index)),
            PrepareLogUri = options.ResolveUri(BucketLayout.PrepareLogObject(plan.LogUri, plan.Attempt, index)),
            MetadataUrl = options.MetadataUrl(plan),
            RequirementsCacheUri = options.RequirementsCacheUri is { } cache ? options.ResolveUri(cache) : null,
            Python = plan.Python,
            ExtraIndexUrls = plan.ExtraIndexUrls,
            PipArgs = plan.PipArgs,
            UvSource = options.UvSource,
            SecretEnv = plan.SecretEnvironment,
        };
    }

    /// <summary>Connects, retrying with backoff until <see cref="SshRunnerOptions.ConnectRetryWindow"/> has passed.</summary>
    private async Task<SshConnection<T>> ConnectAsync<T>(
        WorkerEndpoint worker, string user, byte[] key, HostKeyPin pin, Func<ConnectionInfo, T> create, CancellationTokenSource failed)
        where T : BaseClient
    {
        var time = options.TimeProvider;
        var ct = failed.Token;
        var first = time.GetTimestamp();
        var delay = options.ConnectRetryDelay;
        for (var tries = 1; ; tries++)
        {
            var connection = new SshConnection<T>(worker, user, key, options.ConnectTimeout, options.PreferredKeyExchange, create);
            connection.Client.HostKeyReceived += (_, e) => e.CanTrust = pin.Accept($"{e.HostKeyName} SHA256:{e.FingerPrintSHA256}");
            using var timeout = new CancellationTokenSource(options.ConnectTimeout, time);
            using var attempt = CancellationTokenSource.CreateLinkedTokenSource(ct, timeout.Token);
            Exception failure;
            try
            {
                await connection.Client.ConnectAsync(attempt.Token);
                return connection;
            }
            catch (Exception e) when (!ct.IsCancellationRequested && e is SocketException or SshException or IOException or TimeoutException or OperationCanceledException)
            {
                connection.Dispose();
                failure = e;
            }
            catch
            {
                connection.Dispose();
                throw;
            }

            var elapsed = time.GetElapsedTime(first);
            var reason = pin.Refusal is { } refusal ? new WorkerLaunchException(refusal, failure)
                : elapsed + delay > options.ConnectRetryWindow ? new WorkerLaunchException(
                    string.Create(CultureInfo.InvariantCulture, $"cannot connect over SSH as {user} ({tries} tries in {elapsed.TotalSeconds:0.0}s): {Describe(failure)}"), failure)
                : null;
            if (reason is not null)
            {
                await failed.CancelAsync();
                throw reason;
            }

            await Task.Delay(delay, time, ct);
            delay = TimeSpan.FromTicks(Math.Min(delay.Ticks * 2, options.ConnectRetryMaxDelay.Ticks));
        }
    }

    private string Describe(Exception e) => e switch
    {
        OperationCanceledException => $"no answer within {options.ConnectTimeout}",
        SocketException s => $"{s.SocketErrorCode}: {s.Message}",
        _ => $"{e.GetType().Name}: {e.Message}",
    };

    /// <summary>Runs one step of a worker's launch under <see cref="SshRunnerOptions.StepTimeout"/>, naming it in any failure.</summary>
    private async Task<T> StepAsync<T>(string step, Func<CancellationToken, Task<T>> action, CancellationToken ct)
    {
        using var timeout = new CancellationTokenSource(options.StepTimeout, options.TimeProvider);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(ct, timeout.Token);
        try
        {
            return await action(linked.Token);
        }
        catch (OperationCanceledException e) when (!ct.IsCancellationRequested)
        {
            throw new WorkerLaunchException($"{step}: no end within {options.StepTimeout}", e);
        }
        catch (Exception e) when (e is SshException or SocketException or IOException or TimeoutException)
        {
            throw new WorkerLaunchException($"{step}: {e.Message}", e);
        }
    }

    private static async Task<(int ExitCode, string Stderr)> RunAsync(SshClient ssh, string commandText, byte[]? input, CancellationToken ct)
    {
        using var command = ssh.CreateCommand(commandText);
        var execution = command.ExecuteAsync(ct);
        if (input is not null)
        {
            // Disposing the stream sends EOF: the installer knows the files are complete.
            await using var stdin = command.CreateInputStream();
            await stdin.WriteAsync(input, ct);
        }

        await execution;
        var stderr = command.Error;
        return command.ExitStatus is { } status
            ? (status, stderr)
            : (-1, $"{stderr}the node agent ended by signal {command.ExitSignal ?? "unknown"}");
    }

    private static string Tail(string text) => text.Length <= StderrTailChars ? text : text[^StderrTailChars..];

    [GeneratedRegex("^[A-Za-z_][A-Za-z0-9_]*$")]
    private static partial Regex EnvironmentName();
}
