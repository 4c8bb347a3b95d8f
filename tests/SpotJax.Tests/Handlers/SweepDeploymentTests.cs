using System.Collections.Concurrent;
using SpotJax.Contracts;
using SpotJax.Core;
using SpotJax.Core.Jobs;
using SpotJax.Core.Lifecycle;
using SpotJax.Core.Steps;
using SpotJax.Core.Tpu;

namespace SpotJax.Tests.Handlers;

/// <summary>
/// The sweep of one deployment among others in the same project, on the TPU simulator: it deletes and
/// recovers only queued resources labelled with its own deployment name, and leaves those made before
/// the label alone, saying so once; recover and finish delete a job's queued resource by id only when
/// it is not another deployment's.
/// </summary>
public sealed class SweepDeploymentTests : IAsyncLifetime
{
    private const string Zone = "us-central2-b";
    private const string Other = "production";
    private HandlerHarness h = null!;

    public async Task InitializeAsync() => h = await HandlerHarness.StartAsync();

    public async Task DisposeAsync() => await h.DisposeAsync();

    [Fact]
    public void Provision_Body_LabelsTheNodeWithTheDeployment()
    {
        var labels = Body(Provisioning("labelled"), "staging").Tpu!.NodeSpec[0].Node.Labels!;

        Assert.Equal("staging", labels[ProvisionFunction.DeploymentLabel]);
    }

