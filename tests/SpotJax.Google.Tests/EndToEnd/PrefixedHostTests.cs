using System.Collections;
using System.Collections.Concurrent;
using System.Text;
using SpotJax.Contracts;
using SpotJax.Core;
using SpotJax.Core.Events;
using SpotJax.Core.Jobs;
using SpotJax.Core.Ports;
using SpotJax.Core.Steps;
using SpotJax.Functions.Host;
using SpotJax.Google.PubSub;
using SpotJax.Google.Tests.Emulators;
using SpotJax.Google.Tests.PubSub;

namespace SpotJax.Google.Tests.EndToEnd;

/// <summary>
/// A function host set up from its environment (<see cref="Deployment"/>) with a name prefix other than
/// the default, publishing through the Pub/Sub emulator where a second deployment's topics exist too:
/// its steps go to its own prefixed topics and never to the other deployment's.
/// </summary>
[Collection(PubSubEmulatorCollection.Name)]
public sealed class PrefixedHostTests(PubSubEmulator pubsub) : IAsyncLifetime
{
    private const string Marker = "end-of-test-messages";
    private static readonly CancellationToken None = CancellationToken.None;

    private readonly string project = $"pfx-{Guid.NewGuid():N}"[..20];
    private readonly DirectoryInfo root = Directory.CreateTempSubdirectory("spotjax-prefixed-");
    private readonly ConcurrentDictionary<string, ConcurrentQueue<PubSubMessage>> received = new();
    private readonly List<PubSubPuller> pullers = [];

    public async Task InitializeAsync()
    {
        var admin = new PubSubAdminClient(pubsub.Transport, pubsub.Client(project));
        foreach (var topic in new Topics("staging").All.Concat(Topics.Default.All))
        {
            await admin.CreateTopicAsync(topic, None);
            await admin.CreateSubscriptionAsync(new SubscriptionSpec { Name = $"{topic}-watch", Topic = topic }, None);
            var queue = received.GetOrAdd(topic, _ => new ConcurrentQueue<PubSubMessage>());
            var puller = new PubSubPuller(pubsub.Transport, pubsub.Client(project), $"{topic}-watch", (message, _) =>
            {
                queue.Enqueue(message);
                return Task.CompletedTask;
            }, PubSubTesting.QuickPulls);
            pullers.Add(puller);
            puller.Start();
        }
    }

    public async Task DisposeAsync()
    {
        foreach (var puller in pullers)
        {
            await puller.DisposeAsync();
        }

        root.Delete(recursive: true);
    }

    [Fact]
    public async Task Submit_HostWithAnotherPrefix_PublishesToItsPrefixedTopicsOnly()
    {
        await using var deployment = await Deployment.CreateAsync(Environment("staging"), TimeProvider.System, None);
        var document = Encoding.UTF8.GetBytes("""{"name": "prefixed", "tpu": {"type": "v4-8", "zone": "us-central2-b"}, "code": "gs://spotjax-test/code/0123.tar.gz", "script": "train.py"}""");
        var message = new PubSubMessage("1", document, new Dictionary<string, string> { [SubmitFunction.SubmissionIdAttribute] = "s1" }, DateTimeOffset.UtcNow);

        await deployment.Functions.Submit.HandleAsync(message, None);

        var staging = new Topics("staging");
        var provision = Assert.Single(await ReceivedAsync(staging.Provision));
        Assert.Equal(1, StepMessage.Parse(provision).Attempt);
        Assert.Equal(JobState.Queued, JobEvent.Parse(Assert.Single(await ReceivedAsync(staging.JobEvents)).Data).To);
        foreach (var topic in Topics.Default.All.Concat(staging.All.Where(t => t != staging.Provision && t != staging.JobEvents)))
        {
            Assert.Empty(await ReceivedAsync(topic));
        }
    }

    /// <summary>A step function's environment: state in SQLite and a folder, Pub/Sub on the emulator.</summary>
    private Hashtable Environment(string prefix) => new()
    {
        [Deployment.ProjectVariable] = project,
        [Deployment.BucketVariable] = "spotjax-test",
        [Deployment.NamePrefixVariable] = prefix,
        [Deployment.StateDbVariable] = Path.Combine(root.FullName, "jobs.db"),
        [Deployment.BucketDirVariable] = Path.Combine(root.FullName, "bucket"),
        [Deployment.WorkersVariable] = "local",
        [Deployment.NodesRootVariable] = Path.Combine(root.FullName, "nodes"),
        [GoogleEndpoints.TpuApiVariable] = "http://127.0.0.1:9/",
        [GoogleEndpoints.PubSubEmulatorHostVariable] = pubsub.HostPort,
    };

    /// <summary>
    /// What reached <paramref name="topic"/>: a marker is published after it, and the messages seen once the
    /// marker has arrived are everything published before (the emulator delivers in order).
    /// </summary>
    private async Task<IReadOnlyList<PubSubMessage>> ReceivedAsync(string topic)
    {
        await new PubSubPublisher(pubsub.Transport, pubsub.Client(project)).PublishAsync(topic, OutgoingMessage.FromText(Marker), None);
        var queue = received[topic];
        await Eventually.TrueAsync(() => queue.Any(m => Encoding.UTF8.GetString(m.Data) == Marker));
        return queue.Where(m => Encoding.UTF8.GetString(m.Data) != Marker).ToList();
    }
}
