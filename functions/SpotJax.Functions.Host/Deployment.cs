using System.Collections;
using SpotJax.Core;
using SpotJax.Core.Agent;
using SpotJax.Core.Jobs;
using SpotJax.Core.Ports;
using SpotJax.Core.Steps;
using SpotJax.Functions.Status;
using SpotJax.Google;
using SpotJax.Google.Firestore;
using SpotJax.Google.PubSub;
using SpotJax.Google.Storage;
using SpotJax.Google.Tpu;
using SpotJax.Local.State;
using SpotJax.Local.Storage;
using SpotJax.Local.Workers;
using SpotJax.Ssh;

namespace SpotJax.Functions.Host;

/// <summary>
/// The adapters one function container talks to, chosen by its environment: Firestore, Pub/Sub,
/// Cloud Storage, the Cloud TPU API and SSH on Google Cloud; emulators and local stand-ins where a
/// variable points at them. Every name read here is a constant, so infra/ can be checked against it.
/// </summary>
public sealed class Deployment : IAsyncDisposable
{
    public const string ProjectVariable = "GOOGLE_CLOUD_PROJECT";
    public const string BucketVariable = "SPOTJAX_BUCKET";

    /// <summary>A folder that stands in for the control bucket (local and test deployments).</summary>
    public const string BucketDirVariable = "SPOTJAX_BUCKET_DIR";

    /// <summary>A Cloud Storage JSON API root other than Google's (a local storage server).</summary>
    public const string StorageApiVariable = "SPOTJAX_STORAGE_API";

    /// <summary>A SQLite file that stands in for Firestore (local and test deployments).</summary>
    public const string StateDbVariable = "SPOTJAX_STATE_DB";

    /// <summary><c>ssh</c> (Google Cloud, the default) or <c>local</c> (worker processes beside the TPU simulator).</summary>
    public const string WorkersVariable = "SPOTJAX_WORKERS";

    /// <summary>Where local worker processes live (local deployments, with the TPU simulator).</summary>
    public const string NodesRootVariable = "SPOTJAX_NODES_ROOT";

    public const string SshUserVariable = "SPOTJAX_SSH_USER";

    /// <summary>The public half of the launch key; provisioning puts it into the nodes' <c>ssh-keys</c>.</summary>
    public const string SshPublicKeyVariable = "SPOTJAX_SSH_PUBLIC_KEY";

    /// <summary>The Secret Manager secret (in the project) holding the private launch key.</summary>
    public const string SshKeySecretVariable = "SPOTJAX_SSH_KEY_SECRET";

    /// <summary>A file holding the private launch key (instead of the secret).</summary>
    public const string SshKeyFileVariable = "SPOTJAX_SSH_KEY_FILE";

    /// <summary>The service account the provisioned TPU VMs run as (access to the control bucket).</summary>
    public const string NodeServiceAccountVariable = "SPOTJAX_NODE_SERVICE_ACCOUNT";

    /// <summary>
    /// Comma-separated zones the sweep always lists for orphaned queued resources, besides those of the
    /// active jobs (<see cref="ControlPlaneOptions.SweepZones"/>); only the sweep service sets it.
    /// </summary>
    public const string SweepZonesVariable = "SPOTJAX_SWEEP_ZONES";

    public const string DefaultSshUser = "spotjax";

    /// <summary>
    /// This deployment's name (<see cref="ControlPlaneOptions.Deployment"/>), the <c>spotjax-deployment</c> label of
    /// its queued resources; <see cref="DeploymentName.Default"/> when unset.
    /// </summary>
    public const string DeploymentVariable = "SPOTJAX_DEPLOYMENT";

    /// <summary>The Firestore database of the job store (<see cref="FirestoreJobStoreOptions.Database"/>); <c>(default)</c> when unset.</summary>
    public const string FirestoreDatabaseVariable = "SPOTJAX_FIRESTORE_DATABASE";

