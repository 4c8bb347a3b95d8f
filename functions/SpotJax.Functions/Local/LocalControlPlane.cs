using SpotJax.Core;
using SpotJax.Core.Jobs;
using SpotJax.Core.Ports;
using SpotJax.Core.Steps;
using SpotJax.Core.Tpu;
using SpotJax.Google.Http;
using SpotJax.Google.Tpu;
using SpotJax.Local.Messaging;
using SpotJax.Local.State;
using SpotJax.Local.Storage;
using SpotJax.Local.Workers;
using SpotJax.Ssh;
using SpotJax.TpuSimulation;

namespace SpotJax.Functions.Local;

/// <summary>
/// Local mode: every function in one process over the embedded parts: the in-process bus, a
/// SQLite job store, a folder as the control bucket, the TPU simulator (reached through the
/// production TPU REST client) and local worker processes, or private sshd workers reached by the
/// production SSH runner. The handlers are the ones that run in Cloud Run.
/// </summary>
public sealed class LocalControlPlane : IAsyncDisposable
{
    private readonly CancellationTokenSource stopping = new();
    private readonly HttpClient http;
    private readonly LocalControlPlaneOptions options;
    private readonly SqliteJobStore? ownedStore;
    private readonly LocalSshWorkers? sshWorkers;
    private readonly string nodesRoot;

    /// <summary>
    /// The <c>notify</c> function's own bus: a webhook that hangs holds each delivery for the POST's
    /// timeout, and on <see cref="Bus"/> those deliveries would take the slots of the lifecycle's steps
    /// (in Google Cloud notify is a service of its own). The plane's bus hands each job event over to it.
    /// </summary>
    private readonly InProcessMessageBus notifyBus;
    private Task sweepLoop = Task.CompletedTask;

    private LocalControlPlane(LocalControlPlaneOptions options, TpuSimulator simulator, LocalSshWorkers? sshWorkers, TimeProvider time)
    {
        this.options = options;
        this.sshWorkers = sshWorkers;
        Simulator = simulator;
        nodesRoot = simulator.NodesRoot;
        Directory.CreateDirectory(options.Root);
        if (options.Store is null)
        {
            ownedStore = new SqliteJobStore(Path.Combine(options.Root, "jobs.db"), time);
        }

        Store = options.Store ?? ownedStore!;
        Bus = new InProcessMessageBus(options.Bus, time);
        notifyBus = new InProcessMessageBus(options.Bus, time);
        Objects = new FolderObjectStore(Path.Combine(options.Root, "bucket"), options.Bucket, null, time);
        http = new HttpClient { Timeout = TimeSpan.FromSeconds(30) };
        ITpuApi rest = new TpuRestClient(new GoogleApiTransport(http, FixedTokenSource.None), new TpuClientOptions { Project = options.Project, BaseUri = simulator.BaseUri });
        Tpu = options.WrapTpuApi?.Invoke(rest) ?? rest;
        Workers = options.Workers ?? (sshWorkers is null
            ? new LocalWorkerRunner(new LocalWorkerOptions
            {
                NodesRoot = nodesRoot,
                ResolveUri = uri => Objects.TryResolve(uri, out var path) ? path : uri,
                MetadataUrl = (zone, node) => simulator.MetadataUrl(zone, node).ToString(),
                RequirementsCacheUri = BucketLayout.GsUri(options.Bucket, BucketLayout.RequirementsCachePrefix),
                ExtraEnvironment = AgentEnvironment(simulator),
            })
            : new SshWorkerRunner(SshOptions(sshWorkers, simulator, time), Objects));
        ControlPlane = new ControlPlaneOptions
        {
            Project = options.Project,
            Bucket = options.Bucket,
            Deployment = options.Deployment,
            Lifecycle = options.Lifecycle,
            AllowLocalCode = true,
        };
        Functions = new SpotJaxFunctions(
            Store, Bus, Objects, Tpu, Workers, ControlPlane, time, options.Log, options.Notify ?? NotifyOptions.FromEnvironment(Environment.GetEnvironmentVariable));
    }

