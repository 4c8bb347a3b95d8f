using SpotJax.Core.Cost;
using SpotJax.Core.Lifecycle;
using SpotJax.Core.Tpu;

namespace SpotJax.Core.Steps;

/// <summary>What every function needs to know about its deployment.</summary>
public sealed record ControlPlaneOptions
{
    /// <summary>The Google Cloud project that owns the TPUs.</summary>
    public required string Project { get; init; }

    /// <summary>The control bucket (manifests, code, checkpoints, logs, markers).</summary>
    public required string Bucket { get; init; }

    /// <summary>
    /// This deployment's name (<see cref="DeploymentName.Rule"/>): the value of the
    /// <see cref="ProvisionFunction.DeploymentLabel"/> label on every queued resource it creates. The
    /// sweep lists, recovers and deletes only queued resources that carry it, so that deployments
    /// sharing a project never touch each other's TPUs.
    /// </summary>
    /// <exception cref="ArgumentException">Set to a value that is not a deployment name.</exception>
    public string Deployment
    {
        get;
        init => field = DeploymentName.Check(value);
    } = DeploymentName.Default;

    /// <summary>
    /// This deployment's topics, named from its <see cref="NamePrefix"/> (<c>SPOTJAX_NAME_PREFIX</c>): the
    /// step functions publish to these and no others, so two deployments in one project never take each
    /// other's steps.
    /// </summary>
    public Topics Topics { get; init; } = Topics.Default;

    public LifecycleOptions Lifecycle { get; init; } = new();

    /// <summary>Local mode accepts local code paths in job documents.</summary>
    public bool AllowLocalCode { get; init; }

    /// <summary>The port of the JAX coordinator on worker 0 of a multi-host slice.</summary>
    public int CoordinatorPort { get; init; } = 8476;

    /// <summary>The user <c>launch</c> logs in as on the TPU VMs; with <see cref="SshPublicKey"/>, provisioning authorizes it.</summary>
    public string? SshUser { get; init; }

    /// <summary>
    /// The public half of the key <c>launch</c> uses (<c>ssh-ed25519 AAAA...</c>), put into each node's
    /// <c>ssh-keys</c> metadata so that no manual step is needed on a new TPU VM.
    /// </summary>
    public string? SshPublicKey { get; init; }

    /// <summary>
    /// The nodes' own <c>enable-oslogin</c> metadata value (<c>TRUE</c> or <c>FALSE</c>), which overrides the
    /// project's: set when the deployment chose its SSH login mode instead of following the project's;
    /// null leaves it to the project and the organisation.
    /// </summary>
    public string? NodeOsLogin { get; init; }

    /// <summary>
    /// The service account the TPU VMs run as (<c>node.serviceAccount</c>, scope <c>cloud-platform</c>): the
    /// node agent and the training script reach the control bucket with its tokens. Null leaves the
    /// TPU API's default (the Compute Engine default service account).
    /// </summary>
    public string? NodeServiceAccount { get; init; }

    /// <summary>
    /// Zones the sweep lists every run, besides the zones of the active jobs' specs, so that a queued
    /// resource left behind in a zone no active job uses is still found and deleted. Each one has the
    /// shape <see cref="Jobs.JobDocument.IsZone"/> accepts.
    /// </summary>
    public IReadOnlyList<string> SweepZones { get; init; } = [];

    /// <summary>
    /// The private network of the TPU VMs: provisioning sets <c>networkConfig.network</c>, the subnetwork of
    /// the job zone's region and the firewall's network tags. Null (local mode) leaves the network unset.
    /// </summary>
    public TpuNetwork? Network { get; init; }

    /// <summary>
    /// <c>networkConfig.enableExternalIps</c>: false (the default) gives the TPU VMs internal addresses only,
    /// which the subnetwork's Private Google Access and Cloud NAT make enough.
    /// </summary>
    public bool EnableExternalIps { get; init; }

    /// <summary>The price table job costs are counted with (<see cref="JobCost"/>); the one embedded in SpotJax.Core unless a test sets another.</summary>
    public TpuPrices Prices { get; init; } = TpuPrices.Default;
}
