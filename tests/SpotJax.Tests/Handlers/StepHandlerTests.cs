using System.Text;
using SpotJax.Contracts;
using SpotJax.Core.Jobs;
using SpotJax.Core.Lifecycle;
using SpotJax.Core.Ports;
using SpotJax.Core.Steps;
using SpotJax.Core;

namespace SpotJax.Tests.Handlers;

/// <summary>Every step handler delivered twice, late and out of order, over the real local parts.</summary>
public sealed class StepHandlerTests : IAsyncLifetime
{
    private const string Forever = "import time\nwhile True:\n    time.sleep(0.1)\n";
    private HandlerHarness h = null!;

    public async Task InitializeAsync() => h = await HandlerHarness.StartAsync();

    public async Task DisposeAsync() => await h.DisposeAsync();

    [Fact]
    public async Task Submit_SameMessageTwice_CreatesOneJobAndAsksForAttemptOne()
    {
        var yaml = HandlerHarness.JobYaml(h.Code(Forever));
        var message = h.Message(Encoding.UTF8.GetBytes(yaml));

        await h.Functions.Submit.HandleAsync(message, CancellationToken.None);
        await h.Functions.Submit.HandleAsync(message, CancellationToken.None);

        var jobs = await h.Store.ListRecentAsync(10, CancellationToken.None);
        var job = Assert.Single(jobs);
        Assert.Equal(JobState.Queued, job.State);
        Assert.Equal(JobId.From("handler test", $"pubsub:{message.MessageId}"), job.Id);
        Assert.Single(await h.HistoryAsync(job.Id));
        Assert.All(await h.TakeAsync(Topics.Default.Provision), step => Assert.Equal((job.Id, 1), (step.JobId, step.Attempt)));
    }

    [Fact]
    public async Task Submit_TwoDifferentMessagesWithSameDocument_CreatesTwoJobs()
    {
        var yaml = HandlerHarness.JobYaml(h.Code(Forever));
        var first = await h.SubmitAsync(yaml, "a");
        var second = await h.SubmitAsync(yaml, "b");

        Assert.NotEqual(first.Id, second.Id);
    }

    [Theory]
    [InlineData("tpu.type", "name: x\ntpu: {type: v9-8, zone: us-central2-b}\ncode: gs://b/c.tgz\nscript: t.py\n")]
    [InlineData("script", "name: x\ntpu: {type: v4-8, zone: us-central2-b}\ncode: gs://b/c.tgz\nscript: ../../etc/passwd\n")]
    [InlineData("env", "name: x\ntpu: {type: v4-8, zone: us-central2-b}\ncode: gs://b/c.tgz\nscript: t.py\nenv: {SPOT_JOB_ID: mine}\n")]
    [InlineData("document", "{not json")]
    public async Task Submit_InvalidDocument_IsRecordedRejectedNamingTheField(string field, string document)
    {
        var message = h.Message(Encoding.UTF8.GetBytes(document));

        await h.Functions.Submit.HandleAsync(message, CancellationToken.None);
        await h.Functions.Submit.HandleAsync(message, CancellationToken.None);

        var job = Assert.Single(await h.Store.ListRecentAsync(10, CancellationToken.None));
        Assert.Equal(JobState.Rejected, job.State);
        Assert.Contains(field, job.LastError, StringComparison.Ordinal);
        Assert.Empty(await h.TakeAsync(Topics.Default.Provision));
    }

    [Fact]
    public async Task Provision_Twice_CreatesOneQueuedResourceAndOneTransition()
    {
        var job = await h.SubmitAsync(HandlerHarness.JobYaml(h.Code(Forever)));

        await h.Functions.Provision.HandleAsync(h.Step(job.Id, 1), CancellationToken.None);
        await h.Functions.Provision.HandleAsync(h.Step(job.Id, 1), CancellationToken.None);

        job = await h.JobAsync(job.Id);
        Assert.Equal((JobState.Provisioning, 1, $"{job.Id}-1"), (job.State, job.Attempt, job.QueuedResourceId));
        var listed = await h.Tpu.ListQueuedResourcesAsync("us-central2-b", CancellationToken.None);
        var queued = Assert.Single(listed);
        Assert.Equal($"{job.Id}-1", queued.Id);
        Assert.NotNull(queued.Spot);
        Assert.Equal(job.Id, queued.NodeLabels[ProvisionFunction.JobLabel]);
        Assert.Single(await h.HistoryAsync(job.Id), e => e.To == JobState.Provisioning);
        Assert.NotEmpty(await h.TakeAsync(Topics.Default.Launch));
    }