    /// <summary>The job store: <see cref="LocalControlPlaneOptions.Store"/>, or the SQLite file in the state folder.</summary>
    public IJobStore Store { get; }
    public InProcessMessageBus Bus { get; }
    public FolderObjectStore Objects { get; }
    public TpuSimulator Simulator { get; }
    public ITpuApi Tpu { get; }
    public IWorkerRunner Workers { get; }
    public ControlPlaneOptions ControlPlane { get; }
    public SpotJaxFunctions Functions { get; }

    /// <summary>Starts the simulator (unless <see cref="LocalControlPlaneOptions.Simulator"/> is shared), subscribes every function and starts the sweep.</summary>
    /// <exception cref="ArgumentException"><see cref="LocalControlPlaneOptions.Deployment"/> is not a deployment name.</exception>
    public static async Task<LocalControlPlane> StartAsync(LocalControlPlaneOptions options, CancellationToken cancellationToken)
    {
        DeploymentName.Check(options.Deployment);
        var time = options.Time ?? TimeProvider.System;
        var sshWorkers = options.SshWorkers && options.Workers is null
            ? await LocalSshWorkers.CreateAsync(Path.Combine(options.Root, "sshd"), cancellationToken)
            : null;
        var simulator = options.Simulator ?? await TpuSimulator.StartAsync(
            new TpuSimulatorOptions
            {
                NodesRoot = NodesRoot(options.Root),
                ProvisionDelay = options.ProvisionDelay,
                ProvisionDelayOf = options.ProvisionDelayByAttempt.Count == 0 ? null : queued => ProvisionDelayOf(queued, options),
                PreemptionGrace = options.PreemptionGrace,
                // Worker i of a node is reached at sshd daemon i, as a TPU VM is at its internal address.
                Endpoint = sshWorkers is null ? null : (_, worker) => sshWorkers.Endpoint(worker),
            },
            time,
            cancellationToken);
        try
        {
            if (options.SecretsFile is { } secretsFile)
            {
                await LoadSecretsAsync(simulator, options.Project, secretsFile, cancellationToken);
            }
        }
        catch
        {
            if (options.Simulator is null)
            {
                await simulator.DisposeAsync();
            }

            throw;
        }

        var plane = new LocalControlPlane(options, simulator, sshWorkers, time);
        plane.Wire();
        return plane;
    }

    /// <summary>
    /// The SSH runner over the local daemons: every worker's remote root is its simulator folder, so
    /// that a preemption finds the agent's process groups there, as with local processes.
    /// </summary>
    private SshRunnerOptions SshOptions(LocalSshWorkers workers, TpuSimulator simulator, TimeProvider time) => new()
    {
        User = Environment.UserName,
        KeySource = new FileSshKeySource(workers.ClientKey.PrivateKeyPath),

        // Each worker's own daemon, as the simulator reports it.
        Port = null,
        RemoteRoot = (plan, worker) =>
        {
            var node = TpuNodeName.Parse(plan.NodeName);
            return LocalWorkerRunner.WorkerHome(nodesRoot, node.Zone, node.NodeId, plan.NodeWorker(worker));
        },
        ResolveUri = uri => Objects.TryResolve(uri, out var path) ? path : uri,
        MetadataUrl = plan =>
        {
            var node = TpuNodeName.Parse(plan.NodeName);
            return simulator.MetadataUrl(node.Zone, node.NodeId).ToString();
        },
        AgentEnvironment = SshAgentEnvironment(simulator, options.SshWorkerPath),
        ConnectRetryWindow = TimeSpan.FromSeconds(30),
        StepTimeout = TimeSpan.FromMinutes(2),
        TimeProvider = time,
    };

    /// <summary>The agent reads <c>secretEnv</c> from the simulator's Secret Manager stand-in.</summary>
    private static Dictionary<string, string> AgentEnvironment(TpuSimulator simulator) =>
        new(StringComparer.Ordinal) { ["SPOTJAX_SECRETMANAGER_BASE"] = simulator.BaseUri.AbsoluteUri.TrimEnd('/') };

