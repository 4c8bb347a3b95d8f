using SpotJax.Core.Jobs;

namespace SpotJax.Core.Steps;

/// <summary>The deployment's notification settings (<c>SPOTJAX_WEBHOOK_URL</c>, <c>SPOTJAX_WEBHOOK_FORMAT</c>).</summary>
public sealed record NotifyOptions
{
    /// <summary>The environment variable of <see cref="Default"/>'s URL; empty or unset means none.</summary>
    public const string WebhookUrlVariable = "SPOTJAX_WEBHOOK_URL";

    /// <summary>The environment variable of <see cref="Default"/>'s format: <c>json</c> (default) or <c>slack</c>.</summary>
    public const string WebhookFormatVariable = "SPOTJAX_WEBHOOK_FORMAT";

    /// <summary>The webhook of jobs without their own <c>notify</c>; null for none.</summary>
    public NotifySpec? Default { get; init; }

    /// <summary>
    /// How long a sender holds an event's delivery before another delivery of the same message may take
    /// it over (the holder crashed); longer than the POST's timeout.
    /// </summary>
    public TimeSpan ClaimFor { get; init; } = TimeSpan.FromMinutes(1);

    /// <summary>
    /// The settings from <paramref name="environment"/>.
    /// </summary>
    /// <exception cref="ArgumentException">The URL is not a webhook URL (<see cref="NotifySpec.Problem"/>) or the format is unknown.</exception>
    public static NotifyOptions FromEnvironment(Func<string, string?> environment)
    {
        ArgumentNullException.ThrowIfNull(environment);
        var url = environment(WebhookUrlVariable);
        if (string.IsNullOrEmpty(url))
        {
            return new NotifyOptions();
        }

        if (NotifySpec.Problem(url) is { } problem)
        {
            throw new ArgumentException($"{WebhookUrlVariable} {problem}");
        }

        var format = environment(WebhookFormatVariable) switch
        {
            null or "" or "json" => NotifyFormat.Json,
            "slack" => NotifyFormat.Slack,
            var other => throw new ArgumentException($"{WebhookFormatVariable} is '{other}'; allowed: json, slack"),
        };
        return new NotifyOptions { Default = new NotifySpec(url, format) };
    }
}
