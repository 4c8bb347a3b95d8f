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
/// most <see cref="SshRunnerOptions.MaxConcurrency"/> at a time, and on each one uploads the node
/// agent, the attempt's configuration and a local code bundle over SFTP, then runs one command,
/// <c>cd ROOT &amp;&amp; python3 spotjax_agent.py launch attempt-N.json</c>, which fetches the code, runs the
/// setup script, installs the requirements and starts the script detached. Job values travel in the
/// JSON configuration; the command holds only paths, each quoted by <see cref="ShellQuote"/>.
/// Everything is idempotent: an unchanged file is not rewritten and the agent starts an attempt once.
/// </summary>
public sealed partial class SshWorkerRunner : IWorkerRunner
{
    private const int StderrTailChars = 2048;

    // Keeps the session of a long launch (a large pip install) alive through NAT and firewalls.
    private static readonly TimeSpan KeepAlive = TimeSpan.FromSeconds(30);

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
        if (plan.Workers.Count == 0 || plan.Workers.Any(w => w.Index < 0) || plan.Workers.DistinctBy(w => w.Index).Count() != plan.Workers.Count)
        {
            throw new ArgumentException("the plan needs at least one worker and distinct non-negative worker indexes", nameof(plan));
        }

        var key = await options.KeySource.GetPrivateKeyAsync(cancellationToken);
        var keyProblem = CheckKey(key);
        var code = options.ResolveUri(plan.CodeUri);
        var bundle = !code.StartsWith("gs://", StringComparison.Ordinal) && (File.Exists(code) || Directory.Exists(code))
            ? await LocalBundle.LoadAsync(code, cancellationToken)
            : null;