    /// <summary>What SSH agents get besides: the plane's PATH (an SSH login's PATH lacks the tools the plane was started with, uv among them).</summary>
    private static Dictionary<string, string> SshAgentEnvironment(TpuSimulator simulator, string? path)
    {
        var environment = AgentEnvironment(simulator);
        if (path is { Length: > 0 })
        {
            environment["PATH"] = path;
        }

        return environment;
    }

    /// <summary>Seeds the stand-in from a file of <c>SECRET_ID=VALUE</c> lines; errors name the line, never its value.</summary>
    private static async Task LoadSecretsAsync(TpuSimulator simulator, string project, string path, CancellationToken ct)
    {
        string[] lines;
        try
        {
            lines = await File.ReadAllLinesAsync(path, ct);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new InvalidOperationException($"cannot read the local secrets file {path} ({LocalControlPlaneOptions.SecretsFileVariable}): {e.Message}", e);
        }

        for (var i = 0; i < lines.Length; i++)
        {
            var line = lines[i];
            if (line.Trim().Length == 0 || line.TrimStart().StartsWith('#'))
            {
                continue;
            }

            var equals = line.IndexOf('=', StringComparison.Ordinal);
            try
            {
                if (equals <= 0)
                {
                    throw new InvalidOperationException("expected SECRET_ID=VALUE");
                }

                simulator.AddSecret(project, line[..equals].Trim(), line[(equals + 1)..]);
            }
            catch (InvalidOperationException e)
            {
                var at = (i + 1).ToString(System.Globalization.CultureInfo.InvariantCulture);
                throw new InvalidOperationException($"{path} line {at} is not SECRET_ID=VALUE with a secret id of 1 to 255 characters of A-Z, a-z, 0-9, '_', '-' ({LocalControlPlaneOptions.SecretsFileVariable})", e);
            }
        }
    }

    /// <summary>The provisioning time of the attempt a queued resource is labelled with.</summary>
    private static TimeSpan ProvisionDelayOf(QueuedResource queued, LocalControlPlaneOptions options)
    {
        var delays = options.ProvisionDelayByAttempt;
        return queued.NodeLabels.TryGetValue(ProvisionFunction.AttemptLabel, out var label) &&
            int.TryParse(label, System.Globalization.CultureInfo.InvariantCulture, out var attempt) && attempt >= 1
            ? delays[Math.Min(attempt, delays.Count) - 1]
            : options.ProvisionDelay;
    }

    private static string NodesRoot(string root) => Path.Combine(root, "nodes");

    /// <summary>
    /// Kills the worker processes a plane over <paramref name="root"/> left behind when its process
    /// was killed before it could dispose (they run in sessions of their own and outlive it).
    /// </summary>
    public static void KillLeftoverWorkers(string root) => TpuSimulator.KillRegisteredProcesses(NodesRoot(root));

    private void Wire()
    {
        foreach (var (topic, function) in Functions.ByTopic)
        {
            var bus = function is NotifyFunction ? notifyBus : Bus;
            bus.Subscribe(topic, (message, ct) => DeliverAsync(topic, message.MessageId, () => function.HandleAsync(message, ct), ct));
            if (bus != Bus)
            {
                Bus.Subscribe(topic, (message, ct) => notifyBus.PublishAsync(topic, new OutgoingMessage(message.Data, message.Attributes), ct));
            }
        }

        Objects.OnFinalize((e, ct) => DeliverAsync("bucket-events", e.Name, () => Functions.BucketEvents.HandleAsync(e, ct), ct));
        Objects.Start();
        sweepLoop = SweepLoopAsync(stopping.Token);
    }

    private async Task DeliverAsync(string function, string id, Func<Task> handler, CancellationToken ct)
    {
        var (outcome, error) = await Delivery.RunAsync(handler, ct);
        switch (outcome)
        {
            case DeliveryOutcome.Rejected:
                options.Log?.Invoke($"{function} {id}: rejected: {error}");
                break;
            case DeliveryOutcome.Retry:
                options.Log?.Invoke($"{function} {id}: will retry: {error}");
                throw new TransientException(error ?? "retry");
        }
    }

