using System.Globalization;
using SpotJax.Core.Jobs;
using SpotJax.Core.Lifecycle;
using SpotJax.Core.Ports;
using SpotJax.Core.Tpu;

namespace SpotJax.Core.Steps;

/// <summary>
/// <c>provision</c>: moves the job to PROVISIONING for the attempt and creates that attempt's Spot
/// queued resource, with a fixed id and a request id per create try, so that a redelivery creates
/// nothing new. A failed create is classified (<see cref="ProvisionFailure"/>): transient errors are
/// retried by redelivery with the same request id; quota, stock-outs and errors inside the create
/// operation make a new try after a backoff; permission and invalid requests fail the job at once.
/// </summary>
public sealed class ProvisionFunction(
    JobTransitions transitions,
    ITpuApi tpu,
    StepPublisher steps,
    ControlPlaneOptions options,
    TimeProvider time) : IPubSubFunction
{
    public const string JobLabel = "spotjax-job";
    public const string AttemptLabel = "spotjax-attempt";

    /// <summary>The label naming the deployment that made a queued resource (<see cref="ControlPlaneOptions.Deployment"/>).</summary>
    public const string DeploymentLabel = "spotjax-deployment";

    public async Task HandleAsync(PubSubMessage message, CancellationToken cancellationToken)
    {
        var step = StepMessage.Parse(message);
        var decision = await transitions.ApplyAsync(step.JobId, job => JobLifecycle.StartProvisioning(job, step.Attempt, time.GetUtcNow()), cancellationToken);
        switch (decision?.Verdict)
        {
            case null or Verdict.Ignore:
                return;
            case Verdict.NotYet:
                throw new TransientException($"job {step.JobId} attempt {step.Attempt}: {decision.Reason}");
        }

        var job = decision.Job;
        var zone = job.Zone!;
        var id = job.QueuedResourceId!;
        // Submission refuses such zones; this catches a deployment whose subnetworks changed since.
        if (options.Network?.Unreachable([zone]) is { } unreachable)
        {
            await steps.RecoverAsync(new StepMessage(job.Id, job.Attempt) { Cause = AttemptEnd.Permanent, Detail = $"no TPU can be created: {unreachable}" }, cancellationToken);
            return;
        }

        var @try = job.ProvisionTry;
        Operation? operation;
        try
        {
            operation = await tpu.CreateQueuedResourceAsync(zone, id, Body(job), RequestIds.Create(job.Id, job.Attempt, @try), cancellationToken);
        }
        catch (GoogleApiException e)
        {
            var failure = ProvisionFailure.Classify(e.Status, e.ApiMessage, e.Reason, CreateFailures.Target(job, options));
            if (failure.Kind == ProvisionFailureKind.Transient && (e.Reason == "RATE_LIMIT_EXCEEDED" || e.Status == "RESOURCE_EXHAUSTED"))
            {
                // A rate quota: nothing was created. The same try once the jittered wait has passed (the sweep asks
                // then), rather than a redelivery on Pub/Sub's schedule, which neither honours the server's wait
                // nor spreads the jobs refused together, and dead-letters after a few refusals.
                var now = time.GetUtcNow();
                await transitions.ApplyAsync(
                    job.Id,
                    j => JobLifecycle.CreateRateLimited(j, job.Attempt, @try, failure.ToString(), e.RetryAfter, options.Lifecycle, now, options.Lifecycle.JitterSample()),
                    cancellationToken);
                return;
            }

            if (failure.Kind == ProvisionFailureKind.Transient)
            {
                // The same try again on redelivery, with the same request id: the create may have been done.
                throw new TransientException($"job {job.Id} attempt {job.Attempt}: create try {@try} in {zone}: {failure}", e);
            }

            await CreateFailures.RecordAsync(transitions, steps, options.Lifecycle, job, @try, failure, time.GetUtcNow(), cancellationToken);
            return;
        }

        if (operation?.Name is { Length: > 0 } name)
        {
            await transitions.ApplyAsync(job.Id, j => JobLifecycle.CreateRequested(j, job.Attempt, @try, name, time.GetUtcNow()), cancellationToken);
        }

        if (operation is { Done: true, Error: { } error })
        {
            // Accepted, then refused inside the operation: this try is spent, the next one needs a new request id.
            var failure = ProvisionFailure.FromStatus(error, CreateFailures.Target(job, options));
            await CreateFailures.RecordAsync(transitions, steps, options.Lifecycle, job, @try, failure, time.GetUtcNow(), cancellationToken);
            return;
        }

        // Capacity is often there at once; otherwise the sweep notices ACTIVE (or the operation's error) later.
        var created = await tpu.GetQueuedResourceAsync(zone, id, cancellationToken);
        if (created?.State?.State == QueuedResourceStates.Active)
        {
            await steps.LaunchAsync(job.Id, job.Attempt, cancellationToken);
        }
    }

    /// <summary>
    /// The node's metadata: <c>autocheckpoint-enabled: "true"</c> as the original tool sets it (Orbax
    /// saves on the maintenance or preemption notice), and <c>ssh-keys</c> in the format of the VM's
    /// guest agent, <c>USER:KEY_TYPE KEY COMMENT</c>, so that <c>launch</c> can log in to every worker
    /// of the new node, when a key is configured; and <c>enable-oslogin</c> when the deployment chose its
    /// SSH login mode (<see cref="ControlPlaneOptions.NodeOsLogin"/>).
    /// </summary>
    private Dictionary<string, string> NodeMetadata()
    {
        var metadata = new Dictionary<string, string> { [AutocheckpointMetadataKey] = "true" };
        if (options.NodeOsLogin is { Length: > 0 } osLogin)
        {
            metadata[OsLoginMetadataKey] = osLogin;
        }

        if (string.IsNullOrWhiteSpace(options.SshUser) || string.IsNullOrWhiteSpace(options.SshPublicKey))
        {
            return metadata;
        }

        var key = options.SshPublicKey.Trim().Split(' ', StringSplitOptions.RemoveEmptyEntries);
        // The comment names the user, as gcloud writes it; the key's own comment is dropped.
        var typeAndKey = string.Join(' ', key.Take(2));
        metadata["ssh-keys"] = $"{options.SshUser}:{typeAndKey} {options.SshUser}";
        return metadata;
    }

    /// <summary>The VM metadata key that turns OS Login on (<c>TRUE</c>) or off for one VM, over the project's value.</summary>
    public const string OsLoginMetadataKey = "enable-oslogin";

    /// <summary>The metadata key that lets the TPU runtime tell Orbax to save before a preemption or maintenance.</summary>
    public const string AutocheckpointMetadataKey = "autocheckpoint-enabled";

    /// <summary>
    /// The Spot queued resource of the job's current attempt: one node named after it, or with several slices one
    /// node spec with <c>multisliceParams</c> and no <c>nodeId</c> (<see cref="SliceNodes"/>).
    /// </summary>
    public QueuedResource Body(Job job)
    {
        var spec = job.Spec!;
        var parent = $"projects/{options.Project}/locations/{job.Zone}";
        return new QueuedResource
        {
            Tpu = new QueuedResourceTpu
            {
                NodeSpec =
                [
                    new NodeSpec
                    {
                        Parent = parent,
                        NodeId = spec.Slices == 1 ? job.QueuedResourceId : null,
                        MultisliceParams = spec.Slices == 1
                            ? null
                            : new MultisliceParams { NodeCount = spec.Slices, NodeIdPrefix = job.QueuedResourceId },
                        Node = new Node
                        {
                            AcceleratorType = spec.Tpu.Type,
                            RuntimeVersion = spec.Tpu.RuntimeVersion ?? TpuDefaults.RuntimeVersion(spec.Tpu.Type),
                            NetworkConfig = new NetworkConfig
                            {
                                Network = options.Network?.Network,
                                Subnetwork = options.Network?.SubnetworkFor(job.Zone!),
                                EnableExternalIps = options.EnableExternalIps,
                            },
                            Tags = options.Network is { Tags.Count: > 0 } network ? network.Tags : null,
                            Labels = new Dictionary<string, string>
                            {
                                [JobLabel] = job.Id,
                                [AttemptLabel] = job.Attempt.ToString(CultureInfo.InvariantCulture),
                                [DeploymentLabel] = options.Deployment,
                            },
                            Metadata = NodeMetadata(),
                            ServiceAccount = string.IsNullOrWhiteSpace(options.NodeServiceAccount)
                                ? null
                                : new NodeServiceAccount { Email = options.NodeServiceAccount.Trim() },
                        },
                    },
                ],
            },
            Spot = new Spot(),
            QueueingPolicy = new QueueingPolicy
            {
                ValidUntilDuration = string.Create(CultureInfo.InvariantCulture, $"{spec.ProvisionTimeoutMinutes * 60}s"),
            },
        };
    }
}
