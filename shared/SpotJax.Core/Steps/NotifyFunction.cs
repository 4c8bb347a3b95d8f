using SpotJax.Core.Events;
using SpotJax.Core.Jobs;
using SpotJax.Core.Ports;

namespace SpotJax.Core.Steps;

/// <summary>
/// <c>notify</c>, subscribed to <see cref="Topics.JobEvents"/>: posts SUCCEEDED, FAILED, each preemption and
/// stall warnings to the job's webhook (or the deployment's), at least once and once per event id.
/// </summary>
/// <remarks>
/// The delivery record of an event (<see cref="IJobEventStore"/>) is claimed before the POST and
/// completed after it, so a duplicate of a delivered event does nothing and two copies handled at
/// once post once. A failed POST gives the claim up and throws, so that the message is redelivered
/// (with the subscription's backoff, until its dead-letter policy takes it); a 4xx other than 408
/// and 429 is the receiver's final answer and is recorded, not retried. The lifecycle never waits
/// for any of this: it only writes the outbox and publishes.
/// </remarks>
public sealed class NotifyFunction(
    IJobStore store,
    IJobEventStore deliveries,
    WebhookSender sender,
    NotifyOptions options,
    TimeProvider time,
    Action<string>? warn = null) : IPubSubFunction
{
    public async Task HandleAsync(PubSubMessage message, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(message);
        JobEvent jobEvent;
        try
        {
            jobEvent = JobEvent.Parse(message.Data);
        }
        catch (FormatException e)
        {
            throw new MalformedMessageException(e.Message);
        }

        HandledJob.Report(jobEvent.JobId);
        if (!IsNotified(jobEvent))
        {
            return;
        }

        var job = await store.GetAsync(jobEvent.JobId, cancellationToken);
        if ((job?.Spec?.Notify ?? options.Default) is not { } notify)
        {
            return;
        }

        var now = time.GetUtcNow();
        switch (await deliveries.TryClaimDeliveryAsync(jobEvent.Id, now, now + options.ClaimFor, cancellationToken))
        {
            case DeliveryClaim.Completed:
                return;
            case DeliveryClaim.Busy:
                throw new TransientException($"event {jobEvent.Id} is being delivered by another copy; trying again later");
        }

        WebhookResult result;
        try
        {
            result = await sender.SendAsync(notify, jobEvent, job?.Spec?.Name, cancellationToken);
        }
        catch
        {
            await deliveries.ReleaseDeliveryAsync(jobEvent.Id, CancellationToken.None);
            throw;
        }

        switch (result.Outcome)
        {
            case WebhookOutcome.Delivered:
                await deliveries.CompleteDeliveryAsync(jobEvent.Id, $"delivered: {result.Detail}", time.GetUtcNow(), cancellationToken);
                break;
            case WebhookOutcome.Refused:
                warn?.Invoke($"notify {jobEvent.Id}: the webhook refused it ({result.Detail}); not retried");
                await deliveries.CompleteDeliveryAsync(jobEvent.Id, $"refused: {result.Detail}", time.GetUtcNow(), cancellationToken);
                break;
            default:
                await deliveries.ReleaseDeliveryAsync(jobEvent.Id, cancellationToken);
                throw new TransientException($"notify {jobEvent.Id}: the webhook failed ({result.Detail}); redelivery will try again");
        }
    }

    /// <summary>What a webhook hears of: the end of a job, each preemption and stall warnings.</summary>
    public static bool IsNotified(JobEvent jobEvent)
    {
        ArgumentNullException.ThrowIfNull(jobEvent);
        return jobEvent.Type is JobEventTypes.Preempted or JobEventTypes.StallWarning ||
            (jobEvent.Type == JobEventTypes.State && jobEvent.To is JobState.Succeeded or JobState.Failed);
    }
}