    private readonly List<IAsyncDisposable> owned = [];
    private readonly List<IDisposable> ownedSync = [];
    private readonly HttpClient http = new() { Timeout = TimeSpan.FromMinutes(2) };

    private Deployment()
    {
    }

    /// <summary>The step functions; not built for the status function (<c>stepsWanted: false</c>).</summary>
    public SpotJaxFunctions Functions { get; private set; } = null!;

    /// <summary>The settings the step functions were built with; not built for the status function.</summary>
    public ControlPlaneOptions Options { get; private set; } = null!;

    /// <summary>This deployment's name (<see cref="DeploymentVariable"/>), also read by the status function.</summary>
    public string Name { get; private set; } = DeploymentName.Default;

    /// <summary>The status page over this deployment's job store and bucket.</summary>
    public StatusPage Status { get; private set; } = null!;

    /// <param name="environment">The container's environment variables.</param>
    /// <param name="time">The clock of every adapter.</param>
    /// <param name="ct">Cancels the set-up.</param>
    /// <param name="stepsWanted">
    /// False for the status function, which only reads the job store and the bucket: it needs neither
    /// the TPU API nor the SSH launch key, so their settings are not required.
    /// </param>
    /// <param name="warn">Where the step functions report what the operator should see (the function's log).</param>
    public static async Task<Deployment> CreateAsync(IDictionary environment, TimeProvider time, CancellationToken ct, bool stepsWanted = true, Action<string>? warn = null)
    {
        string? Get(string name) => environment[name] as string is { Length: > 0 } value ? value : null;
        string Require(string name) => Get(name) ?? throw new HostConfigurationException($"{name} is not set");

        var deployment = new Deployment();
        var project = Require(ProjectVariable);
        var bucket = Require(BucketVariable);
        var name = Get(DeploymentVariable) ?? DeploymentName.Default;
        if (!DeploymentName.IsValid(name))
        {
            throw new HostConfigurationException($"{DeploymentVariable}='{name}': {DeploymentName.Rule}");
        }

        deployment.Name = name;
        GoogleEndpoints endpoints;
        try
        {
            endpoints = new GoogleEndpoints(Get);
            _ = (endpoints.PubSub, endpoints.Firestore, endpoints.Tpu);
        }
        catch (InvalidOperationException e)
        {
            // An emulator host or TPU API base that is not an address: a setting to fix, not a crash.
            throw new HostConfigurationException(e.Message);
        }

        var bus = new PubSubPublisher(endpoints.PubSub.CreateTransport(deployment.http, time: time), new PubSubClientOptions { Project = project, BaseUri = endpoints.PubSub.BaseUri });
        var tpu = new TpuRestClient(endpoints.Tpu.CreateTransport(deployment.http, time: time), new TpuClientOptions { Project = project, BaseUri = endpoints.Tpu.BaseUri }, time);
        var store = deployment.Store(Get(StateDbVariable), project, Get(FirestoreDatabaseVariable), endpoints, time);
        var objects = await deployment.ObjectsAsync(Get(BucketDirVariable), Get(StorageApiVariable), bucket, time, ct);
        deployment.Status = new StatusPage(store, objects, time, name);
        if (!stepsWanted)
        {
            return deployment;
        }

        var sshUser = Get(SshUserVariable) ?? DefaultSshUser;
        var options = new ControlPlaneOptions
        {
            Project = project,
            Bucket = bucket,
            Deployment = name,
            SshUser = sshUser,
            SshPublicKey = Get(SshPublicKeyVariable),
            NodeServiceAccount = Get(NodeServiceAccountVariable),
            SweepZones = ParseZones(SweepZonesVariable, Get(SweepZonesVariable)),
        };

        IWorkerRunner workers = (Get(WorkersVariable) ?? "ssh") switch
        {
            "local" => new LocalWorkerRunner(new LocalWorkerOptions
            {
                NodesRoot = Require(NodesRootVariable),
                ResolveUri = uri => objects is FolderObjectStore folder && folder.TryResolve(uri, out var path) ? path : uri,
                MetadataUrl = (zone, node) => new Uri(endpoints.Tpu.BaseUri, $"metadata/{zone}/{node}/computeMetadata/v1/").ToString(),
            }),
            "ssh" => new SshWorkerRunner(
                new SshRunnerOptions
                {
                    User = sshUser,
                    KeySource = deployment.KeySource(Get(SshKeyFileVariable), Get(SshKeySecretVariable), project, endpoints),
                    RequirementsCacheUri = BucketLayout.GsUri(bucket, BucketLayout.RequirementsCachePrefix),
                    UvSource = AgentConfig.UvDownload,
                    TimeProvider = time,
                },
                objects),
            var other => throw new HostConfigurationException($"{WorkersVariable}={other}: expected ssh or local"),
        };

        deployment.Options = options;
        deployment.Functions = new SpotJaxFunctions(store, bus, objects, tpu, workers, options, time, warn);
        return deployment;
    }

