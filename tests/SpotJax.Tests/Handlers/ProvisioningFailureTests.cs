using SpotJax.Contracts;
using SpotJax.Core;
using SpotJax.Core.Jobs;
using SpotJax.Core.Lifecycle;
using SpotJax.Core.Ports;
using SpotJax.Core.Steps;
using SpotJax.Functions;
using SpotJax.Google.Http;
using SpotJax.TpuSimulation;

namespace SpotJax.Tests.Handlers;

/// <summary>
/// Every kind of provisioning failure, injected into the TPU simulator and met through the production TPU
/// REST client, with provision and the sweep driven on an injected clock: where the job ends, and that the
/// reason is in its error and history.
/// </summary>
public sealed class ProvisioningFailureTests : IAsyncLifetime
{
    private const string Forever = "import time\nwhile True:\n    time.sleep(0.1)\n";
    private const string ZoneA = "us-central2-b";
    private const string ZoneB = "us-west4-a";
    private HandlerHarness h = null!;
    private SpotJaxFunctions f = null!;

    public async Task InitializeAsync()
    {
        // One quick transport retry (the least Polly takes), so a delivery meets its fault at once and the test decides the rest.
        h = await HandlerHarness.StartAsync(new GoogleApiOptions
        {
            MaxRetries = 1,
            BaseDelay = TimeSpan.FromMilliseconds(1),
            MaxDelay = TimeSpan.FromMilliseconds(1),
            AttemptTimeout = TimeSpan.FromSeconds(1),
            Deadline = TimeSpan.FromSeconds(3),
        });
        f = new SpotJaxFunctions(h.Store, h.Bus, h.Objects, h.Tpu, h.Workers, Options, h.Time);
    }

    public async Task DisposeAsync() => await h.DisposeAsync();

    /// <summary>Jitter placed at the start of its share, so every backoff is known: half the full one.</summary>
    private ControlPlaneOptions Options => h.Options with { Lifecycle = new LifecycleOptions { JitterSample = () => 0 } };

    private string Yaml(bool twoZones = false, string extra = "")
    {
        var yaml = HandlerHarness.JobYaml(h.Code(Forever)) + "\n" + extra;
        return twoZones ? yaml.Replace($"zone: {ZoneA}", $"zones: [{ZoneA}, {ZoneB}]", StringComparison.Ordinal) : yaml;
    }

    private async Task ProvisionAsync(Job job, int attempt) => await f.Provision.HandleAsync(h.Step(job.Id, attempt), CancellationToken.None);

    /// <summary>
    /// Delivers every recover and provision step published, once each, as Pub/Sub would, until none is left (a
    /// transient failure waits for a redelivery, which the sweep stands in for).
    /// </summary>
    private async Task DeliverAsync()
    {
        for (var delivered = true; delivered;)
        {
            delivered = false;
            foreach (var recover in await h.TakeAsync(Topics.Default.Recover))
            {
                delivered = true;
                await f.Recover.HandleAsync(h.Step(recover.JobId, recover.Attempt, recover.Cause, recover.Detail), CancellationToken.None);
            }

            foreach (var provision in await h.TakeAsync(Topics.Default.Provision))
            {
                delivered = true;
                try
                {
                    await f.Provision.HandleAsync(h.Step(provision.JobId, provision.Attempt), CancellationToken.None);
                }
                catch (TransientException)
                {
                    // Not yet, or the API failed for now: the sweep asks again.
                }
            }
        }
    }

