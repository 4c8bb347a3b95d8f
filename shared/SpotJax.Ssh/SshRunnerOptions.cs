using SpotJax.Core.Agent;
using SpotJax.Core.Ports;

namespace SpotJax.Ssh;

/// <summary>How <see cref="SshWorkerRunner"/> reaches and prepares the workers of a TPU node.</summary>
public sealed record SshRunnerOptions
{
    /// <summary>The metadata server of a TPU VM, as the node agent sees it.</summary>
    public const string GoogleMetadataUrl = "http://metadata.google.internal/computeMetadata/v1/";

    /// <summary>
    /// The port of the workers' sshd. The TPU API's <c>networkEndpoints[].port</c> is the TPU runtime's
    /// (8470), not SSH's; null takes each endpoint's port, for local mode, where the TPU simulator
    /// reports every worker's own daemon there.
    /// </summary>
    public int? Port { get; init; } = 22;

    /// <summary>
    /// The login user of metadata keys: provisioning puts the public key for it into the node's
    /// <c>ssh-keys</c> metadata. Not used when <see cref="LoginUser"/> is set.
    /// </summary>
    public required string User { get; init; }

    /// <summary>
    /// Null logs in as <see cref="User"/>. Otherwise asked once per launch or stop, before any worker is
    /// reached, for the user to log in as (with OS Login: the key imported, the login profile's POSIX
    /// user); its exceptions end the step like those of <see cref="KeySource"/>.
    /// </summary>
    public Func<CancellationToken, Task<string>>? LoginUser { get; init; }

    /// <summary>The private key of <see cref="User"/>.</summary>
    public required ISshKeySource KeySource { get; init; }

    /// <summary>Most workers prepared at the same time; the others wait for a slot.</summary>
    public int MaxConcurrency { get; init; } = 32;

    /// <summary>
    /// Key exchange methods tried before SSH.NET's own order, which the rest of its list follows as a
    /// fallback; empty keeps SSH.NET's order. The default is X25519: SSH.NET prefers the post-quantum
    /// hybrids (<c>mlkem768x25519-sha256</c>, <c>sntrup761x25519-sha512</c>), which it computes in
    /// managed code at four to ten times the processor time per connection (89 against 8 to 21 ms
    /// against OpenSSH 9.2, benchmark <c>ssh-connect</c>), and one launch of a 64-host slice opens 128
    /// sessions from one function instance. The sessions carry the launch of an attempt on the slice's private network; a
    /// deployment that wants post-quantum protection for them sets this to empty.
    /// </summary>
    public IReadOnlyList<string> PreferredKeyExchange { get; init; } = ["curve25519-sha256", "curve25519-sha256@libssh.org"];

    /// <summary>Longest one connection attempt (TCP, key exchange, login) may take.</summary>
    public TimeSpan ConnectTimeout { get; init; } = TimeSpan.FromSeconds(15);

    /// <summary>Wait after the first failed connection attempt; doubled after each further one up to <see cref="ConnectRetryMaxDelay"/>.</summary>
    public TimeSpan ConnectRetryDelay { get; init; } = TimeSpan.FromMilliseconds(500);

    public TimeSpan ConnectRetryMaxDelay { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// How long failed connections are retried, counted from the first attempt: a fresh TPU VM starts
    /// its sshd, and installs the keys from its metadata, a while after the node turns READY.
    /// </summary>
    public TimeSpan ConnectRetryWindow { get; init; } = TimeSpan.FromMinutes(3);

    /// <summary>Longest a worker's launch command (the files written, the agent started detached) or stop may take once connected.</summary>
    public TimeSpan StepTimeout { get; init; } = TimeSpan.FromMinutes(1);

    /// <summary>
    /// The worker's folder for the agent, its configuration and the code; relative paths are under the
    /// login user's home. Default <c>.spotjax</c>.
    /// </summary>
    public Func<LaunchPlan, WorkerEndpoint, string> RemoteRoot { get; init; } = (_, _) => ".spotjax";

    /// <summary>The Python 3.8+ command on the workers that runs the node agent.</summary>
    public string Python { get; init; } = "python3";

    /// <summary>
    /// Maps a URI of the plan (code, markers, logs, environment values) to what the worker uses;
    /// identity by default. A result that is a local file or folder for the code is uploaded over SFTP.
    /// </summary>
    public Func<string, string> ResolveUri { get; init; } = uri => uri;

    /// <summary>The metadata server base (ending in <c>/computeMetadata/v1/</c>) the agent of a node watches; empty for none.</summary>
    public Func<LaunchPlan, string> MetadataUrl { get; init; } = _ => GoogleMetadataUrl;

    /// <summary>
    /// The agent's wheel cache (<c>gs://BUCKET/cache/pip/</c>), passed through <see cref="ResolveUri"/>;
    /// null installs requirements from the package index every time.
    /// </summary>
    public string? RequirementsCacheUri { get; init; }

    /// <summary>
    /// Where the node agent gets uv (<see cref="AgentConfig.UvSource"/>): <c>path</c> (the default, for
    /// local workers) or <c>download</c>, the pinned release checked by its sha256, which a deployment
    /// on real TPU VMs sets.
    /// </summary>
    public string UvSource { get; init; } = AgentConfig.UvFromPath;

    /// <summary>
    /// Variables set for the agent itself (not the job), such as <c>SPOTJAX_STORAGE_BASE</c> or
    /// <c>PATH</c>; names must be <c>[A-Za-z_][A-Za-z0-9_]*</c>.
    /// </summary>
    public IReadOnlyDictionary<string, string>? AgentEnvironment { get; init; }

    /// <summary>Clock for retries, timeouts and durations.</summary>
    public TimeProvider TimeProvider { get; init; } = TimeProvider.System;
}