    /// <summary>
    /// A comma-separated list of zones (blanks around the commas and empty entries ignored, repeats
    /// dropped), each held to the rule of <c>tpu.zone</c> in a job document.
    /// </summary>
    /// <exception cref="HostConfigurationException">An entry is not a zone; the message names <paramref name="variable"/>.</exception>
    public static IReadOnlyList<string> ParseZones(string variable, string? value)
    {
        var zones = (value ?? "").Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
        var wrong = zones.Where(z => !JobDocument.IsZone(z)).ToList();
        if (wrong.Count > 0)
        {
            throw new HostConfigurationException($"{variable}: {string.Join(", ", wrong.Select(z => $"'{z}'"))} {(wrong.Count == 1 ? "is not a zone" : "are not zones")}; {JobDocument.ZoneRule}");
        }

        return zones.Distinct(StringComparer.Ordinal).ToList();
    }

    private IJobStore Store(string? sqlite, string project, string? database, GoogleEndpoints endpoints, TimeProvider time)
    {
        if (sqlite is not null)
        {
            var local = new SqliteJobStore(sqlite, time);
            ownedSync.Add(local);
            return local;
        }

        var options = new FirestoreJobStoreOptions { Project = project, BaseUri = endpoints.Firestore.BaseUri };
        return new FirestoreJobStore(
            endpoints.Firestore.CreateTransport(http, time: time),
            database is null ? options : options with { Database = database },
            time);
    }

    private async Task<IObjectStore> ObjectsAsync(string? folder, string? storageApi, string bucket, TimeProvider time, CancellationToken ct)
    {
        if (folder is not null)
        {
            var local = new FolderObjectStore(folder, bucket, null, time);
            owned.Add(local);
            return local;
        }

        var gcs = await GcsObjectStore.CreateAsync(new GcsObjectStoreOptions { Bucket = bucket, BaseUri = storageApi is null ? null : new Uri(storageApi) }, ct);
        ownedSync.Add(gcs);
        return gcs;
    }

    private ISshKeySource KeySource(string? file, string? secret, string project, GoogleEndpoints endpoints)
    {
        if (file is not null)
        {
            return new FileSshKeySource(file);
        }

        if (secret is null)
        {
            throw new HostConfigurationException($"set {SshKeySecretVariable} (or {SshKeyFileVariable}) for the SSH launch key");
        }

        // Secret Manager takes the same credentials as the TPU API (none when that is a local simulator).
        var tokens = endpoints.Tpu.Tokens;
        return new SecretManagerSshKeySource(http, project, secret, ct => tokens.GetAccessTokenAsync(false, ct));
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var item in owned)
        {
            await item.DisposeAsync();
        }

        foreach (var item in ownedSync)
        {
            item.Dispose();
        }

        http.Dispose();
    }
}
