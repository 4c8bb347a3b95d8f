using System.Globalization;
using SpotJax.Core.Jobs;
using SpotJax.Core.Lifecycle;
using SpotJax.Core.Ports;
using SpotJax.Core.Steps;

namespace SpotJax.Contracts;

/// <summary>
/// Many jobs already RUNNING, as a busy deployment has them: each job document written straight into a
/// job store, and each attempt's queued resource created through the TPU API with the body provision
/// sends (labels included), spread round-robin over the zones. Workers are not started: the sweep
/// compares documents with queued resources and never looks at them. Shared by the sweep's call-count
/// test and the scale benchmark.
/// </summary>
public static class RunningFleet
{
    /// <summary>The zones the fleet is spread over, first ones first.</summary>
    public static readonly IReadOnlyList<string> Zones = ["us-central2-b", "us-east1-d", "europe-west4-a", "us-east5-a", "us-west4-a", "asia-northeast1-b"];

    /// <summary>A RUNNING job at <paramref name="attempt"/> in <paramref name="zone"/>, with a recent checkpoint (not stalled).</summary>
    public static Job Job(string name, string zone, int attempt, string deployment, DateTimeOffset now)
    {
        var spec = JobDocument.Parse(
            $$"""
            name: {{name}}
            tpu: {type: v4-8, zone: {{zone}}}
            code: gs://spotjax-scale/code/train.tar.gz
            script: train.py
            """);
        var submission = $"pubsub:{name}";
        var (queued, _) = JobLifecycle.Submit(JobId.From(name, submission), submission, spec, now);
        var provisioning = JobLifecycle.StartProvisioning(queued, 1, now).Job;
        return provisioning with
        {
            Deployment = deployment,
            State = JobState.Running,
            Attempt = attempt,
            QueuedResourceId = JobLifecycle.QueuedResourceId(provisioning.Id, attempt),
            PreemptionsSpent = attempt - 1,
            Workers = 1,
            PreparedWorkers = [0],
            StartedAt = now,
            AgentsStartedAt = now,
            RunningSince = now,
            LastCheckpointAt = now,
            LastCheckpointStep = 100,
            UpdatedAt = now,
        };
    }

    /// <summary>
    /// Writes <paramref name="count"/> RUNNING jobs named <c>{prefix}-{i}</c> over the first <paramref name="zones"/> of
    /// <see cref="Zones"/> and creates their queued resources, <paramref name="parallelism"/> at a time; returns the jobs.
    /// </summary>
    public static async Task<IReadOnlyList<Job>> SeedAsync(
        IJobStore store, ITpuApi tpu, ControlPlaneOptions options, string prefix, int count, int zones, int attempt, DateTimeOffset now, int parallelism = 8)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(zones, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(zones, Zones.Count);
        var jobs = Enumerable.Range(0, count)
            .Select(i => Job(string.Create(CultureInfo.InvariantCulture, $"{prefix}-{i}"), Zones[i % zones], attempt, options.Deployment, now))
            .ToList();
        await Parallel.ForEachAsync(jobs, new ParallelOptions { MaxDegreeOfParallelism = parallelism }, (job, ct) => new ValueTask(WriteAsync(store, tpu, options, job, ct)));
        return jobs;
    }

    /// <summary>Writes one RUNNING job named <paramref name="name"/> in <paramref name="zone"/> and creates its queued resource; returns the job.</summary>
    public static async Task<Job> SeedOneAsync(IJobStore store, ITpuApi tpu, ControlPlaneOptions options, string name, string zone, DateTimeOffset now)
    {
        var job = Job(name, zone, attempt: 1, options.Deployment, now);
        await WriteAsync(store, tpu, options, job, CancellationToken.None);
        return job;
    }

    private static async Task WriteAsync(IJobStore store, ITpuApi tpu, ControlPlaneOptions options, Job job, CancellationToken ct)
    {
        // Provision's own body, so the labels (job, attempt, deployment) are what the sweep reads in production.
        var provision = new ProvisionFunction(new JobTransitions(store), tpu, new StepPublisher(NoMessages.Instance, options.Topics), options, TimeProvider.System);
        if (await tpu.CreateQueuedResourceAsync(job.Zone!, job.QueuedResourceId!, provision.Body(job), RequestIds.Create(job.Id, job.Attempt, 1), ct) is null)
        {
            throw new InvalidOperationException($"queued resource {job.QueuedResourceId} (or its node) already exists in {job.Zone}");
        }

        if (!await store.TryCreateAsync(job, new HistoryEntry(job.UpdatedAt, null, JobState.Running, job.Attempt, "seeded RUNNING"), ct))
        {
            throw new InvalidOperationException($"job {job.Id} already exists");
        }
    }

    /// <summary>Provision is only asked for its body here: it publishes nothing.</summary>
    private sealed class NoMessages : IMessageBus
    {
        public static readonly NoMessages Instance = new();

        public Task<string> PublishAsync(string topic, OutgoingMessage message, CancellationToken cancellationToken) =>
            throw new InvalidOperationException($"nothing is published while a fleet is seeded ({topic})");
    }
}