    [Theory]
    [InlineData("")]
    [InlineData("Staging")]
    [InlineData("1st")]
    [InlineData("prod.eu")]
    [InlineData("a-name-that-is-far-too-long-for-a-label-value-of-sixty-three-chr")]
    public void Options_DeploymentThatIsNotALabelValue_IsRefused(string name)
    {
        var error = Assert.Throws<ArgumentException>(() => h.Options with { Deployment = name });

        Assert.Contains(DeploymentName.Rule, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Sweep_OrphansOfTwoDeployments_DeletesOnlyItsOwn()
    {
        var ours = await CreateAsync(Provisioning("ours"), h.Options.Deployment);
        var theirs = await CreateAsync(Provisioning("theirs"), Other);
        h.Time.Advance(TimeSpan.FromMinutes(3));
        var tpu = new RecordingTpuApi(h.Tpu);

        await h.Sweep(h.Options with { SweepZones = [Zone] }, tpu).HandleAsync(CancellationToken.None);

        Assert.Equal(new[] { $"{Zone}/{ours}" }, tpu.Deleted);
        await Eventually.TrueAsync(async () => await h.Tpu.GetQueuedResourceAsync(Zone, ours, CancellationToken.None) is null);
        Assert.NotNull(await h.Tpu.GetQueuedResourceAsync(Zone, theirs, CancellationToken.None));
    }

    [Fact]
    public async Task Sweep_AnotherDeploymentsResourceWithTheJobsId_IsNeitherLaunchedRecoveredNorDeleted()
    {
        // Two deployments that made the same queued-resource id: ours is provisioning, the other's is ACTIVE.
        var job = await StoredProvisioningAsync("collision");
        var theirs = await CreateAsync(job, Other);
        var tpu = new RecordingTpuApi(h.Tpu);
        var sweep = h.Sweep(h.Options, tpu);

        await sweep.HandleAsync(CancellationToken.None);
        Assert.Empty(await h.TakeAsync(Topics.Default.Launch));

        await h.Simulator.PreemptAsync(Zone, theirs);
        h.Time.Advance(TimeSpan.FromMinutes(3));
        await sweep.HandleAsync(CancellationToken.None);

        Assert.Empty(await h.TakeAsync(Topics.Default.Launch));
        Assert.Empty(await h.TakeAsync(Topics.Default.Recover));
        Assert.Empty(tpu.Deleted);
        Assert.NotNull(await h.Tpu.GetQueuedResourceAsync(Zone, theirs, CancellationToken.None));
    }

    [Fact]
    public async Task Sweep_UnlabelledResourceOfAnOlderVersion_IsLeftAloneAndReportedOnceOverTwoSweeps()
    {
        var legacy = await CreateAsync(Provisioning("legacy"), deployment: null);
        h.Time.Advance(TimeSpan.FromMinutes(3));
        var tpu = new RecordingTpuApi(h.Tpu);
        var warnings = new ConcurrentQueue<string>();
        var sweep = h.Sweep(h.Options with { SweepZones = [Zone] }, tpu, warnings.Enqueue);

        await sweep.HandleAsync(CancellationToken.None);
        h.Time.Advance(TimeSpan.FromMinutes(1));
        await sweep.HandleAsync(CancellationToken.None);

        var warning = Assert.Single(warnings);
        Assert.Contains($"queued resource {legacy} in {Zone}", warning, StringComparison.Ordinal);
        Assert.Contains(ProvisionFunction.DeploymentLabel, warning, StringComparison.Ordinal);
        Assert.Empty(tpu.Deleted);
        Assert.NotNull(await h.Tpu.GetQueuedResourceAsync(Zone, legacy, CancellationToken.None));
    }

    [Fact]
    public async Task Sweep_UnlabelledResourceOfItsOwnProvisioningJob_IsLaunchedWithoutAReport()
    {
        // A job provisioned by the version before the label, swept by this one after an upgrade.
        var job = await StoredProvisioningAsync("upgraded");
        await CreateAsync(job, deployment: null);
        var warnings = new ConcurrentQueue<string>();

        await h.Sweep(h.Options, warn: warnings.Enqueue).HandleAsync(CancellationToken.None);

        Assert.Contains(await h.TakeAsync(Topics.Default.Launch), l => l.JobId == job.Id && l.Attempt == 1);
        Assert.Empty(warnings);
    }

    [Fact]
    public async Task Recover_AnotherDeploymentsResourceWithTheJobsId_IsLeftAloneAndReported()
    {
        var job = await StoredProvisioningAsync("recover-theirs");
        var theirs = await CreateAsync(job, Other);
        var tpu = new RecordingTpuApi(h.Tpu);
        var warnings = new ConcurrentQueue<string>();
        var recover = new RecoverFunction(new JobTransitions(h.Store), tpu, new StepPublisher(h.Bus, h.Options.Topics), h.Options, h.Time, warnings.Enqueue);

        await recover.HandleAsync(h.Step(job.Id, 1, AttemptEnd.Preempted, "preempted"), CancellationToken.None);
        await recover.HandleAsync(h.Step(job.Id, 1, AttemptEnd.Preempted, "preempted"), CancellationToken.None);

        Assert.Empty(tpu.Deleted);
        Assert.NotNull(await h.Tpu.GetQueuedResourceAsync(Zone, theirs, CancellationToken.None));
        Assert.All(warnings, w => Assert.Contains($"queued resource {theirs} in {Zone} is labelled {ProvisionFunction.DeploymentLabel}={Other}", w, StringComparison.Ordinal));
        Assert.NotEmpty(warnings);
        // The attempt still ends and the next one is asked for: only the delete is skipped.
        Assert.Equal(JobState.Recovering, (await h.JobAsync(job.Id)).State);
        Assert.Contains(await h.TakeAsync(Topics.Default.Provision), p => p.JobId == job.Id && p.Attempt == 2);
    }

    [Fact]
    public async Task Recover_UnlabelledResourceOfAnOlderVersionOfThisDeployment_IsDeleted()
    {
        var job = await StoredProvisioningAsync("recover-legacy");
        var legacy = await CreateAsync(job, deployment: null);
        var tpu = new RecordingTpuApi(h.Tpu);
        var recover = new RecoverFunction(new JobTransitions(h.Store), tpu, new StepPublisher(h.Bus, h.Options.Topics), h.Options, h.Time);

        await recover.HandleAsync(h.Step(job.Id, 1, AttemptEnd.Preempted, "preempted"), CancellationToken.None);

        Assert.Equal(new[] { $"{Zone}/{legacy}" }, tpu.Deleted);
        await Eventually.TrueAsync(async () => await h.Tpu.GetQueuedResourceAsync(Zone, legacy, CancellationToken.None) is null);
    }

    [Fact]
    public async Task Finish_CancelWhileAnotherDeploymentsResourceHasTheJobsId_CancelsWithoutDeletingIt()
    {
        var job = await StoredProvisioningAsync("finish-theirs");
        var theirs = await CreateAsync(job, Other);
        await new JobTransitions(h.Store).ApplyAsync(job.Id, j => JobLifecycle.RequestCancel(j, h.Time.GetUtcNow()), CancellationToken.None);
        var tpu = new RecordingTpuApi(h.Tpu);
        var warnings = new ConcurrentQueue<string>();
        var finish = new FinishFunction(h.Store, new JobTransitions(h.Store), tpu, h.Options, h.Time, warnings.Enqueue);

        await finish.HandleAsync(h.Step(job.Id, 1), CancellationToken.None);

        Assert.Empty(tpu.Deleted);
        Assert.NotNull(await h.Tpu.GetQueuedResourceAsync(Zone, theirs, CancellationToken.None));
        Assert.Contains($"{ProvisionFunction.DeploymentLabel}={Other}", Assert.Single(warnings), StringComparison.Ordinal);
        Assert.Equal(JobState.Cancelled, (await h.JobAsync(job.Id)).State);
    }

    [Fact]
    public async Task Finish_OwnLabelledResource_IsDeletedWithoutAReport()
    {
        var job = await StoredProvisioningAsync("finish-ours");
        var ours = await CreateAsync(job, h.Options.Deployment);
        await new JobTransitions(h.Store).ApplyAsync(job.Id, j => JobLifecycle.RequestCancel(j, h.Time.GetUtcNow()), CancellationToken.None);
        var tpu = new RecordingTpuApi(h.Tpu);
        var warnings = new ConcurrentQueue<string>();

        await new FinishFunction(h.Store, new JobTransitions(h.Store), tpu, h.Options, h.Time, warnings.Enqueue).HandleAsync(h.Step(job.Id, 1), CancellationToken.None);

        Assert.Equal(new[] { $"{Zone}/{ours}" }, tpu.Deleted);
        Assert.Empty(warnings);
        Assert.Equal(JobState.Cancelled, (await h.JobAsync(job.Id)).State);
    }

    /// <summary>Attempt 1 of a job in PROVISIONING, not in any store.</summary>
    private Job Provisioning(string name)
    {
        var spec = JobDocument.Parse(HandlerHarness.JobYaml(h.Code("print('hi')\n")).Replace("handler test", name, StringComparison.Ordinal), new JobDocumentOptions { AllowLocalCode = true });
        var (queued, _) = JobLifecycle.Submit(JobId.From(name, $"client:{name}"), $"client:{name}", spec, h.Time.GetUtcNow());
        return JobLifecycle.StartProvisioning(queued, 1, h.Time.GetUtcNow()).Job;
    }

    /// <summary>Attempt 1 of a job of this deployment's store in PROVISIONING, its queued resource not created.</summary>
    private async Task<Job> StoredProvisioningAsync(string name)
    {
        var job = await h.SubmitAsync(HandlerHarness.JobYaml(h.Code("print('hi')\n")).Replace("handler test", name, StringComparison.Ordinal), name);
        await h.TakeAsync(Topics.Default.Provision);
        var started = await new JobTransitions(h.Store).ApplyAsync(job.Id, j => JobLifecycle.StartProvisioning(j, 1, h.Time.GetUtcNow()), CancellationToken.None);
        return started!.Job;
    }

    /// <summary>The provision body of <paramref name="job"/> as deployment <paramref name="deployment"/> makes it.</summary>
    private QueuedResource Body(Job job, string deployment) =>
        new ProvisionFunction(new JobTransitions(h.Store), h.Tpu, new StepPublisher(h.Bus, h.Options.Topics), h.Options with { Deployment = deployment }, h.Time).Body(job);

    /// <summary>
    /// Creates the job's queued resource as deployment <paramref name="deployment"/> would, or, for null,
    /// as a SpotJax older than the deployment label did; returns its id.
    /// </summary>
    private async Task<string> CreateAsync(Job job, string? deployment)
    {
        var body = Body(job, deployment ?? h.Options.Deployment);
        if (deployment is null)
        {
            var spec = body.Tpu!.NodeSpec[0];
            var labels = spec.Node.Labels!.Where(l => l.Key != ProvisionFunction.DeploymentLabel).ToDictionary();
            body = body with { Tpu = body.Tpu with { NodeSpec = [spec with { Node = spec.Node with { Labels = labels } }] } };
        }

        await h.Tpu.CreateQueuedResourceAsync(Zone, job.QueuedResourceId!, body, $"create-{job.QueuedResourceId}", CancellationToken.None);
        return job.QueuedResourceId!;
    }
}
