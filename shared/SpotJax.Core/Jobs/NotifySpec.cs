namespace SpotJax.Core.Jobs;

/// <summary>A job's <c>notify</c>: the webhook that hears of its end, preemptions and stall warnings.</summary>
/// <param name="Webhook">An https:// URL (http:// only to the loopback, for local mode) without user information.</param>
/// <param name="Format">How the event is posted.</param>
public sealed record NotifySpec(string Webhook, NotifyFormat Format = NotifyFormat.Json)
{
    /// <summary>The longest webhook URL accepted.</summary>
    public const int MaxWebhookLength = 2048;

    /// <summary>
    /// Why <paramref name="url"/> cannot be a webhook, or null when it can: absolute https:// (or http://
    /// to <c>localhost</c>, <c>127.0.0.1</c> or <c>[::1]</c>), no <c>user:password@</c>, no spaces or control
    /// characters, at most <see cref="MaxWebhookLength"/> characters.
    /// </summary>
    public static string? Problem(string url)
    {
        ArgumentNullException.ThrowIfNull(url);
        if (url.Length > MaxWebhookLength)
        {
            return $"is {url.Length} characters long; at most {MaxWebhookLength} are allowed";
        }

        if (url.Any(c => char.IsControl(c) || char.IsWhiteSpace(c)))
        {
            return "must not contain spaces or control characters";
        }

        if (!Uri.TryCreate(url, UriKind.Absolute, out var uri) || uri.Host.Length == 0 || uri.Scheme is not ("https" or "http"))
        {
            return "is not an https:// URL";
        }

        if (uri.UserInfo.Length > 0)
        {
            return "must not carry credentials (user:password@); put a token in the path if the receiver needs one";
        }

        return uri.Scheme == "http" && !uri.IsLoopback
            ? "must be https:// (http:// is accepted only for localhost, 127.0.0.1 and [::1], in local mode)"
            : null;
    }
}

/// <summary>The body a webhook gets.</summary>
public enum NotifyFormat
{
    /// <summary>The job event itself (<c>schema/job-event.schema.json</c>).</summary>
    Json,

    /// <summary><c>{"text": "..."}</c>, what Slack's incoming webhooks (and compatible ones) take.</summary>
    Slack,
}
