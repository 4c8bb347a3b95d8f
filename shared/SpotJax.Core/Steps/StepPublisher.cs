using SpotJax.Core.Ports;

namespace SpotJax.Core.Steps;

/// <summary>Publishes the next lifecycle step on the deployment's own <paramref name="topics"/>.</summary>
public sealed class StepPublisher(IMessageBus bus, Topics topics)
{
    public Task ProvisionAsync(string jobId, int attempt, CancellationToken ct) =>
        PublishAsync(topics.Provision, new StepMessage(jobId, attempt), ct);

    public Task LaunchAsync(string jobId, int attempt, CancellationToken ct) =>
        PublishAsync(topics.Launch, new StepMessage(jobId, attempt), ct);

    public Task RecoverAsync(StepMessage message, CancellationToken ct) =>
        PublishAsync(topics.Recover, message, ct);

    public Task FinishAsync(string jobId, int attempt, CancellationToken ct) =>
        PublishAsync(topics.Finish, new StepMessage(jobId, attempt), ct);

    private async Task PublishAsync(string topic, StepMessage message, CancellationToken ct)
    {
        var attributes = new Dictionary<string, string> { ["jobId"] = message.JobId };
        await bus.PublishAsync(topic, new OutgoingMessage(message.ToBytes(), attributes), ct);
    }
}
