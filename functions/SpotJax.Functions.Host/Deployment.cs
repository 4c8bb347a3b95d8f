using System.Collections;
using System.Globalization;
using SpotJax.Core;
using SpotJax.Core.Agent;
using SpotJax.Core.Jobs;
using SpotJax.Core.Ports;
using SpotJax.Core.Steps;
using SpotJax.Core.Tpu;
using SpotJax.Functions.Status;
using SpotJax.Google;
using SpotJax.Google.Firestore;
using SpotJax.Google.OsLogin;
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

    /// <summary>The deployment's webhook (<c>notify</c> only): <see cref="NotifyOptions.WebhookUrlVariable"/>.</summary>
    public const string WebhookUrlVariable = NotifyOptions.WebhookUrlVariable;

    /// <summary>The format of <see cref="WebhookUrlVariable"/>: <see cref="NotifyOptions.WebhookFormatVariable"/>.</summary>
    public const string WebhookFormatVariable = NotifyOptions.WebhookFormatVariable;

    /// <summary>
    /// The VPC network of the TPU VMs, <c>projects/P/global/networks/N</c> (P may be a Shared VPC host
    /// project). Unset leaves <c>networkConfig.network</c> out, so the TPU API uses the network "default".
    /// </summary>
    public const string TpuNetworkVariable = "SPOTJAX_TPU_NETWORK";

    /// <summary>
    /// Comma-separated <c>REGION=projects/P/regions/REGION/subnetworks/S</c>, the subnetwork of each region TPUs
    /// may be created in (with <see cref="TpuNetworkVariable"/>); a job naming a zone elsewhere is rejected.
    /// </summary>
    public const string TpuSubnetworksVariable = "SPOTJAX_TPU_SUBNETWORKS";

    /// <summary>Comma-separated network tags put on the TPU VMs, the targets of the SSH firewall rule.</summary>
    public const string TpuNetworkTagsVariable = "SPOTJAX_TPU_NETWORK_TAGS";

    /// <summary><c>true</c> gives the TPU VMs external addresses (<c>networkConfig.enableExternalIps</c>); unset or <c>false</c> does not.</summary>
    public const string TpuExternalIpsVariable = "SPOTJAX_TPU_EXTERNAL_IPS";

    /// <summary>
    /// How <c>launch</c> logs in: <c>auto</c> (the default: OS Login where the organisation policy
    /// <c>compute.requireOsLogin</c> or the project metadata <c>enable-oslogin</c> turns it on, metadata keys
    /// elsewhere), <c>oslogin</c> or <c>metadata</c>.
    /// </summary>
    public const string SshLoginVariable = "SPOTJAX_SSH_LOGIN";

    /// <summary>The email of launch's own service account: the OS Login user its key is imported for.</summary>
    public const string LaunchServiceAccountVariable = "SPOTJAX_LAUNCH_SERVICE_ACCOUNT";

    /// <summary>Minutes an imported OS Login key stays valid (default 30); it is imported again with 10 minutes left.</summary>
    public const string OsLoginKeyTtlVariable = "SPOTJAX_OSLOGIN_KEY_TTL_MINUTES";

    /// <summary>
    /// Divides every lifecycle wait (<see cref="Core.Lifecycle.LifecycleOptions.DividedBy"/>) by this whole number, for a
    /// deployment on one machine (tests, the chaos run) where a 30 s backoff or a 6-minute launch lease is long; never
    /// set on Google Cloud, where the waits match Cloud Run's and Pub/Sub's own timings.
    /// </summary>
    public const string LifecycleScaleVariable = "SPOTJAX_LIFECYCLE_SCALE";

    public const string DefaultSshUser = "spotjax";

    /// <summary>
    /// This deployment's name (<see cref="ControlPlaneOptions.Deployment"/>), the <c>spotjax-deployment</c> label of
    /// its queued resources; <see cref="DeploymentName.Default"/> when unset.
    /// </summary>
    public const string DeploymentVariable = "SPOTJAX_DEPLOYMENT";

    /// <summary>
    /// The prefix of this deployment's resource names (<see cref="NamePrefix"/>, Terraform's <c>name_prefix</c>): the
    /// step functions publish to <c>PREFIX-provision</c>, <c>PREFIX-launch</c>, ...; <see cref="NamePrefix.Default"/> when unset.
    /// </summary>
    public const string NamePrefixVariable = "SPOTJAX_NAME_PREFIX";

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
        var prefix = Get(NamePrefixVariable) ?? NamePrefix.Default;
        if (!NamePrefix.IsValid(prefix))
        {
            throw new HostConfigurationException($"{NamePrefixVariable}='{prefix}': {NamePrefix.Rule}");
        }

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
        SshLoginSetting sshLogin;
        try
        {
            sshLogin = SshLoginMode.ParseSetting(Get(SshLoginVariable));
        }
        catch (ArgumentException e)
        {
            throw new HostConfigurationException($"{SshLoginVariable}: {e.Message}");
        }

        var options = new ControlPlaneOptions
        {
            Project = project,
            Bucket = bucket,
            Deployment = name,
            Topics = new Topics(prefix),
            SshUser = sshUser,
            SshPublicKey = Get(SshPublicKeyVariable),
            NodeOsLogin = sshLogin switch { SshLoginSetting.OsLogin => "TRUE", SshLoginSetting.Metadata => "FALSE", _ => null },
            NodeServiceAccount = Get(NodeServiceAccountVariable),
            SweepZones = ParseZones(SweepZonesVariable, Get(SweepZonesVariable)),
            Network = ParseNetwork(Get(TpuNetworkVariable), Get(TpuSubnetworksVariable), Get(TpuNetworkTagsVariable)),
            EnableExternalIps = ParseFlag(TpuExternalIpsVariable, Get(TpuExternalIpsVariable)),
            Lifecycle = new Core.Lifecycle.LifecycleOptions().DividedBy(ParseScale(Get(LifecycleScaleVariable))),
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
                    LoginUser = deployment.LaunchLogin(sshLogin, sshUser, project, Get, endpoints, time).UserAsync,
                    KeySource = deployment.KeySource(Get(SshKeyFileVariable), Get(SshKeySecretVariable), project, endpoints),
                    RequirementsCacheUri = BucketLayout.GsUri(bucket, BucketLayout.RequirementsCachePrefix),
                    UvSource = AgentConfig.UvDownload,
                    TimeProvider = time,
                },
                objects),
            var other => throw new HostConfigurationException($"{WorkersVariable}={other}: expected ssh or local"),
        };

        NotifyOptions notify;
        try
        {
            notify = NotifyOptions.FromEnvironment(Get);
        }
        catch (ArgumentException e)
        {
            throw new HostConfigurationException(e.Message);
        }

        deployment.Options = options;
        deployment.Functions = new SpotJaxFunctions(store, bus, objects, tpu, workers, options, time, warn, notify);
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

    /// <summary>The TPU network settings; null when no network is set (local mode, or the project's "default").</summary>
    /// <exception cref="HostConfigurationException">A name is malformed, or subnetworks or tags are set without a network.</exception>
    public static TpuNetwork? ParseNetwork(string? network, string? subnetworks, string? tags)
    {
        if (string.IsNullOrWhiteSpace(network))
        {
            return string.IsNullOrWhiteSpace(subnetworks) && string.IsNullOrWhiteSpace(tags)
                ? null
                : throw new HostConfigurationException($"{TpuSubnetworksVariable} and {TpuNetworkTagsVariable} need {TpuNetworkVariable}");
        }

        try
        {
            return TpuNetwork.Parse(network, subnetworks, tags);
        }
        catch (FormatException e)
        {
            throw new HostConfigurationException($"{TpuNetworkVariable}/{TpuSubnetworksVariable}/{TpuNetworkTagsVariable}: {e.Message}");
        }
    }

    /// <summary>A whole number from 1 to 3600; unset is 1.</summary>
    /// <exception cref="HostConfigurationException">Anything else; the message names <see cref="LifecycleScaleVariable"/>.</exception>
    public static int ParseScale(string? value) =>
        value is null ? 1
        : int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var scale) && scale is >= 1 and <= 3600 ? scale
        : throw new HostConfigurationException($"{LifecycleScaleVariable}='{value}': expected a whole number from 1 to 3600");

    /// <summary><c>true</c> or <c>false</c> (any case); unset is false.</summary>
    /// <exception cref="HostConfigurationException">Anything else; the message names <paramref name="variable"/>.</exception>
    public static bool ParseFlag(string variable, string? value) => value?.Trim().ToLowerInvariant() switch
    {
        null or "" or "false" => false,
        "true" => true,
        _ => throw new HostConfigurationException($"{variable}={value}: expected true or false"),
    };

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

    /// <summary>
    /// The login of <c>launch</c> (<see cref="SshLoginVariable"/>). OS Login, Compute Engine and Org Policy
    /// take the TPU API's credentials; with a local TPU API stand-in, <c>auto</c> means metadata keys and
    /// OS Login goes to the stand-in, which answers all three.
    /// </summary>
    private LaunchLogin LaunchLogin(SshLoginSetting setting, string sshUser, string project, Func<string, string?> get, GoogleEndpoints endpoints, TimeProvider time)
    {
        if (setting == SshLoginSetting.OsLogin && (get(LaunchServiceAccountVariable) is null || get(SshPublicKeyVariable) is null))
        {
            throw new HostConfigurationException($"{SshLoginVariable}=oslogin needs {LaunchServiceAccountVariable} (launch's service account email) and {SshPublicKeyVariable}");
        }

        var ttl = TimeSpan.FromMinutes(30);
        if (get(OsLoginKeyTtlVariable) is { } ttlText)
        {
            // Longer than the 10 minutes left at which the key is imported again; at most a day.
            if (!int.TryParse(ttlText, NumberStyles.None, CultureInfo.InvariantCulture, out var minutes) || minutes is < 11 or > 24 * 60)
            {
                throw new HostConfigurationException($"{OsLoginKeyTtlVariable}='{ttlText}': expected whole minutes from 11 to 1440");
            }

            ttl = TimeSpan.FromMinutes(minutes);
        }

        var tpu = endpoints.Tpu;
        var transport = tpu.CreateTransport(http, time: time);
        var local = tpu.IsLocal ? tpu.BaseUri : null;
        var detector = new SshLoginDetector(transport, project, local, local);
        var login = new LaunchLogin(
            detector,
            tpu.IsLocal && setting == SshLoginSetting.Auto ? SshLoginSetting.Metadata : setting,
            () => new OsLoginSession(
                new OsLoginClient(transport, project, local),
                new OsLoginSessionOptions
                {
                    User = get(LaunchServiceAccountVariable) ?? throw new InvalidOperationException($"OS Login is on for project {project}, but {LaunchServiceAccountVariable} is not set: set it to launch's service account email"),
                    PublicKey = get(SshPublicKeyVariable) ?? throw new InvalidOperationException($"OS Login is on for project {project}, but {SshPublicKeyVariable} is not set"),
                    KeyTtl = ttl,
                },
                time),
            sshUser);
        ownedSync.Add(login);
        return login;
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
