using SpotJax.Core.Steps;

namespace SpotJax.Functions;

/// <summary>
/// Runs one delivery and classifies its end the same way in every host: malformed input is
/// acknowledged, everything else that escapes a handler (transient API errors, lost races beyond
/// the retry loop, timeouts) is redelivered.
/// </summary>
public static class Delivery
{
    public static async Task<(DeliveryOutcome Outcome, string? Error)> RunAsync(Func<Task> handler, CancellationToken cancellationToken)
    {
        try
        {
            await handler();
            return (DeliveryOutcome.Done, null);
        }
        catch (MalformedMessageException e)
        {
            return (DeliveryOutcome.Rejected, e.Message);
        }
        catch (Exception e) when (!cancellationToken.IsCancellationRequested)
        {
            return (DeliveryOutcome.Retry, e.Message);
        }
    }
}
