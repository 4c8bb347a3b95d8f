using System.Collections.Concurrent;
using SpotJax.Contracts;
using SpotJax.Core.Jobs;
using SpotJax.Core.Ports;
using SpotJax.Core.Steps;
using SpotJax.Core;
using SpotJax.Functions;
using SpotJax.Google.Http;
using SpotJax.Google.PubSub;
using SpotJax.Google.Tests.Emulators;
using SpotJax.Google.Tests.Http;
using SpotJax.Google.Tpu;
using SpotJax.Local.Storage;
using SpotJax.Local.Workers;
using SpotJax.TpuSimulation;

namespace SpotJax.Google.Tests.PubSub;

/// <summary>
/// The way users submit (DESIGN.md §1): the real <c>gcloud pubsub topics publish</c> against the
/// emulator, delivered by a <see cref="PubSubPuller"/> to the real <c>submit</c> function over the
/// Firestore job store and the Pub/Sub publisher.
/// </summary>
[Collection(PubSubEmulatorCollection.Name)]
public sealed class GcloudPublishTests(PubSubEmulator pubsub, FirestoreEmulator firestore) : IClassFixture<FirestoreEmulator>, IAsyncLifetime
{
    private const string JobName = "gcloud smoke";
    private static readonly CancellationToken None = CancellationToken.None;
    private readonly string _project = $"gcloud-{Guid.NewGuid():N}"[..20];
    private readonly string _root = Directory.CreateTempSubdirectory("spotjax-gcloud-").FullName;
    private readonly List<IAsyncDisposable> _disposables = [];

    [Fact]
    public async Task GcloudPublish_JobDeliveredTwiceAndNackedOnce_JobCreatedOnceAndProvisionAsked()
    {
        var admin = new PubSubAdminClient(pubsub.Transport, pubsub.Client(_project));
        foreach (var topic in new[] { Topics.Default.Jobs, Topics.Default.Provision })
        {
            await admin.CreateTopicAsync(topic, None);
        }

        await admin.CreateSubscriptionAsync(new SubscriptionSpec { Name = "submit", Topic = Topics.Default.Jobs }, None);
        await admin.CreateSubscriptionAsync(new SubscriptionSpec { Name = "provision-watch", Topic = Topics.Default.Provision }, None);
        var store = firestore.CreateStore(_project);
        var functions = await FunctionsAsync(store, new PubSubPublisher(pubsub.Transport, pubsub.Client(_project)));
        var deliveries = new ConcurrentQueue<PubSubMessage>();
        var outcomes = new ConcurrentQueue<(DeliveryOutcome Outcome, string? Error)>();
        var acknowledged = new TaskCompletionSource<PubSubMessage>(TaskCreationOptions.RunContinuationsAsynchronously);
        Pull("submit", async (message, ct) =>
        {
            deliveries.Enqueue(message);
            // Two hosts handling the same delivery at once, as Pub/Sub allows.
            foreach (var outcome in await Task.WhenAll(
                Delivery.RunAsync(() => functions.Submit.HandleAsync(message, ct), ct),
                Delivery.RunAsync(() => functions.Submit.HandleAsync(message, ct), ct)))
            {
                outcomes.Enqueue(outcome);
            }

            if (deliveries.Count == 1)
            {
                throw new InvalidOperationException("the host died before acknowledging");
            }

            acknowledged.TrySetResult(message);
        });
        var provisions = new ConcurrentQueue<StepMessage>();
        Pull("provision-watch", (message, _) =>
        {
            provisions.Enqueue(StepMessage.Parse(message));
            return Task.CompletedTask;
        });
        var job = $$"""{"name": "{{JobName}}", "tpu": {"type": "v4-8", "zone": "us-central2-b"}, "code": "gs://spotjax-test/code/smoke.tar.gz", "script": "train.py"}""";

        var messageId = await Gcloud.PublishAsync(pubsub.BaseUri, _project, Path.Combine(_root, "gcloud"), Topics.Default.Jobs, job);

        var delivered = await acknowledged.Task.WaitAsync(Eventually.Patience);
        var jobId = JobId.From(JobName, "pubsub:" + messageId);
        Assert.Equal(messageId, delivered.MessageId);
        Assert.Equal([messageId, messageId], deliveries.Select(d => d.MessageId));
        Assert.Equal(4, outcomes.Count(o => o.Outcome == DeliveryOutcome.Done));
        var stored = await store.GetAsync(jobId, None);
        Assert.NotNull(stored);
        Assert.Equal(JobState.Queued, stored.State);
        Assert.Equal(jobId, Assert.Single(await store.ListRecentAsync(10, None)).Id);
        Assert.Single(await store.GetHistoryAsync(jobId, None));
        // Each of the four submit calls found the job QUEUED and asked for attempt 1: provision is idempotent per attempt.
        await Eventually.TrueAsync(() => provisions.Count >= 4);
        Assert.All(provisions, p => Assert.Equal(new StepMessage(jobId, 1), p));
    }

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        foreach (var disposable in Enumerable.Reverse(_disposables))
        {
            await disposable.DisposeAsync();
        }

        Directory.Delete(_root, recursive: true);
    }

    /// <summary>The seven functions over the given store and bus, with the local parts of local mode for the rest.</summary>
    private async Task<SpotJaxFunctions> FunctionsAsync(IJobStore store, IMessageBus bus)
    {
        var nodes = Path.Combine(_root, "nodes");
        var simulator = await TpuSimulator.StartAsync(new TpuSimulatorOptions { NodesRoot = nodes });
        _disposables.Add(simulator);
        var objects = new FolderObjectStore(Path.Combine(_root, "bucket"), "spotjax-test");
        _disposables.Add(objects);
        var tpu = new TpuRestClient(new GoogleApiTransport(pubsub.Http, FixedTokenSource.None), new TpuClientOptions { Project = _project, BaseUri = simulator.BaseUri });
        var workers = new LocalWorkerRunner(new LocalWorkerOptions
        {
            NodesRoot = nodes,
            ResolveUri = uri => objects.TryResolve(uri, out var path) ? path : uri,
            MetadataUrl = (zone, node) => simulator.MetadataUrl(zone, node).ToString(),
        });
        return new SpotJaxFunctions(store, bus, objects, tpu, workers, new ControlPlaneOptions { Project = _project, Bucket = "spotjax-test" }, TimeProvider.System);
    }

    private void Pull(string subscription, Func<PubSubMessage, CancellationToken, Task> handler)
    {
        var puller = new PubSubPuller(pubsub.Transport, pubsub.Client(_project), subscription, handler, PubSubTesting.QuickPulls);
        _disposables.Add(puller);
        puller.Start();
    }
}
