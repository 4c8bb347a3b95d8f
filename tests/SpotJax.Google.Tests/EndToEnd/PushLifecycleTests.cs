using SpotJax.Contracts;
using SpotJax.Core;
using SpotJax.Core.Jobs;
using SpotJax.Functions;
using SpotJax.Functions.Local;
using SpotJax.Google.Tests.PubSub;
using SpotJax.Google.Tests.Emulators;

namespace SpotJax.Google.Tests.EndToEnd;

/// <summary>
/// The whole lifecycle on the real message path: every function in its own process (the
/// <c>spotjax-functions</c> host, as on Cloud Run), Pub/Sub emulator push subscriptions to them,
/// state in the Firestore emulator, the TPU simulator, local worker processes, and the bucket's
/// finalize events published as Cloud Storage Pub/Sub notifications and pushed to <c>bucket-events</c>,
/// as in production. A job published with the real gcloud survives a preemption and succeeds, also
/// when every message (bucket notifications included) is delivered twice.
/// </summary>
[Collection(PubSubEmulatorCollection.Name)]
public sealed class PushLifecycleTests(PubSubEmulator pubsub, FirestoreEmulator firestore) : IClassFixture<FirestoreEmulator>, IDisposable
{
    private const string Zone = PushDeployment.Zone;
    private static readonly CancellationToken None = CancellationToken.None;
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(90);

    private readonly string gcloudConfig = Directory.CreateTempSubdirectory("spotjax-push-gcloud-").FullName;
    private readonly HttpClient http = new() { Timeout = TimeSpan.FromSeconds(30) };

    public void Dispose()
    {
        http.Dispose();
        Directory.Delete(gcloudConfig, recursive: true);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    public async Task GcloudPublishedJob_ThroughPushedFunctions_SurvivesAPreemptionAndSucceeds(int deliveriesPerMessage)
    {
        await using var deployment = await PushDeployment.StartAsync(pubsub, firestore, deliveriesPerMessage);
        var bundle = (await CodeBundle.PackAsync(Path.Combine(Repository.Root, "examples", "quickstart"), None)).Archive;
        await deployment.Objects.PutAsync("code/quickstart.tar.gz", bundle, None);
        var code = $"gs://{deployment.Bucket}/code/quickstart.tar.gz";
        // --wait-for-preemption: the first attempt cannot end before the preemption below, however slow the message path is.
        var job = $$"""{"name": "quickstart", "tpu": {"type": "v4-8", "zone": "{{Zone}}"}, "code": "{{code}}", "script": "train.py", "args": ["--steps", "30", "--step-seconds", "0.1", "--wait-for-preemption"]}""";

        var messageId = await Gcloud.PublishAsync(pubsub.BaseUri, deployment.Project, gcloudConfig, Topics.Default.Jobs, job);
        var jobId = JobId.From("quickstart", "pubsub:" + messageId);

        await WaitForAsync(deployment, jobId, j => j.State == JobState.Running && j.Attempt == 1 && j.LastCheckpointStep >= 5);
        await deployment.Simulator.PreemptAsync(Zone, $"{jobId}-1");
        var done = await WaitForAsync(deployment, jobId, j => j.State.IsTerminal());

        Assert.True(done.State == JobState.Succeeded, $"{done.State}: {done.LastError}\n{deployment.HostOutput()}");
        Assert.Equal((2, 1, 0), (done.Attempt, done.PreemptionsSpent, done.FailuresSpent));
        var history = await deployment.Store.GetHistoryAsync(jobId, None);
        Assert.Equal(
            [JobState.Queued, JobState.Provisioning, JobState.Launching, JobState.Running, JobState.Recovering, JobState.Provisioning, JobState.Launching, JobState.Running, JobState.Succeeded],
            history.Select(e => e.To));
        var secondLog = await File.ReadAllTextAsync(deployment.Objects.LocalPath($"{jobId}/logs/attempt-2/worker-0.log"));
        Assert.Contains("resumed from checkpoint step", secondLog, StringComparison.Ordinal);
        var tpu = new Google.Tpu.TpuRestClient(new Google.Http.GoogleApiTransport(http, Google.Http.FixedTokenSource.None), new Google.Tpu.TpuClientOptions { Project = deployment.Project, BaseUri = deployment.Simulator.BaseUri });
        await Eventually.TrueAsync(async () => (await tpu.ListQueuedResourcesAsync(Zone, None)).Count == 0, Patience);
        Assert.Contains("\"severity\"", deployment.OutputOf(FunctionNames.Submit), StringComparison.Ordinal);
    }

    private static async Task<Job> WaitForAsync(PushDeployment deployment, string jobId, Func<Job, bool> condition)
    {
        Job? job = null;
        try
        {
            await Eventually.TrueAsync(async () => (job = await deployment.Store.GetAsync(jobId, None)) is { } j && condition(j), Patience);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            throw new TimeoutException($"job {jobId} is {job?.State} attempt {job?.Attempt}: {job?.LastError}\n{deployment.HostOutput()}", e);
        }

        return job!;
    }
}
