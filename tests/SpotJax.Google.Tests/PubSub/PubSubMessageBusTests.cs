using SpotJax.Contracts;
using SpotJax.Core.Ports;
using SpotJax.Google.PubSub;
using SpotJax.Google.Tests.Emulators;

namespace SpotJax.Google.Tests.PubSub;

/// <summary>
/// The bus contract against the Pub/Sub emulator: <see cref="PubSubPublisher"/> publishes, a pull
/// subscription created through <see cref="PubSubAdminClient"/> and a <see cref="PubSubPuller"/> subscribe.
/// </summary>
[Collection(PubSubEmulatorCollection.Name)]
public sealed class PubSubMessageBusTests(PubSubEmulator emulator) : MessageBusContractTests, IAsyncLifetime
{
    private const string Project = "spotjax-bus";
    private readonly PubSubPublisher _publisher = new(emulator.Transport, emulator.Client(Project));
    private readonly PubSubAdminClient _admin = new(emulator.Transport, emulator.Client(Project));
    private readonly List<PubSubPuller> _pullers = [];

    protected override IMessageBus Bus => _publisher;

    protected override async Task SubscribeAsync(string topic, Func<PubSubMessage, CancellationToken, Task> handler)
    {
        await _admin.CreateTopicAsync(topic, CancellationToken.None);
        var subscription = "sub-" + topic;
        await _admin.CreateSubscriptionAsync(new SubscriptionSpec { Name = subscription, Topic = topic, AckDeadlineSeconds = 10 }, CancellationToken.None);
        var puller = new PubSubPuller(emulator.Transport, emulator.Client(Project), subscription, handler, PubSubTesting.QuickPulls);
        _pullers.Add(puller);
        puller.Start();
    }

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        foreach (var puller in _pullers)
        {
            await puller.DisposeAsync();
        }
    }
}
