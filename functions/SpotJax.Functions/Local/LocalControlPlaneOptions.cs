using SpotJax.Core.Lifecycle;
using SpotJax.Core.Ports;
using SpotJax.Local.Messaging;

namespace SpotJax.Functions.Local;

public sealed record LocalControlPlaneOptions
{
    /// <summary>The state folder: <c>jobs.db</c>, <c>bucket/</c>, <c>nodes/</c>.</summary>
    public required string Root { get; init; }

    public string Project { get; init; } = "spotjax-local";
    public string Bucket { get; init; } = "spotjax-local";

    /// <summary>The plane's deployment name (<see cref="Core.Steps.ControlPlaneOptions.Deployment"/>), the label of its queued resources.</summary>
    public string Deployment { get; init; } = Core.Steps.DeploymentName.Local;

    /// <summary>
    /// A TPU simulator another plane (or the caller) started, shared instead of starting one, as deployments
    /// share a project; the caller keeps ownership. Its own options (provisioning delay, preemption grace,
    /// node folders) then apply, and <see cref="ProvisionDelay"/>, <see cref="ProvisionDelayByAttempt"/> and
    /// <see cref="PreemptionGrace"/> are not used.
    /// </summary>
    public TpuSimulation.TpuSimulator? Simulator { get; init; }

    /// <summary>
    /// Puts something in front of the TPU API the functions call (the REST client of the simulator): a
    /// recorder or a fault injector in tests and benchmarks; null calls it directly.
    /// </summary>
    public Func<ITpuApi, ITpuApi>? WrapTpuApi { get; init; }

    /// <summary>How long the simulator takes from create to ACTIVE.</summary>
    public TimeSpan ProvisionDelay { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>
    /// When not empty, overrides <see cref="ProvisionDelay"/> attempt by attempt: attempt n takes the n-th value,
    /// later attempts the last one. A long value holds a job between attempts for as long as a test or a
    /// demonstration needs.
    /// </summary>
    public IReadOnlyList<TimeSpan> ProvisionDelayByAttempt { get; init; } = [];

    /// <summary>Time between SIGTERM and SIGKILL on a preemption.</summary>
    public TimeSpan PreemptionGrace { get; init; } = TimeSpan.FromSeconds(5);

    public TimeSpan SweepInterval { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>Local runs retry after a second rather than Google Cloud's 30 s.</summary>
    public LifecycleOptions Lifecycle { get; init; } = new()
    {
        BackoffBase = TimeSpan.FromSeconds(1),
        BackoffMax = TimeSpan.FromSeconds(10),
        StuckAfter = TimeSpan.FromSeconds(30),
    };

    /// <summary>Delivery behaviour of the in-process bus (duplicates and reordering for tests).</summary>
    public InProcessBusOptions? Bus { get; init; }

    /// <summary>
    /// Another job store (Firestore, or its emulator); by default a SQLite file in
    /// <see cref="Root"/>. The caller keeps ownership of a store given here.
    /// </summary>
    public IJobStore? Store { get; init; }

    /// <summary>Another worker runner (SSH workers); local processes by default.</summary>
    public IWorkerRunner? Workers { get; init; }

    /// <summary>
    /// Without <see cref="Workers"/>: reach the workers with the SSH runner, each worker index being a
    /// private sshd on the loopback (started on first use, under <c>{Root}/sshd</c>). Needs
    /// <c>/usr/sbin/sshd</c> (<c>apt-get install -y openssh-server</c>).
    /// </summary>
    public bool SshWorkers { get; init; }

    /// <summary>
    /// The PATH the node agents of <see cref="SshWorkers"/> run with, and so the setup script and the
    /// training script; default this process's. Local worker processes inherit it; an SSH login would
    /// start from sshd's default PATH, without the tools local mode takes from this one (uv, python3).
    /// </summary>
    public string? SshWorkerPath { get; init; } = Environment.GetEnvironmentVariable("PATH");

    public TimeProvider? Time { get; init; }

    /// <summary>The variable naming the <see cref="SecretsFile"/> of <c>spotjax local up</c> and <c>spotjax run --local</c>.</summary>
    public const string SecretsFileVariable = "SPOTJAX_LOCAL_SECRETS";

    /// <summary>
    /// A file of <c>SECRET_ID=VALUE</c> lines (blank lines and lines starting with <c>#</c> skipped) loaded into
    /// the simulator's Secret Manager stand-in as version 1 of each secret of <see cref="Project"/>, for jobs whose
    /// <c>secretEnv</c> names <c>projects/{Project}/secrets/SECRET_ID/versions/latest</c>. By default
    /// <c>$SPOTJAX_LOCAL_SECRETS</c>; null loads none.
    /// </summary>
    public string? SecretsFile { get; init; } = Environment.GetEnvironmentVariable(SecretsFileVariable) is { Length: > 0 } file ? file : null;

    /// <summary>Where the control plane's own problems are reported (retries, rejected input).</summary>
    public Action<string>? Log { get; init; }

    /// <summary>
    /// The deployment's webhook settings; null reads <c>SPOTJAX_WEBHOOK_URL</c> and <c>SPOTJAX_WEBHOOK_FORMAT</c>
    /// from this process's environment (<see cref="Core.Steps.NotifyOptions.FromEnvironment"/>).
    /// </summary>
    public Core.Steps.NotifyOptions? Notify { get; init; }
}