    private async Task SweepLoopAsync(CancellationToken ct)
    {
        using var timer = new PeriodicTimer(options.SweepInterval);
        try
        {
            while (await timer.WaitForNextTickAsync(ct))
            {
                var (outcome, error) = await Delivery.RunAsync(() => Functions.Sweep.HandleAsync(ct), ct);
                if (outcome != DeliveryOutcome.Done)
                {
                    options.Log?.Invoke($"sweep: {error}");
                }
            }
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            // Stopping.
        }
    }

    /// <summary>Publishes a job document to <c>spotjax-jobs</c>, as <c>gcloud pubsub topics publish</c> would.</summary>
    public async Task<string> PublishJobAsync(byte[] document, string submissionId, CancellationToken ct)
    {
        var attributes = new Dictionary<string, string> { [SubmitFunction.SubmissionIdAttribute] = submissionId };
        return await Bus.PublishAsync(ControlPlane.Topics.Jobs, new OutgoingMessage(document, attributes), ct);
    }

    /// <summary>Submits a parsed job and returns its id (derived from the submission id, as <c>submit</c> does).</summary>
    public async Task<string> SubmitAsync(JobSpec spec, string submissionId, CancellationToken ct)
    {
        var code = await UploadCodeAsync(spec.Code, ct);
        var document = System.Text.Encoding.UTF8.GetBytes(JobDocument.ToJson(spec with { Code = code }));
        await PublishJobAsync(document, submissionId, ct);
        return JobId.From(spec.Name, $"client:{submissionId}");
    }

    public Task CancelAsync(string jobId, CancellationToken ct) =>
        Bus.PublishAsync(ControlPlane.Topics.Jobs, OutgoingMessage.FromText(System.Text.Json.JsonSerializer.Serialize(new { cancel = jobId })), ct);

    /// <summary>
    /// Puts a local code folder (or tarball) into the bucket as <c>code/&lt;sha256&gt;.tar.gz</c> and
    /// returns its <c>gs://</c> URI; a <c>gs://</c> value is returned unchanged.
    /// </summary>
    public async Task<string> UploadCodeAsync(string code, CancellationToken ct) => (await UploadCodeAsync(code, new CodeBundleOptions(), ct)).Uri;

    /// <summary>As <see cref="UploadCodeAsync(string, CancellationToken)"/>, within <paramref name="options"/>' limits, saying what was packed.</summary>
    /// <exception cref="CodeBundleException">The folder does not exist, is too large or cannot be read.</exception>
    public Task<UploadedCode> UploadCodeAsync(string code, CodeBundleOptions options, CancellationToken ct) => CodeBundle.UploadAsync(Objects, code, options, ct);

    /// <summary>Injects a Spot preemption of the job's current attempt: of every slice, or of slice <paramref name="slice"/> only.</summary>
    /// <exception cref="InvalidOperationException">No such job, no ACTIVE queued resource, or no such slice.</exception>
    public async Task PreemptAsync(string jobId, CancellationToken ct, int? slice = null)
    {
        var job = await Store.GetAsync(jobId, ct) ?? throw new InvalidOperationException($"no job {jobId}");
        var slices = job.Spec?.Slices ?? 1;
        if (slice is { } s && (s < 0 || s >= slices))
        {
            throw new InvalidOperationException(
                System.FormattableString.Invariant($"job {jobId} has {slices} slice(s), numbered from 0; there is no slice {s}"));
        }

        await Simulator.PreemptAsync(job.Zone!, job.QueuedResourceId!, slices == 1 ? null : slice);
    }

    /// <summary>The local file of a worker's log for one attempt.</summary>
    public string LogPath(Job job, int attempt, int worker)
    {
        var uri = BucketLayout.LogObject(JobPaths.LogDir(job, options.Bucket), attempt, worker);
        return Objects.TryResolve(uri, out var path) ? path : uri;
    }

    public async ValueTask DisposeAsync()
    {
        await stopping.CancelAsync();
        await sweepLoop;
        await Bus.DisposeAsync();
        await notifyBus.DisposeAsync();
        await Objects.DisposeAsync();
        if (options.Simulator is null)
        {
            await Simulator.DisposeAsync();
        }

        if (sshWorkers is not null)
        {
            await sshWorkers.DisposeAsync();
        }

        ownedStore?.Dispose();
        http.Dispose();
        stopping.Dispose();
    }
}
