using System.Text.Json.Nodes;
using SpotJax.Contracts;
using SpotJax.Core;
using SpotJax.Core.Events;
using SpotJax.Core.Jobs;
using SpotJax.Core.Steps;
using SpotJax.Functions.Local;
using SpotJax.Google.Tests.Emulators;

namespace SpotJax.Google.Tests.EndToEnd;

/// <summary>
/// Notifications on the real message path: every function in its own host process, the job events
/// pushed to <c>notify</c> by two Pub/Sub emulator subscriptions (every message twice, in no order),
/// delivery records in the Firestore emulator, the deployment's webhook from the host's environment.
/// </summary>
[Collection(PubSubEmulatorCollection.Name)]
public sealed class PushNotifyTests(PubSubEmulator pubsub, FirestoreEmulator firestore) : IClassFixture<FirestoreEmulator>
{
    private static readonly CancellationToken None = CancellationToken.None;
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(90);

    [Fact]
    public async Task PreemptedJob_EveryMessageTwice_DeploymentWebhookGetsEachEventOncePerId()
    {
        await using var hook = WebhookReceiver.Start();
        await using var deployment = await PushDeployment.StartAsync(pubsub, firestore, new PushDeploymentOptions
        {
            DeliveriesPerMessage = 2,
            HostEnvironment = new Dictionary<string, string>
            {
                [NotifyOptions.WebhookUrlVariable] = hook.Url,
                [NotifyOptions.WebhookFormatVariable] = "slack",
            },
        });
        var bundle = (await CodeBundle.PackAsync(Path.Combine(Repository.Root, "examples", "quickstart"), None)).Archive;
        await deployment.Objects.PutAsync("code/quickstart.tar.gz", bundle, None);
        var spec = JobDocument.Parse($$"""{"name": "<!channel> & co", "tpu": {"type": "v4-8", "zone": "{{PushDeployment.Zone}}"}, "code": "gs://{{deployment.Bucket}}/code/quickstart.tar.gz", "script": "train.py", "args": ["--steps", "30", "--step-seconds", "0.1", "--wait-for-preemption"]}""");
        var gcloudConfig = Directory.CreateTempSubdirectory("spotjax-notify-gcloud-").FullName;
        var messageId = await PubSub.Gcloud.PublishAsync(pubsub.BaseUri, deployment.Project, gcloudConfig, Topics.Default.Jobs, JobDocument.ToJson(spec));
        var jobId = JobId.From(spec.Name, "pubsub:" + messageId);

        await Eventually.TrueAsync(async () => await deployment.Store.GetAsync(jobId, None) is { State: JobState.Running, Attempt: 1, LastCheckpointStep: >= 5 }, Patience);
        await deployment.Simulator.PreemptAsync(PushDeployment.Zone, $"{jobId}-1");
        await Eventually.TrueAsync(async () => (await deployment.Store.GetAsync(jobId, None))!.State.IsTerminal(), Patience);
        await Eventually.TrueAsync(() => Task.FromResult(hook.Accepted.Count >= 2), Patience);

        var history = await deployment.Store.GetHistoryAsync(jobId, None);
        Assert.Equal(JobState.Succeeded, history[^1].To);
        var preempted = JobEvent.IdOf(jobId, history.ToList().FindIndex(e => e.To == JobState.Recovering) + 1);
        var succeeded = JobEvent.IdOf(jobId, history.Count);
        Assert.Equal(new[] { preempted, succeeded }.Order(StringComparer.Ordinal), hook.Deliveries.Select(d => d.EventId).Order(StringComparer.Ordinal));
        Assert.All(hook.Deliveries, d => Assert.Contains("&lt;!channel&gt; &amp; co", (string)JsonNode.Parse(d.Body)!["text"]!, StringComparison.Ordinal));
    }
}