        return await EachWorkerAsync(plan, keyProblem, worker => LaunchWorkerAsync(plan, worker, key, code, bundle, cancellationToken), cancellationToken);
    }

    /// <inheritdoc />
    public async Task<IReadOnlyList<WorkerResult>> StopAsync(LaunchPlan plan, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(plan);
        var key = await options.KeySource.GetPrivateKeyAsync(cancellationToken);
        return await EachWorkerAsync(plan, CheckKey(key), worker => StopWorkerAsync(plan, worker, key, cancellationToken), cancellationToken);
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
        LaunchPlan plan, WorkerEndpoint worker, byte[] key, string code, LocalBundle? bundle, CancellationToken ct)
    {
        var pin = new HostKeyPin(hostKeys, plan.JobId, plan.Attempt, worker.Index);
        await pin.LoadAsync(ct);

        // Both sessions are opened at once: each costs a key exchange, and they do not depend on each other.
        using var failed = CancellationTokenSource.CreateLinkedTokenSource(ct);
        var sftpConnecting = ConnectAsync(worker, key, pin, info => new SftpClient(info) { OperationTimeout = options.StepTimeout }, failed);
        var sshConnecting = ConnectAsync(worker, key, pin, info => new SshClient(info) { KeepAliveInterval = KeepAlive }, failed);
        try
        {
            await Task.WhenAll(sftpConnecting, sshConnecting);
        }
        catch (Exception) when (!ct.IsCancellationRequested)
        {
            DisposeIfConnected(sftpConnecting);
            DisposeIfConnected(sshConnecting);
            // The real failure, not the cancellation it caused in the other connection.
            if (new Task[] { sftpConnecting, sshConnecting }.Select(t => t.Exception?.InnerException).OfType<WorkerLaunchException>().FirstOrDefault() is { } cause)
            {
                throw cause;
            }

            throw;
        }

        using var sftpConnection = await sftpConnecting;
        using var sshConnection = await sshConnecting;
        var sftp = sftpConnection.Client;
        await pin.RecordAsync(ct);

        var configuredRoot = options.RemoteRoot(plan, worker);
        // Relative roots are under the home folder, which the SFTP server reports: absolute paths
        // mean the same on every step, whatever the login shell's start folder.
        var root = configuredRoot.StartsWith('/') ? configuredRoot : $"{sftp.WorkingDirectory.TrimEnd('/')}/{configuredRoot}";
        await StepAsync($"create {root}", t => EnsureDirectoryAsync(sftp, root, t), ct);
        await StepAsync("upload the node agent", t => UploadIfChangedAsync(sftp, $"{root}/{NodeAgent.FileName}", agentSource, t), ct);

        var codeUri = code;
        if (bundle is not null)
        {
            codeUri = $"{root}/{bundle.FileName}";
            await StepAsync("upload the code bundle", t => UploadOnceAsync(sftp, codeUri, bundle.Content, t), ct);
        }

        var configName = ConfigName(plan);
        var config = JsonSerializer.SerializeToUtf8Bytes(BuildConfig(plan, worker, codeUri), SpotJaxJson.Options);
        await StepAsync($"upload {configName}", t => UploadIfChangedAsync(sftp, $"{root}/{configName}", config, t), ct);

        return await StepAsync("the node agent's launch", t => RunAsync(sshConnection.Client, AgentCommand(root, "launch", configName), t), ct);
    }

    private async Task<(int ExitCode, string Stderr)> StopWorkerAsync(LaunchPlan plan, WorkerEndpoint worker, byte[] key, CancellationToken ct)
    {
        var pin = new HostKeyPin(hostKeys, plan.JobId, plan.Attempt, worker.Index);
        await pin.LoadAsync(ct);
        using var failed = CancellationTokenSource.CreateLinkedTokenSource(ct);
        using var sshConnection = await ConnectAsync(worker, key, pin, info => new SshClient(info) { KeepAliveInterval = KeepAlive }, failed);
        await pin.RecordAsync(ct);
        // A relative root is under the home folder, where an SSH command starts.
        return await StepAsync("the node agent's stop", t => RunAsync(sshConnection.Client, AgentCommand(options.RemoteRoot(plan, worker), "stop", ConfigName(plan)), t), ct);
    }

    private static string ConfigName(LaunchPlan plan) => string.Create(CultureInfo.InvariantCulture, $"attempt-{plan.Attempt}.json");

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
        env["SPOT_WORKER_ID"] = index.ToString(CultureInfo.InvariantCulture);
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
            MetadataUrl = options.MetadataUrl(plan),
            RequirementsCacheUri = options.RequirementsCacheUri is { } cache ? options.ResolveUri(cache) : null,
            SecretEnv = plan.SecretEnvironment,
        };
    }

    /// <summary>Connects, retrying with backoff until <see cref="SshRunnerOptions.ConnectRetryWindow"/> has passed.</summary>
    private async Task<SshConnection<T>> ConnectAsync<T>(
        WorkerEndpoint worker, byte[] key, HostKeyPin pin, Func<ConnectionInfo, T> create, CancellationTokenSource failed)
        where T : BaseClient
    {
        var time = options.TimeProvider;
        var ct = failed.Token;
        var first = time.GetTimestamp();
        var delay = options.ConnectRetryDelay;
        for (var tries = 1; ; tries++)
        {
            var connection = new SshConnection<T>(worker, options.User, key, options.ConnectTimeout, options.PreferredKeyExchange, create);
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
                    string.Create(CultureInfo.InvariantCulture, $"cannot connect over SSH ({tries} tries in {elapsed.TotalSeconds:0.0}s): {Describe(failure)}"), failure)
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

    private static void DisposeIfConnected<T>(Task<SshConnection<T>> connecting)
        where T : BaseClient
    {
        if (connecting.IsCompletedSuccessfully)
        {
            connecting.Result.Dispose();
        }
    }

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

    private Task StepAsync(string step, Func<CancellationToken, Task> action, CancellationToken ct) =>
        StepAsync(step, async t => { await action(t); return true; }, ct);

    private static async Task EnsureDirectoryAsync(SftpClient sftp, string path, CancellationToken ct)
    {
        if (await sftp.ExistsAsync(path, ct))
        {
            return;
        }

        var current = "";
        foreach (var part in path.Split('/', StringSplitOptions.RemoveEmptyEntries))
        {
            current += "/" + part;
            if (await sftp.ExistsAsync(current, ct))
            {
                continue;
            }

            try
            {
                await sftp.CreateDirectoryAsync(current, ct);
            }
            catch (SshException)
            {
                // Another launch of the same worker may have created it first; anything else fails here.
                if (!await sftp.ExistsAsync(current, ct))
                {
                    throw;
                }
            }
        }
    }

    /// <summary>Writes the file unless it already holds exactly <paramref name="content"/>.</summary>
    private static async Task UploadIfChangedAsync(SftpClient sftp, string path, byte[] content, CancellationToken ct)
    {
        try
        {
            var attributes = await sftp.GetAttributesAsync(path, ct);
            if (attributes.Size == content.Length)
            {
                using var existing = new MemoryStream(content.Length);
                await sftp.DownloadFileAsync(path, existing, ct);
                if (existing.GetBuffer().AsSpan(0, (int)existing.Length).SequenceEqual(content))
                {
                    return;
                }
            }
        }
        catch (SftpPathNotFoundException)
        {
            // Not there yet.
        }

        await UploadAtomicAsync(sftp, path, content, ct);
    }

    /// <summary>Writes a file whose name is its content hash, unless a complete copy is there.</summary>
    private static async Task UploadOnceAsync(SftpClient sftp, string path, byte[] content, CancellationToken ct)
    {
        try
        {
            if ((await sftp.GetAttributesAsync(path, ct)).Size == content.Length)
            {
                return;
            }
        }
        catch (SftpPathNotFoundException)
        {
            // Not there yet.
        }

        await UploadAtomicAsync(sftp, path, content, ct);
    }

    private static async Task UploadAtomicAsync(SftpClient sftp, string path, byte[] content, CancellationToken ct)
    {
        // A concurrent launch of the same worker may read the file at any moment: never show it half written.
        var temp = $"{path}.partial-{Guid.NewGuid():N}";
        using (var stream = new MemoryStream(content, writable: false))
        {
            await sftp.UploadFileAsync(stream, temp, ct);
        }

        sftp.RenameFile(temp, path, isPosix: true);
    }

    private static async Task<(int ExitCode, string Stderr)> RunAsync(SshClient ssh, string commandText, CancellationToken ct)
    {
        using var command = ssh.CreateCommand(commandText);
        await command.ExecuteAsync(ct);
        var stderr = command.Error;
        return command.ExitStatus is { } status
            ? (status, stderr)
            : (-1, $"{stderr}the node agent ended by signal {command.ExitSignal ?? "unknown"}");
    }

    private static string Tail(string text) => text.Length <= StderrTailChars ? text : text[^StderrTailChars..];

    [GeneratedRegex("^[A-Za-z_][A-Za-z0-9_]*$")]
    private static partial Regex EnvironmentName();
}