    [Theory]
    [InlineData(403, "PERMISSION_DENIED", "Permission 'tpu.queuedResources.create' denied on resource (or it may not exist).", null, "roles/tpu.admin")]
    [InlineData(403, "PERMISSION_DENIED", "Cloud TPU API has not been used in project test-project before or it is disabled.", "SERVICE_DISABLED", "gcloud services enable tpu.googleapis.com")]
    [InlineData(400, "INVALID_ARGUMENT", "Invalid value for field 'runtimeVersion': 'tpu-nope'.", null, "gcloud compute tpus versions list --zone us-central2-b")]
    [InlineData(404, "NOT_FOUND", "Location us-central2-b does not offer accelerator type v4-8.", null, "tpu.type (v4-8)")]
    [InlineData(400, "FAILED_PRECONDITION", "Subnetwork 'default' does not have Private Google Access enabled.", null, "the project is not ready")]
    public async Task Create_RefusedForGood_FailsTheJobAtOnceWithTheApiMessageAndTheFix(int code, string status, string message, string? reason, string fix)
    {
        h.Simulator.SetFaults(new TpuFaults { CreateError = new TpuApiError(code, status, message, reason) });
        var job = await h.SubmitAsync(Yaml(twoZones: true));

        await ProvisionAsync(job, 1);
        await DeliverAsync();

        job = await h.JobAsync(job.Id);
        Assert.Equal((JobState.Failed, 1), (job.State, job.Attempt));
        Assert.Contains(status, job.LastError, StringComparison.Ordinal);
        Assert.Contains(message, job.LastError, StringComparison.Ordinal);
        Assert.Contains(fix, job.LastError, StringComparison.Ordinal);
        var failed = Assert.Single(await h.HistoryAsync(job.Id), e => e.To == JobState.Failed);
        Assert.Contains(message, failed.Cause, StringComparison.Ordinal);
        Assert.Contains("Fix:", failed.Cause, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Create_OverQuotaInTheFirstZone_RetriesThereWithBackoffThenMovesToTheNextZone()
    {
        h.Simulator.SetFaults(new TpuFaults { QueuedResourceQuota = new Dictionary<string, int> { [ZoneA] = 0 } });
        var job = await h.SubmitAsync(Yaml(twoZones: true));

        await ProvisionAsync(job, 1);
        job = await h.JobAsync(job.Id);
        Assert.Equal((JobState.Provisioning, 2, 1, ZoneA), (job.State, job.ProvisionTry, job.CapacityRefusals, job.Zone));
        Assert.Equal(h.Time.GetUtcNow() + TimeSpan.FromSeconds(15), job.NextProvisionAt);
        Assert.Contains("Quota limit", job.LastError, StringComparison.Ordinal);
        Assert.Contains("request more Spot TPU quota", job.LastError, StringComparison.Ordinal);

        // A duplicate of the refused delivery before the backoff ends changes nothing, nor does the sweep.
        await Assert.ThrowsAsync<TransientException>(() => ProvisionAsync(job, 1));
        await h.TakeAsync(Topics.Default.Provision);
        await f.Sweep.HandleAsync(CancellationToken.None);
        Assert.Empty(await h.TakeAsync(Topics.Default.Provision));
        Assert.Equal((2, 1), ((await h.JobAsync(job.Id)).ProvisionTry, (await h.JobAsync(job.Id)).CapacityRefusals));

        // Tries 2 and 3, each once its backoff (15 s, then 30 s) has passed and the sweep asked for it.
        foreach (var backoff in new[] { 15, 30 })
        {
            h.Time.Advance(TimeSpan.FromSeconds(backoff));
            await f.Sweep.HandleAsync(CancellationToken.None);
            await DeliverAsync();
        }

        job = await h.JobAsync(job.Id);
        Assert.Equal((JobState.Recovering, ZoneB, 1), (job.State, job.Spec!.Tpu.Zones[job.ZoneIndex], job.PreemptionsSpent));
        var history = await h.HistoryAsync(job.Id);
        Assert.Equal(3, history.Count(e => e.From == JobState.Provisioning && e.To == JobState.Provisioning && e.Cause.Contains("quota", StringComparison.Ordinal)));
        Assert.Contains(history, e => e.To == JobState.Recovering && e.Cause.Contains($"3 create(s) refused for quota or capacity in {ZoneA}", StringComparison.Ordinal) && e.Cause.Contains($"next attempt in {ZoneB}", StringComparison.Ordinal));

        h.Time.Advance(h.Options.Lifecycle.BackoffBase);
        await ProvisionAsync(job, 2);
        job = await h.JobAsync(job.Id);
        Assert.Equal((JobState.Provisioning, 2, ZoneB, 1), (job.State, job.Attempt, job.Zone, job.ProvisionTry));
        Assert.Contains(await h.TakeAsync(Topics.Default.Launch), l => l.JobId == job.Id && l.Attempt == 2);
    }

    [Fact]
    public async Task Create_Unavailable_IsRetriedWithTheSameTryAndSucceedsWithoutAFailure()
    {
        h.Simulator.SetFaults(new TpuFaults { UnavailableRate = 1, Methods = ["queuedResources.create"] });
        var job = await h.SubmitAsync(Yaml());

        await Assert.ThrowsAsync<TransientException>(() => ProvisionAsync(job, 1));
        await Assert.ThrowsAsync<TransientException>(() => ProvisionAsync(job, 1));
        job = await h.JobAsync(job.Id);
        Assert.Equal((JobState.Provisioning, 1, null), (job.State, job.ProvisionTry, job.NextProvisionAt));

        h.Simulator.SetFaults(new TpuFaults());
        h.Time.Advance(h.Options.Lifecycle.StuckAfter + TimeSpan.FromSeconds(1));
        await f.Sweep.HandleAsync(CancellationToken.None);
        await DeliverAsync();

        job = await h.JobAsync(job.Id);
        Assert.Equal((JobState.Provisioning, 1, 0), (job.State, job.ProvisionTry, job.CapacityRefusals));
        Assert.NotNull(await h.Tpu.GetQueuedResourceAsync(ZoneA, job.QueuedResourceId!, CancellationToken.None));
        Assert.Contains(await h.TakeAsync(Topics.Default.Launch), l => l.JobId == job.Id);
        Assert.DoesNotContain(await h.HistoryAsync(job.Id), e => e.From == JobState.Provisioning);
    }

    [Fact]
    public async Task Create_RateLimitedWithRetryAfter_WaitsTheServersTimeThenTheSameTryCreates()
    {
        // No create admitted: the simulator names the whole 90 s window as its Retry-After.
        h.Simulator.SetFaults(new TpuFaults { CreatesPerMinute = 0, CreateQuotaWindow = TimeSpan.FromSeconds(90) });
        var job = await h.SubmitAsync(Yaml());

        await ProvisionAsync(job, 1);
        job = await h.JobAsync(job.Id);
        Assert.Equal((JobState.Provisioning, 1, 0), (job.State, job.ProvisionTry, job.CapacityRefusals));
        Assert.Equal(h.Time.GetUtcNow() + TimeSpan.FromSeconds(90), job.NextProvisionAt);
        Assert.Contains("rate limited", job.LastError, StringComparison.Ordinal);
        Assert.Contains("Quota exceeded for quota metric 'CreateQueuedResource requests'", job.LastError, StringComparison.Ordinal);

        // Not before the server's time: a duplicate is not yet due, and the sweep asks for nothing.
        await Assert.ThrowsAsync<TransientException>(() => ProvisionAsync(job, 1));
        await h.TakeAsync(Topics.Default.Provision);
        h.Time.Advance(TimeSpan.FromSeconds(89));
        await f.Sweep.HandleAsync(CancellationToken.None);
        Assert.Empty(await h.TakeAsync(Topics.Default.Provision));
        Assert.Equal(1, h.Simulator.CreatesRefusedForRate);

        h.Simulator.SetFaults(new TpuFaults());
        h.Time.Advance(TimeSpan.FromSeconds(1));
        await f.Sweep.HandleAsync(CancellationToken.None);
        await DeliverAsync();

        job = await h.JobAsync(job.Id);
        Assert.Equal((JobState.Provisioning, 1), (job.State, job.ProvisionTry));
        Assert.NotNull(await h.Tpu.GetQueuedResourceAsync(ZoneA, job.QueuedResourceId!, CancellationToken.None));
        Assert.Contains(await h.TakeAsync(Topics.Default.Launch), l => l.JobId == job.Id);
        Assert.DoesNotContain(await h.HistoryAsync(job.Id), e => e.From == JobState.Provisioning);
    }

    [Fact]
    public async Task Create_RateLimitedForHours_KeepsRetryingWithGrowingWaitsAndNeverFailsOrTimesOut()
    {
        h.Simulator.SetFaults(new TpuFaults { CreatesPerMinute = 0 });
        var job = await h.SubmitAsync(Yaml(extra: "provisionTimeoutMinutes: 10\nmaxPreemptions: 1\n"));
        await ProvisionAsync(job, 1);

        // Five simulated hours, a sweep a minute, every published step delivered.
        for (var minute = 0; minute < 300; minute++)
        {
            h.Time.Advance(TimeSpan.FromMinutes(1));
            await f.Sweep.HandleAsync(CancellationToken.None);
            await DeliverAsync();
        }

        job = await h.JobAsync(job.Id);
        Assert.Equal((JobState.Provisioning, 1, 1, 0), (job.State, job.Attempt, job.ProvisionTry, job.PreemptionsSpent));
        // The waits doubled up to the rate-limit maximum: a create every 2 minutes (the sweep asks on the minute), not every minute.
        Assert.InRange(h.Simulator.CreatesRefusedForRate, 140, 160);

        h.Simulator.SetFaults(new TpuFaults());
        for (var minute = 0; minute < 10 && (await h.JobAsync(job.Id)).CreateOperation is null; minute++)
        {
            h.Time.Advance(TimeSpan.FromMinutes(1));
            await f.Sweep.HandleAsync(CancellationToken.None);
            await DeliverAsync();
        }

        Assert.NotNull(await h.Tpu.GetQueuedResourceAsync(ZoneA, job.QueuedResourceId!, CancellationToken.None));
        Assert.DoesNotContain(await h.HistoryAsync(job.Id), e => e.To is JobState.Recovering or JobState.Failed);
    }

    [Fact]
    public async Task Create_TimedOutAfterTheServiceCreatedIt_IsRedeliveredWithTheSameRequestIdAndFindsIt()
    {
        h.Simulator.SetFaults(new TpuFaults { TimeoutRate = 1, TimeoutAfterApplying = true, Methods = ["queuedResources.create"] });
        var job = await h.SubmitAsync(Yaml());

        var timedOut = await Assert.ThrowsAsync<TransientException>(() => ProvisionAsync(job, 1));
        Assert.Contains("DEADLINE_EXCEEDED", timedOut.Message, StringComparison.Ordinal);

        h.Simulator.SetFaults(new TpuFaults());
        await ProvisionAsync(job, 1);

        job = await h.JobAsync(job.Id);
        Assert.Equal((JobState.Provisioning, 1), (job.State, job.ProvisionTry));
        Assert.Single(await h.Tpu.ListQueuedResourcesAsync(ZoneA, CancellationToken.None));
        Assert.Contains(await h.TakeAsync(Topics.Default.Launch), l => l.JobId == job.Id);
    }

    [Fact]
    public async Task CreateOperation_DoneWithAStockOutError_NextTryAfterBackoffSendsANewRequestIdAndCreates()
    {
        h.Simulator.SetFaults(new TpuFaults { OperationErrorRate = 1 });
        var job = await h.SubmitAsync(Yaml());

        await ProvisionAsync(job, 1);
        job = await h.JobAsync(job.Id);
        Assert.Equal((JobState.Provisioning, 2, 1), (job.State, job.ProvisionTry, job.CapacityRefusals));
        Assert.Contains("RESOURCE_EXHAUSTED: There is no more capacity in the zone", job.LastError, StringComparison.Ordinal);
        Assert.Null(await h.Tpu.GetQueuedResourceAsync(ZoneA, job.QueuedResourceId!, CancellationToken.None));

        // The stock-out is over; try 2 must not send try 1's request id, which would get try 1's failed operation again.
        h.Simulator.SetFaults(new TpuFaults());
        h.Time.Advance(TimeSpan.FromSeconds(15));
        await f.Sweep.HandleAsync(CancellationToken.None);
        await DeliverAsync();

        job = await h.JobAsync(job.Id);
        Assert.Equal((JobState.Provisioning, 2), (job.State, job.ProvisionTry));
        Assert.NotNull(await h.Tpu.GetQueuedResourceAsync(ZoneA, job.QueuedResourceId!, CancellationToken.None));
        Assert.Contains(await h.TakeAsync(Topics.Default.Launch), l => l.JobId == job.Id);
    }

    [Fact]
    public async Task CreateOperation_RefusedTwiceForTheSameTry_CountsTheTryOnce()
    {
        h.Simulator.SetFaults(new TpuFaults { OperationErrorRate = 1 });
        var job = await h.SubmitAsync(Yaml());
        await ProvisionAsync(job, 1);
        job = await h.JobAsync(job.Id);

        // A late second reading of try 1's failure (the sweep's, or a slow duplicate's) is not a new try.
        var again = JobLifecycle.CreateFailed(job, 1, 1, ProvisionFailure.Classify("RESOURCE_EXHAUSTED", "no more capacity", null, new ProvisionTarget("p", ZoneA, "v4-8", "rt", null)), Options.Lifecycle, h.Time.GetUtcNow(), 0);

        Assert.Equal(Verdict.AlreadyApplied, again.Verdict);
        Assert.Equal((2, 1), (job.ProvisionTry, job.CapacityRefusals));
        Assert.Single(await h.HistoryAsync(job.Id), e => e.From == JobState.Provisioning);
    }

    [Fact]
    public async Task Sweep_CreateOperationEndedWithAnErrorAfterProvisionCrashed_CountsTheTryOnceAndRetries()
    {
        // provision created and recorded the operation, then crashed before it read how the operation ended.
        var job = await h.SubmitAsync(Yaml());
        var started = JobLifecycle.StartProvisioning(job, 1, h.Time.GetUtcNow());
        Assert.True(await h.Store.TryUpdateAsync(started.Job, job.Revision, started.Entry, CancellationToken.None));
        job = await h.JobAsync(job.Id);
        h.Simulator.SetFaults(new TpuFaults { OperationErrorRate = 1 });
        var operation = await h.Tpu.CreateQueuedResourceAsync(ZoneA, job.QueuedResourceId!, f.Provision.Body(job), RequestIds.Create(job.Id, 1, 1), CancellationToken.None);
        h.Simulator.SetFaults(new TpuFaults());
        var recorded = JobLifecycle.CreateRequested(job, 1, 1, operation!.Name!, h.Time.GetUtcNow());
        Assert.True(await h.Store.TryUpdateAsync(recorded.Job, job.Revision, null, CancellationToken.None));
        await h.TakeAsync(Topics.Default.Provision);

        await f.Sweep.HandleAsync(CancellationToken.None);
        await f.Sweep.HandleAsync(CancellationToken.None);

        job = await h.JobAsync(job.Id);
        Assert.Equal((JobState.Provisioning, 2, null), (job.State, job.ProvisionTry, job.CreateOperation));
        Assert.Single(await h.HistoryAsync(job.Id), e => e.From == JobState.Provisioning && e.Cause.Contains("no more capacity", StringComparison.OrdinalIgnoreCase));
        Assert.Empty(await h.TakeAsync(Topics.Default.Provision));

        h.Time.Advance(TimeSpan.FromSeconds(15));
        await f.Sweep.HandleAsync(CancellationToken.None);
        await DeliverAsync();
        Assert.NotNull(await h.Tpu.GetQueuedResourceAsync(ZoneA, job.QueuedResourceId!, CancellationToken.None));
    }

    [Fact]
    public async Task FailedQueuedResource_WithAPermissionErrorInFailedData_FailsTheJobAtOnce()
    {
        h.Simulator.SetFaults(new TpuFaults
        {
            OperationErrorRate = 1,
            OperationErrorLeavesFailedQueuedResource = true,
            OperationErrorCode = 7,
            OperationErrorMessage = "The caller does not have permission to act as the service account.",
        });
        var job = await h.SubmitAsync(Yaml(twoZones: true));
        await ProvisionAsync(job, 1);
        h.Simulator.SetFaults(new TpuFaults());

        await f.Sweep.HandleAsync(CancellationToken.None);
        await DeliverAsync();

        job = await h.JobAsync(job.Id);
        Assert.Equal(JobState.Failed, job.State);
        Assert.Contains("PERMISSION_DENIED: The caller does not have permission", job.LastError, StringComparison.Ordinal);
        Assert.Contains("roles/tpu.admin", job.LastError, StringComparison.Ordinal);
        Assert.Contains(await h.HistoryAsync(job.Id), e => e.To == JobState.Failed && e.Cause.Contains("PERMISSION_DENIED", StringComparison.Ordinal));
    }

    [Fact]
    public async Task StockOut_QueuedResourceWaitingLongerThanTheZoneWait_MovesToTheNextZone()
    {
        h.Simulator.SetZoneCapacity(ZoneA, hasCapacity: false);
        var job = await h.SubmitAsync(Yaml(twoZones: true));
        await ProvisionAsync(job, 1);

        h.Time.Advance(TimeSpan.FromMinutes(20));
        await f.Sweep.HandleAsync(CancellationToken.None);
        Assert.Empty(await h.TakeAsync(Topics.Default.Recover));
        h.Time.Advance(TimeSpan.FromMinutes(11));
        await f.Sweep.HandleAsync(CancellationToken.None);
        await DeliverAsync();

        job = await h.JobAsync(job.Id);
        Assert.Equal((JobState.Recovering, ZoneB), (job.State, job.Spec!.Tpu.Zones[job.ZoneIndex]));
        Assert.Contains("WAITING_FOR_RESOURCES", job.LastError, StringComparison.Ordinal);
        Assert.Contains(await h.HistoryAsync(job.Id), e => e.To == JobState.Recovering && e.Cause.Contains($"for capacity in {ZoneA}", StringComparison.Ordinal));
    }

    [Fact]
    public async Task ProvisioningTimeout_NoQueuedResourceEverCreated_EndsTheAttemptsAndFailsOnceTheBudgetIsSpent()
    {
        h.Simulator.SetFaults(new TpuFaults { QueuedResourceQuota = new Dictionary<string, int> { [ZoneA] = 0 } });
        var job = await h.SubmitAsync(Yaml(extra: "provisionTimeoutMinutes: 120\nmaxPreemptions: 1\n"));
        await ProvisionAsync(job, 1);

        // Five simulated hours, a sweep a minute, every published step delivered.
        for (var minute = 0; minute < 300 && !(await h.JobAsync(job.Id)).State.IsTerminal(); minute++)
        {
            h.Time.Advance(TimeSpan.FromMinutes(1));
            await f.Sweep.HandleAsync(CancellationToken.None);
            await DeliverAsync();
        }

        job = await h.JobAsync(job.Id);
        Assert.Equal((JobState.Failed, 2, 2), (job.State, job.Attempt, job.PreemptionsSpent));
        Assert.Contains("no TPU within the provisioning timeout", job.LastError, StringComparison.Ordinal);
        Assert.Contains("no queued resource after", job.LastError, StringComparison.Ordinal);
        Assert.Contains("Quota limit", job.LastError, StringComparison.Ordinal);
        var history = await h.HistoryAsync(job.Id);
        Assert.Contains(history, e => e.To == JobState.Recovering && e.Cause.StartsWith("no TPU within the provisioning timeout", StringComparison.Ordinal));
        Assert.Contains(history, e => e.To == JobState.Failed && e.Cause.Contains("preemption budget exhausted (1)", StringComparison.Ordinal));
        var started = history.Where(e => e.To == JobState.Provisioning && e.From != JobState.Provisioning).Select(e => e.At).ToList();
        var ended = history.Where(e => e.To is JobState.Recovering or JobState.Failed).Select(e => e.At).ToList();
        Assert.All(started.Zip(ended), pair => Assert.InRange(pair.Second - pair.First, TimeSpan.FromMinutes(120), TimeSpan.FromMinutes(122)));
    }
}
