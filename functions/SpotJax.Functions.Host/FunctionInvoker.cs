using System.Globalization;
using System.Text.Json;
using Microsoft.AspNetCore.Http;
using SpotJax.Core.Steps;
using SpotJax.Functions.Host.Events;

namespace SpotJax.Functions.Host;

/// <summary>
/// Runs the selected function for one decoded event and chooses the answer on purpose: 204 after
/// success, 200 after a permanent failure that was logged (so Pub/Sub stops redelivering it), 503
/// for a transient failure (so it does redeliver), 400 for an event this function cannot take.
/// </summary>
public sealed class FunctionInvoker(string target, SpotJaxFunctions functions, StructuredLog log)
{
    public async Task<int> InvokeAsync(IncomingEvent incoming, string? trace, CancellationToken ct)
    {
        var context = Context(incoming, trace);
        Func<Task>? handler = (target, incoming) switch
        {
            (FunctionNames.Submit, PubSubEvent e) => () => functions.Submit.HandleAsync(e.Message, ct),
            (FunctionNames.Provision, PubSubEvent e) => () => functions.Provision.HandleAsync(e.Message, ct),
            (FunctionNames.Launch, PubSubEvent e) => () => functions.Launch.HandleAsync(e.Message, ct),
            (FunctionNames.Recover, PubSubEvent e) => () => functions.Recover.HandleAsync(e.Message, ct),
            (FunctionNames.Finish, PubSubEvent e) => () => functions.Finish.HandleAsync(e.Message, ct),
            (FunctionNames.Notify, PubSubEvent e) when functions.Notify is { } notify => () => notify.HandleAsync(e.Message, ct),
            (FunctionNames.BucketEvents, StorageEvent { Kind: StorageEvent.Finalized } e) => () => functions.BucketEvents.HandleAsync(e.Object, ct),
            (FunctionNames.BucketEvents, StorageEvent) => () => Task.CompletedTask,
            (FunctionNames.Sweep, ScheduledEvent or PubSubEvent) => () => functions.Sweep.HandleAsync(ct),
            _ => null,
        };

        if (handler is null)
        {
            log.Warning($"{target} cannot take a {incoming.GetType().Name}", context);
            return StatusCodes.Status400BadRequest;
        }

        // A published job or a manifest names its job only once the handler has derived its id.
        var handled = HandledJob.Begin();
        var (outcome, error) = await Delivery.RunAsync(handler, ct);
        if (handled.JobId is { } jobId)
        {
            context = context with { JobId = jobId };
        }

        switch (outcome)
        {
            case DeliveryOutcome.Done:
                log.Info("handled", context);
                return StatusCodes.Status204NoContent;
            case DeliveryOutcome.Rejected:
                log.Error($"rejected for good: {error}", context);
                return StatusCodes.Status200OK;
            default:
                log.Warning($"will be retried: {error}", context);
                return StatusCodes.Status503ServiceUnavailable;
        }
    }

    /// <summary>The job and attempt a delivery is about, as far as can be told before the handler runs.</summary>
    private static LogContext Context(IncomingEvent incoming, string? trace)
    {
        string? jobId = null;
        int? attempt = null;
        switch (incoming)
        {
            case PubSubEvent e:
                e.Message.Attributes.TryGetValue("jobId", out jobId);
                try
                {
                    using var json = JsonDocument.Parse(e.Message.Data);
                    if (json.RootElement.ValueKind == JsonValueKind.Object && json.RootElement.TryGetProperty("attempt", out var a) && a.TryGetInt32(out var n))
                    {
                        attempt = n;
                    }
                }
                catch (JsonException)
                {
                    // A YAML job document or a malformed message: no attempt to report.
                }

                break;
            case StorageEvent e:
                jobId = Core.BucketLayout.JobIdOf(e.Object.Name);
                if (Core.BucketLayout.TryParseMarker(e.Object.Name, out var marker))
                {
                    attempt = marker.Attempt;
                }

                break;
        }

        return new LogContext(incoming.Id, jobId, attempt, trace);
    }

    /// <summary><c>X-Cloud-Trace-Context: TRACE/SPAN;o=1</c> as Cloud Logging's trace field.</summary>
    public static string? Trace(HttpRequest request, string? project)
    {
        var header = request.Headers["X-Cloud-Trace-Context"].ToString();
        if (header.Length == 0)
        {
            return null;
        }

        var traceId = header.Split('/')[0];
        return project is null ? traceId : string.Create(CultureInfo.InvariantCulture, $"projects/{project}/traces/{traceId}");
    }
}
