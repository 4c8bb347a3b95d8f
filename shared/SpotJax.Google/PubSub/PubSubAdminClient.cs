using System.Globalization;
using SpotJax.Core.Ports;
using SpotJax.Google.Http;

namespace SpotJax.Google.PubSub;

/// <summary>
/// Creates and deletes topics and subscriptions, for tests, local tooling and <c>spotjax setup</c>.
/// Creating is idempotent (ALREADY_EXISTS counts as done) and so is deleting (NOT_FOUND counts as
/// done), which lets the transport retry both and lets setup run again after a partial failure.
/// </summary>
public sealed class PubSubAdminClient
{
    private readonly GoogleApiTransport _transport;
    private readonly PubSubPaths _paths;

    /// <summary>A client for one project; it sends nothing until called.</summary>
    public PubSubAdminClient(GoogleApiTransport transport, PubSubClientOptions options)
    {
        ArgumentNullException.ThrowIfNull(transport);
        _transport = transport;
        _paths = new PubSubPaths(options);
    }

    /// <summary>Creates a topic; false when it already existed.</summary>
    public Task<bool> CreateTopicAsync(string topic, CancellationToken cancellationToken) =>
        CreateAsync(_paths.Topic(topic), new { }, cancellationToken);

    /// <summary>Deletes a topic (its subscriptions stay, detached); false when there was none.</summary>
    public Task<bool> DeleteTopicAsync(string topic, CancellationToken cancellationToken) =>
        DeleteAsync(_paths.Topic(topic), cancellationToken);

    /// <summary>
    /// Creates a subscription; false when one of that name already existed (its settings are left
    /// as they are: Pub/Sub does not compare them).
    /// </summary>
    public Task<bool> CreateSubscriptionAsync(SubscriptionSpec spec, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(spec);
        ArgumentOutOfRangeException.ThrowIfLessThan(spec.AckDeadlineSeconds, 10, nameof(spec));
        ArgumentOutOfRangeException.ThrowIfGreaterThan(spec.AckDeadlineSeconds, 600, nameof(spec));
        var body = new SubscriptionResource
        {
            Topic = _paths.Topic(spec.Topic),
            AckDeadlineSeconds = spec.AckDeadlineSeconds,
            PushConfig = spec.PushEndpoint is null ? null : new PushConfigResource
            {
                PushEndpoint = spec.PushEndpoint.AbsoluteUri,
                OidcToken = spec.PushServiceAccount is null ? null : new OidcTokenResource { ServiceAccountEmail = spec.PushServiceAccount, Audience = spec.PushAudience },
            },
            RetryPolicy = spec.MinimumBackoff is null && spec.MaximumBackoff is null ? null : new RetryPolicyResource
            {
                MinimumBackoff = Duration(spec.MinimumBackoff),
                MaximumBackoff = Duration(spec.MaximumBackoff),
            },
            DeadLetterPolicy = spec.DeadLetterTopic is null ? null : new DeadLetterPolicyResource
            {
                DeadLetterTopic = _paths.Topic(spec.DeadLetterTopic),
                MaxDeliveryAttempts = spec.MaxDeliveryAttempts,
            },
        };
        return CreateAsync(_paths.Subscription(spec.Name), body, cancellationToken);
    }

    /// <summary>Deletes a subscription and its backlog; false when there was none.</summary>
    public Task<bool> DeleteSubscriptionAsync(string subscription, CancellationToken cancellationToken) =>
        DeleteAsync(_paths.Subscription(subscription), cancellationToken);

    private async Task<bool> CreateAsync(string name, object body, CancellationToken cancellationToken)
    {
        try
        {
            await _transport.SendAsync(HttpMethod.Put, _paths.Uri(name), body, idempotent: true, cancellationToken);
            return true;
        }
        catch (GoogleApiException e) when (e.Status == "ALREADY_EXISTS")
        {
            return false;
        }
    }

    private async Task<bool> DeleteAsync(string name, CancellationToken cancellationToken)
    {
        try
        {
            await _transport.SendAsync(HttpMethod.Delete, _paths.Uri(name), null, idempotent: true, cancellationToken);
            return true;
        }
        catch (GoogleApiException e) when (e.Status == "NOT_FOUND")
        {
            return false;
        }
    }

    /// <summary>A proto3 JSON Duration: seconds with an <c>s</c> suffix.</summary>
    private static string? Duration(TimeSpan? value) =>
        value is { } span ? span.TotalSeconds.ToString("0.#########", CultureInfo.InvariantCulture) + "s" : null;
}
