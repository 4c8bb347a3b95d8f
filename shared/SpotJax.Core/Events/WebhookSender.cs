using System.Net;
using System.Text;
using System.Text.Json;
using SpotJax.Core.Jobs;

namespace SpotJax.Core.Events;

/// <summary>Posts one <see cref="JobEvent"/> to one webhook and says how it went; never throws for the receiver's failures.</summary>
public sealed class WebhookSender(HttpClient http, TimeProvider time)
{
    /// <summary>The header that carries <see cref="JobEvent.Id"/>, for receivers that deduplicate too.</summary>
    public const string EventIdHeader = "SpotJax-Event-Id";

    /// <summary>How long one POST may take before it counts as failed (and is retried by redelivery).</summary>
    public TimeSpan Timeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>Sends <paramref name="jobEvent"/> about the job named <paramref name="jobName"/> as <paramref name="notify"/> says.</summary>
    public async Task<WebhookResult> SendAsync(NotifySpec notify, JobEvent jobEvent, string? jobName, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(notify);
        ArgumentNullException.ThrowIfNull(jobEvent);
        var body = notify.Format == NotifyFormat.Slack
            ? JsonSerializer.SerializeToUtf8Bytes(new Dictionary<string, string> { ["text"] = SlackText.Of(jobEvent, jobName) })
            : jobEvent.ToBytes();
        using var request = new HttpRequestMessage(HttpMethod.Post, notify.Webhook)
        {
            Content = new ByteArrayContent(body) { Headers = { { "Content-Type", "application/json" } } },
        };
        request.Headers.Add(EventIdHeader, jobEvent.Id);
        using var bounded = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        using var timer = new CancellationTokenSource(Timeout, time);
        using var link = timer.Token.Register(bounded.Cancel);
        try
        {
            using var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, bounded.Token);
            var status = (int)response.StatusCode;
            return response.IsSuccessStatusCode
                ? new WebhookResult(WebhookOutcome.Delivered, $"HTTP {status}")
                : new WebhookResult(IsPermanent(response.StatusCode) ? WebhookOutcome.Refused : WebhookOutcome.Failed, $"HTTP {status}");
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return new WebhookResult(WebhookOutcome.Failed, $"no answer within {Timeout.TotalSeconds:0.#} s");
        }
        catch (HttpRequestException e)
        {
            return new WebhookResult(WebhookOutcome.Failed, e.Message);
        }
    }

    /// <summary>A 4xx is the receiver refusing this request for good, except 408 (timeout) and 429 (slow down).</summary>
    private static bool IsPermanent(HttpStatusCode status) =>
        (int)status is >= 400 and < 500 && status is not (HttpStatusCode.RequestTimeout or HttpStatusCode.TooManyRequests);
}

/// <summary>How one POST went.</summary>
public sealed record WebhookResult(WebhookOutcome Outcome, string Detail);

public enum WebhookOutcome
{
    /// <summary>2xx.</summary>
    Delivered,

    /// <summary>A 4xx other than 408 and 429: sending the same again cannot help.</summary>
    Refused,

    /// <summary>5xx, 408, 429, a refused connection, a timeout: try again later.</summary>
    Failed,
}

/// <summary>The Slack message of an event: one line of text, with what the job's owner wrote escaped.</summary>
public static class SlackText
{
    /// <summary>The text of <paramref name="jobEvent"/>, naming the job <paramref name="jobName"/> when known.</summary>
    public static string Of(JobEvent jobEvent, string? jobName)
    {
        ArgumentNullException.ThrowIfNull(jobEvent);
        var job = jobName is null ? Escape(jobEvent.JobId) : $"{Escape(jobName)} ({Escape(jobEvent.JobId)})";
        var what = jobEvent.Type switch
        {
            JobEventTypes.Preempted => $"was preempted on attempt {jobEvent.Attempt}; recovering",
            JobEventTypes.StallWarning => $"is stalled on attempt {jobEvent.Attempt}",
            _ => $"is {jobEvent.To.ToWire()} (attempt {jobEvent.Attempt})",
        };
        var text = new StringBuilder("SpotJax: job ").Append(job).Append(' ').Append(what);
        if (!string.IsNullOrEmpty(jobEvent.Detail))
        {
            text.Append(": ").Append(Escape(jobEvent.Detail));
        }

        return text.ToString();
    }

    /// <summary>
    /// Slack reads <c>&lt;...&gt;</c> as links and mentions (<c>&lt;!channel&gt;</c>) and asks for
    /// <c>&amp;</c>, <c>&lt;</c>, <c>&gt;</c> to be sent as HTML entities
    /// (https://api.slack.com/messaging/composing/formatting, "Escaping text"); control characters become spaces.
    /// </summary>
    public static string Escape(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var escaped = new StringBuilder(text.Length);
        foreach (var c in text)
        {
            escaped.Append(c switch
            {
                '&' => "&amp;",
                '<' => "&lt;",
                '>' => "&gt;",
                _ when char.IsControl(c) => " ",
                _ => c.ToString(),
            });
        }

        return escaped.ToString();
    }
}