    [Fact]
    public async Task ProvisionBody_WithSshUserAndKey_AuthorizesTheKeyInNodeMetadata()
    {
        var job = await h.SubmitAsync(HandlerHarness.JobYaml(h.Code(Forever)));
        await h.Functions.Provision.HandleAsync(h.Step(job.Id, 1), CancellationToken.None);
        job = await h.JobAsync(job.Id);
        var options = h.Options with { SshUser = "spotjax", SshPublicKey = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGx9 someone@laptop\n" };

        var body = new ProvisionFunction(null!, h.Tpu, null!, options, TimeProvider.System).Body(job);

        Assert.Equal("spotjax:ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGx9 spotjax", body.Tpu!.NodeSpec[0].Node.Metadata!["ssh-keys"]);
        Assert.Equal("true", body.Tpu!.NodeSpec[0].Node.Metadata!["autocheckpoint-enabled"]);
    }

    [Theory]
    [InlineData(null)]
    [InlineData("TRUE")]
    [InlineData("FALSE")]
    public async Task ProvisionBody_NodeOsLogin_IsTheNodesEnableOsLoginAndAbsentWhenTheProjectDecides(string? nodeOsLogin)
    {
        var job = await h.SubmitAsync(HandlerHarness.JobYaml(h.Code(Forever)));
        await h.Functions.Provision.HandleAsync(h.Step(job.Id, 1), CancellationToken.None);
        job = await h.JobAsync(job.Id);
        var options = h.Options with { NodeOsLogin = nodeOsLogin };

        var metadata = new ProvisionFunction(null!, h.Tpu, null!, options, TimeProvider.System).Body(job).Tpu!.NodeSpec[0].Node.Metadata!;

        Assert.Equal(nodeOsLogin, metadata.GetValueOrDefault(ProvisionFunction.OsLoginMetadataKey));
    }

    [Fact]
    public async Task ProvisionBody_WithoutSshKey_SetsAutocheckpointLikeTheOriginalTool()
    {
        var job = await h.SubmitAsync(HandlerHarness.JobYaml(h.Code(Forever)));
        await h.Functions.Provision.HandleAsync(h.Step(job.Id, 1), CancellationToken.None);
        job = await h.JobAsync(job.Id);

        var metadata = h.Functions.Provision.Body(job).Tpu!.NodeSpec[0].Node.Metadata;

        Assert.Equal(new Dictionary<string, string> { ["autocheckpoint-enabled"] = "true" }, metadata);
    }

    [Fact]
    public async Task Provision_ForAFutureAttempt_IsIgnored()
    {
        var job = await h.SubmitAsync(HandlerHarness.JobYaml(h.Code(Forever)));

        await h.Functions.Provision.HandleAsync(h.Step(job.Id, 3), CancellationToken.None);

        Assert.Equal(JobState.Queued, (await h.JobAsync(job.Id)).State);
        Assert.Empty(await h.Tpu.ListQueuedResourcesAsync("us-central2-b", CancellationToken.None));
    }

    [Fact]
    public async Task Launch_Twice_StartsTheScriptOnceAndRuns()
    {
        var code = h.Code("import time\nwith open('starts.txt', 'a') as f:\n    f.write('x')\nwhile True:\n    time.sleep(0.1)\n");
        var job = await h.SubmitAsync(HandlerHarness.JobYaml(code));
        await h.Functions.Provision.HandleAsync(h.Step(job.Id, 1), CancellationToken.None);

        await h.Functions.Launch.HandleAsync(h.Step(job.Id, 1), CancellationToken.None);
        await h.Functions.Launch.HandleAsync(h.Step(job.Id, 1), CancellationToken.None);

        Assert.Equal(JobState.Launching, (await h.JobAsync(job.Id)).State);
        job = await h.PreparedAsync(job.Id);
        Assert.Equal((JobState.Running, 1), (job.State, job.Workers));
        var starts = Path.Combine(h.Simulator.NodeDirectory("us-central2-b", $"{job.Id}-1"), "worker-0", "code", "starts.txt");
        await Eventually.TrueAsync(() => File.Exists(starts));
        Assert.Equal("x", await File.ReadAllTextAsync(starts));
        var history = await h.HistoryAsync(job.Id);
        Assert.Single(history, e => e.To == JobState.Launching);
        Assert.Single(history, e => e.To == JobState.Running);
    }

    [Fact]
    public async Task Launch_BeforeProvisioning_IsIgnored()
    {
        var job = await h.SubmitAsync(HandlerHarness.JobYaml(h.Code(Forever)));

        await h.Functions.Launch.HandleAsync(h.Step(job.Id, 1), CancellationToken.None);

        Assert.Equal(JobState.Queued, (await h.JobAsync(job.Id)).State);
    }

    [Fact]
    public async Task Recover_Twice_SpendsOnceDeletesTheResourceAndAsksForTheNextAttempt()
    {
        var job = await h.RunAsync(await h.SubmitAsync(HandlerHarness.JobYaml(h.Code(Forever))));
        await h.TakeAsync(Topics.Default.Provision);

        await h.Functions.Recover.HandleAsync(h.Step(job.Id, 1, AttemptEnd.Preempted, "notice"), CancellationToken.None);
        await h.Functions.Recover.HandleAsync(h.Step(job.Id, 1, AttemptEnd.Preempted, "notice"), CancellationToken.None);

        job = await h.JobAsync(job.Id);
        Assert.Equal((JobState.Recovering, 1, 0), (job.State, job.PreemptionsSpent, job.FailuresSpent));
        Assert.Single(await h.HistoryAsync(job.Id), e => e.To == JobState.Recovering);
        await Eventually.TrueAsync(async () => await h.Tpu.GetQueuedResourceAsync("us-central2-b", $"{job.Id}-1", CancellationToken.None) is null);
        Assert.All(await h.TakeAsync(Topics.Default.Provision), step => Assert.Equal(2, step.Attempt));
    }

    [Fact]
    public async Task NextAttempt_BeforeBackoff_IsRetriedLaterThenProvisionsAttemptTwo()
    {
        var job = await h.RunAsync(await h.SubmitAsync(HandlerHarness.JobYaml(h.Code(Forever))));
        await h.Functions.Recover.HandleAsync(h.Step(job.Id, 1, AttemptEnd.Preempted), CancellationToken.None);

        await Assert.ThrowsAsync<TransientException>(() => h.Functions.Provision.HandleAsync(h.Step(job.Id, 2), CancellationToken.None));

        h.Time.Advance(h.Options.Lifecycle.BackoffBase);
        await h.Functions.Provision.HandleAsync(h.Step(job.Id, 2), CancellationToken.None);
        job = await h.JobAsync(job.Id);
        Assert.Equal((JobState.Provisioning, 2, $"{job.Id}-2"), (job.State, job.Attempt, job.QueuedResourceId));
    }

    [Fact]
    public async Task LateMessagesOfAttemptOne_AfterAttemptTwoRuns_ChangeNothing()
    {
        var job = await h.RunAsync(await h.SubmitAsync(HandlerHarness.JobYaml(h.Code(Forever))));
        await h.Functions.Recover.HandleAsync(h.Step(job.Id, 1, AttemptEnd.Preempted), CancellationToken.None);
        h.Time.Advance(TimeSpan.FromMinutes(5));
        job = await h.RunAsync(await h.JobAsync(job.Id));
        Assert.Equal((JobState.Running, 2), (job.State, job.Attempt));
        var before = (await h.HistoryAsync(job.Id)).Count;

        await h.Functions.Provision.HandleAsync(h.Step(job.Id, 1), CancellationToken.None);
        await h.Functions.Launch.HandleAsync(h.Step(job.Id, 1), CancellationToken.None);
        await h.Functions.Recover.HandleAsync(h.Step(job.Id, 1, AttemptEnd.Failed, "late", 1), CancellationToken.None);
        await h.Objects.PutAsync(BucketLayout.Marker(job.Id, 1, 0, MarkerKind.Exited), Encoding.UTF8.GetBytes("{\"exitCode\":0,\"preemptionNotice\":false}"), CancellationToken.None);
        await h.Functions.BucketEvents.HandleAsync(new StorageObjectEvent(HandlerHarness.Bucket, BucketLayout.Marker(job.Id, 1, 0, MarkerKind.Exited), 1, 10, h.Time.GetUtcNow()), CancellationToken.None);

        var after = await h.JobAsync(job.Id);
        Assert.Equal((JobState.Running, 2, 1, 0), (after.State, after.Attempt, after.PreemptionsSpent, after.FailuresSpent));
        Assert.Equal(before, (await h.HistoryAsync(job.Id)).Count);
        Assert.NotNull(await h.Tpu.GetQueuedResourceAsync("us-central2-b", $"{job.Id}-2", CancellationToken.None));
    }

    [Fact]
    public async Task ExitedMarker_CleanExitAfterPreemptedMarker_IsAPreemption()
    {
        var job = await h.RunAsync(await h.SubmitAsync(HandlerHarness.JobYaml(h.Code(Forever))));
        await h.TakeAsync(Topics.Default.Recover);
        await h.Objects.PutAsync(BucketLayout.Marker(job.Id, 1, 0, MarkerKind.Preempted), Encoding.UTF8.GetBytes("{\"reason\":\"SIGTERM\"}"), CancellationToken.None);
        var exited = BucketLayout.Marker(job.Id, 1, 0, MarkerKind.Exited);
        await h.Objects.PutAsync(exited, Encoding.UTF8.GetBytes("{\"exitCode\":0,\"preemptionNotice\":false}"), CancellationToken.None);

        await h.Functions.BucketEvents.HandleAsync(new StorageObjectEvent(HandlerHarness.Bucket, exited, 1, 40, h.Time.GetUtcNow()), CancellationToken.None);

        Assert.Equal(JobState.Running, (await h.JobAsync(job.Id)).State);
        var recover = Assert.Single(await h.TakeAsync(Topics.Default.Recover));
        Assert.Equal(AttemptEnd.Preempted, recover.Cause);
    }

    [Fact]
    public async Task ExitedMarker_CleanExitOfWorkerZero_SucceedsOnceAndAsksToFinish()
    {
        var job = await h.RunAsync(await h.SubmitAsync(HandlerHarness.JobYaml(h.Code(Forever))));
        var exited = BucketLayout.Marker(job.Id, 1, 0, MarkerKind.Exited);
        await h.Objects.PutAsync(exited, Encoding.UTF8.GetBytes("{\"exitCode\":0,\"preemptionNotice\":false}"), CancellationToken.None);
        var finalize = new StorageObjectEvent(HandlerHarness.Bucket, exited, 1, 40, h.Time.GetUtcNow());

        await h.Functions.BucketEvents.HandleAsync(finalize, CancellationToken.None);
        await h.Functions.BucketEvents.HandleAsync(finalize, CancellationToken.None);

        job = await h.JobAsync(job.Id);
        Assert.Equal((JobState.Succeeded, 0), (job.State, job.ExitCode));
        Assert.Single(await h.HistoryAsync(job.Id), e => e.To == JobState.Succeeded);
        Assert.NotEmpty(await h.TakeAsync(Topics.Default.Finish));

        await h.Functions.Finish.HandleAsync(h.Step(job.Id, 1), CancellationToken.None);
        await h.Functions.Finish.HandleAsync(h.Step(job.Id, 1), CancellationToken.None);
        await Eventually.TrueAsync(async () => await h.Tpu.GetQueuedResourceAsync("us-central2-b", $"{job.Id}-1", CancellationToken.None) is null);
    }

    [Fact]
    public async Task CheckpointEvents_RecordTheHighestStep_AndIgnoreOtherFolders()
    {
        var job = await h.RunAsync(await h.SubmitAsync(HandlerHarness.JobYaml(h.Code(Forever))));
        var at = h.Time.GetUtcNow();

        foreach (var (name, minutes) in new[] { ("ckpt/step_00000020.json", 1), ("ckpt/step_00000010.json", 2), ("logs/attempt-1/worker-0.log", 3), ("ckpt/step_00000020.json", 1) })
        {
            await h.Functions.BucketEvents.HandleAsync(new StorageObjectEvent(HandlerHarness.Bucket, $"{job.Id}/{name}", 1, 10, at.AddMinutes(minutes)), CancellationToken.None);
        }

        job = await h.JobAsync(job.Id);
        Assert.Equal(20, job.LastCheckpointStep);
        Assert.Equal(at.AddMinutes(2), job.LastCheckpointAt);
    }

    [Fact]
    public async Task CheckpointEvents_OrbaxSavesOfAMaxTextRun_RecordTheFinishedStepOnly()
    {
        var job = await h.RunAsync(await h.SubmitAsync(HandlerHarness.JobYaml(h.Code(Forever))));
        var at = h.Time.GetUtcNow();
        var run = "ckpt/run-2024-07-01/checkpoints";
        var events = new[]
        {
            ($"{run}/1000.orbax-checkpoint-tmp-1733300000/items/_METADATA", 1),
            ($"{run}/1000/_CHECKPOINT_METADATA", 2),
            ($"{run}/1000/items/ocdbt.process_0/d/9f3a07e1c2b4d5a6", 2),
            ($"{run}/1000/commit_success.txt", 3),
            ($"{run}/2000.orbax-checkpoint-tmp-1733300600/items/manifest.ocdbt", 4),
            ($"{run}/1000/items/_METADATA", 2),
        };

        foreach (var (name, minutes) in events)
        {
            await h.Functions.BucketEvents.HandleAsync(new StorageObjectEvent(HandlerHarness.Bucket, $"{job.Id}/{name}", 1, 10, at.AddMinutes(minutes)), CancellationToken.None);
        }

        job = await h.JobAsync(job.Id);
        Assert.Equal(1000, job.LastCheckpointStep);
        // The save in flight is still progress: it keeps the stall timer from firing.
        Assert.Equal(at.AddMinutes(4), job.LastCheckpointAt);
    }

    [Fact]
    public async Task Sweep_StallWithWarn_WarnsOnceAndKeepsRunning()
    {
        var job = await h.RunAsync(await h.SubmitAsync(HandlerHarness.JobYaml(h.Code(Forever), stall: "{minutes: 60, action: warn}")));

        h.Time.Advance(TimeSpan.FromMinutes(61));
        await h.Functions.Sweep.HandleAsync(CancellationToken.None);
        await h.Functions.Sweep.HandleAsync(CancellationToken.None);

        job = await h.JobAsync(job.Id);
        Assert.Equal(JobState.Running, job.State);
        Assert.Single(await h.HistoryAsync(job.Id), e => e.Cause.StartsWith("stalled", StringComparison.Ordinal));
        Assert.Empty(await h.TakeAsync(Topics.Default.Recover));
    }

    [Fact]
    public async Task Sweep_StallWithRestart_AsksForARecovery()
    {
        var job = await h.RunAsync(await h.SubmitAsync(HandlerHarness.JobYaml(h.Code(Forever), stall: "{minutes: 30, action: restart}")));

        h.Time.Advance(TimeSpan.FromMinutes(29));
        await h.Functions.Sweep.HandleAsync(CancellationToken.None);
        Assert.Empty(await h.TakeAsync(Topics.Default.Recover));

        h.Time.Advance(TimeSpan.FromMinutes(2));
        await h.Functions.Sweep.HandleAsync(CancellationToken.None);
        var recover = Assert.Single(await h.TakeAsync(Topics.Default.Recover));
        Assert.Equal((job.Id, 1, AttemptEnd.Stalled), (recover.JobId, recover.Attempt, recover.Cause));
    }

    [Fact]
    public async Task Sweep_PreemptedResource_AsksForRecovery()
    {
        var job = await h.RunAsync(await h.SubmitAsync(HandlerHarness.JobYaml(h.Code(Forever))));
        await h.Simulator.PreemptAsync("us-central2-b", job.QueuedResourceId!);

        await h.Functions.Sweep.HandleAsync(CancellationToken.None);

        Assert.Contains(await h.TakeAsync(Topics.Default.Recover), r => r.Cause == AttemptEnd.Preempted && r.Attempt == 1);
    }

    [Fact]
    public async Task Sweep_ReadyResourceWhileProvisioning_AsksForLaunch()
    {
        var job = await h.SubmitAsync(HandlerHarness.JobYaml(h.Code(Forever)));
        await h.Functions.Provision.HandleAsync(h.Step(job.Id, 1), CancellationToken.None);
        await h.TakeAsync(Topics.Default.Launch);

        await h.Functions.Sweep.HandleAsync(CancellationToken.None);

        Assert.Contains(await h.TakeAsync(Topics.Default.Launch), l => l.JobId == job.Id && l.Attempt == 1);
    }

    [Fact]
    public async Task Sweep_OrphanedResourceOfAFinishedJob_IsDeleted()
    {
        var job = await h.RunAsync(await h.SubmitAsync(HandlerHarness.JobYaml(h.Code(Forever))));
        var other = await h.RunAsync(await h.SubmitAsync(HandlerHarness.JobYaml(h.Code(Forever)), "other"));
        var cancelled = JobLifecycle.CompleteCancel(JobLifecycle.RequestCancel(job, h.Time.GetUtcNow()).Job, h.Time.GetUtcNow());
        Assert.True(await h.Store.TryUpdateAsync(cancelled.Job, job.Revision, cancelled.Entry, CancellationToken.None));
        h.Time.Advance(TimeSpan.FromMinutes(3));

        await h.Functions.Sweep.HandleAsync(CancellationToken.None);

        await Eventually.TrueAsync(async () => await h.Tpu.GetQueuedResourceAsync("us-central2-b", $"{job.Id}-1", CancellationToken.None) is null);
        Assert.NotNull(await h.Tpu.GetQueuedResourceAsync("us-central2-b", $"{other.Id}-1", CancellationToken.None));
    }

    [Fact]
    public async Task Sweep_OrphanInAConfiguredZoneWhereNoJobIsActive_IsDeleted()
    {
        var job = await SucceededWithItsResourceLeftAsync();
        var tpu = new RecordingTpuApi(h.Tpu);

        await h.Sweep(h.Options with { SweepZones = ["us-central2-b"] }, tpu).HandleAsync(CancellationToken.None);

        Assert.Equal(new[] { "us-central2-b" }, tpu.Listed);
        await Eventually.TrueAsync(async () => await h.Tpu.GetQueuedResourceAsync("us-central2-b", $"{job.Id}-1", CancellationToken.None) is null);
    }

    [Fact]
    public async Task Sweep_OrphanInAnUnconfiguredZoneWhereNoJobIsActive_IsNotListed()
    {
        var job = await SucceededWithItsResourceLeftAsync();
        var tpu = new RecordingTpuApi(h.Tpu);

        await h.Sweep(h.Options with { SweepZones = ["us-west4-a"] }, tpu).HandleAsync(CancellationToken.None);

        Assert.Equal(new[] { "us-west4-a" }, tpu.Listed);
        Assert.NotNull(await h.Tpu.GetQueuedResourceAsync("us-central2-b", $"{job.Id}-1", CancellationToken.None));
    }

    [Fact]
    public async Task Sweep_OldAttemptLeftInAFailoverZoneTheJobMovedAwayFrom_IsDeleted()
    {
        var yaml = HandlerHarness.JobYaml(h.Code(Forever)).Replace("zone: us-central2-b", "zones: [us-central2-b, us-west4-a]", StringComparison.Ordinal);
        var job = await h.SubmitAsync(yaml);
        await h.Functions.Provision.HandleAsync(h.Step(job.Id, 1), CancellationToken.None);
        job = await h.JobAsync(job.Id);

        // Attempt 1 ends and the job moves to the next zone, but its queued resource is never deleted
        // (the recover step's delete failed until the message was dead-lettered, say).
        var ended = JobLifecycle.EndAttempt(job, 1, AttemptEnd.ProvisionFailed, "no capacity", null, h.Options.Lifecycle, h.Time.GetUtcNow());
        Assert.True(await h.Store.TryUpdateAsync(ended.Job, job.Revision, ended.Entry!, CancellationToken.None));
        h.Time.Advance(TimeSpan.FromMinutes(3));
        await h.Functions.Provision.HandleAsync(h.Step(job.Id, 2), CancellationToken.None);
        job = await h.JobAsync(job.Id);
        Assert.Equal((JobState.Provisioning, 2, "us-west4-a"), (job.State, job.Attempt, job.Zone));
        var tpu = new RecordingTpuApi(h.Tpu);

        await h.Sweep(h.Options, tpu).HandleAsync(CancellationToken.None);

        Assert.Equal(new[] { "us-central2-b", "us-west4-a" }, tpu.Listed.Order(StringComparer.Ordinal));
        await Eventually.TrueAsync(async () => await h.Tpu.GetQueuedResourceAsync("us-central2-b", $"{job.Id}-1", CancellationToken.None) is null);
        Assert.NotNull(await h.Tpu.GetQueuedResourceAsync("us-west4-a", $"{job.Id}-2", CancellationToken.None));
    }

    [Fact]
    public async Task Sweep_AConfiguredZoneTheTpuApiRefuses_SweepsTheOtherZonesThenFails()
    {
        var job = await SucceededWithItsResourceLeftAsync();
        var tpu = new RecordingTpuApi(h.Tpu, "europe-west9-z");
        var sweep = h.Sweep(h.Options with { SweepZones = ["europe-west9-z", "us-central2-b"] }, tpu);

        var error = await Assert.ThrowsAsync<GoogleApiException>(() => sweep.HandleAsync(CancellationToken.None));

        Assert.Contains("europe-west9-z", error.Message, StringComparison.Ordinal);
        Assert.Equal(new[] { "europe-west9-z", "us-central2-b" }, tpu.Listed);
        await Eventually.TrueAsync(async () => await h.Tpu.GetQueuedResourceAsync("us-central2-b", $"{job.Id}-1", CancellationToken.None) is null);
    }

    [Fact]
    public async Task Cancel_WhileRunning_IsCancelledAfterFinish()
    {
        var job = await h.RunAsync(await h.SubmitAsync(HandlerHarness.JobYaml(h.Code(Forever))));
        var cancel = h.Message(Encoding.UTF8.GetBytes($"{{\"cancel\":\"{job.Id}\"}}"));

        await h.Functions.Submit.HandleAsync(cancel, CancellationToken.None);
        await h.Functions.Submit.HandleAsync(cancel, CancellationToken.None);
        Assert.Equal(JobState.Cancelling, (await h.JobAsync(job.Id)).State);
        foreach (var finish in await h.TakeAsync(Topics.Default.Finish))
        {
            await h.Functions.Finish.HandleAsync(h.Step(finish.JobId, finish.Attempt), CancellationToken.None);
        }

        Assert.Equal(JobState.Cancelled, (await h.JobAsync(job.Id)).State);
        await Eventually.TrueAsync(async () => await h.Tpu.GetQueuedResourceAsync("us-central2-b", $"{job.Id}-1", CancellationToken.None) is null);
    }

    [Theory]
    [InlineData("not json")]
    [InlineData("{\"jobId\":\"../../etc\",\"attempt\":1}")]
    [InlineData("{\"jobId\":\"ok-job-1\",\"attempt\":-4}")]
    [InlineData("{\"attempt\":1}")]
    public async Task StepMessage_Malformed_IsRejectedNotRetried(string body)
    {
        var message = h.Message(Encoding.UTF8.GetBytes(body));

        await Assert.ThrowsAsync<MalformedMessageException>(() => h.Functions.Provision.HandleAsync(message, CancellationToken.None));
        await Assert.ThrowsAsync<MalformedMessageException>(() => h.Functions.Recover.HandleAsync(message, CancellationToken.None));
    }

    [Fact]
    public async Task Steps_ForAnUnknownJob_AreAcknowledged()
    {
        await h.Functions.Provision.HandleAsync(h.Step("nobody-0123456789", 1), CancellationToken.None);
        await h.Functions.Launch.HandleAsync(h.Step("nobody-0123456789", 1), CancellationToken.None);
        await h.Functions.Recover.HandleAsync(h.Step("nobody-0123456789", 1, AttemptEnd.Failed), CancellationToken.None);
        await h.Functions.Finish.HandleAsync(h.Step("nobody-0123456789", 1), CancellationToken.None);

        Assert.Empty(await h.Store.ListRecentAsync(10, CancellationToken.None));
    }

    /// <summary>
    /// A job that ran attempt 1 in us-central2-b and SUCCEEDED, its queued resource left behind (as if
    /// the finish step's delete never happened), three minutes ago: past the sweep's grace period.
    /// </summary>
    private async Task<Job> SucceededWithItsResourceLeftAsync()
    {
        var job = await h.RunAsync(await h.SubmitAsync(HandlerHarness.JobYaml(h.Code(Forever))));
        var succeeded = JobLifecycle.Succeed(job, 1, h.Time.GetUtcNow());
        Assert.True(await h.Store.TryUpdateAsync(succeeded.Job, job.Revision, succeeded.Entry!, CancellationToken.None));
        Assert.Empty(await h.Store.ListActiveAsync(CancellationToken.None));
        h.Time.Advance(TimeSpan.FromMinutes(3));
        return job;
    }
}
