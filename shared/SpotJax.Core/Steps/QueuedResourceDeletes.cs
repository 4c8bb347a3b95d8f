using System.Globalization;
using System.Net;
using SpotJax.Core.Ports;

namespace SpotJax.Core.Steps;

/// <summary>
/// Deletes a queued resource under the TPU API's request-id semantics (AIP-155; docs/gcp-contracts.md, Request
/// ids): a request id already seen gets the original operation back, even a failed one, and is not acted on again.
/// So a try whose outcome is unknown (a timeout or a 5xx before any answer, retried by the transport) keeps its
/// request id, and a try known to have failed (its operation done with an error) is followed by one with the next
/// request id. The ids are derived from <paramref name="key"/> and the try number, so every delivery of a handler
/// walks the same chain: the tries that failed before answer at once with their failed operations, and the first
/// new id deletes.
/// </summary>
public static class QueuedResourceDeletes
{
    /// <summary>Tries, within one call, after which a delete that keeps failing is reported.</summary>
    public const int MaxTries = 8;

    /// <summary>
    /// Deletes the queued resource a job names (<see cref="DeleteAsync"/>) only if it is this deployment's: it is
    /// read first, and one labelled <see cref="ProvisionFunction.DeploymentLabel"/> with another deployment's name is
    /// left alone and reported to <paramref name="warn"/> (two deployments sharing a project can make the same id
    /// only if two jobs had the same id, but a delete must never reach another deployment's TPUs). One without the
    /// label was made by an older version of this deployment (the job names it) and is deleted; one already gone
    /// needs nothing.
    /// </summary>
    /// <returns>False when the queued resource was another deployment's and left alone.</returns>
    /// <exception cref="GoogleApiException">A call failed (<see cref="DeleteAsync"/>).</exception>
    public static async Task<bool> DeleteOwnAsync(
        ITpuApi tpu, string zone, string queuedResourceId, string key, string deployment, Action<string>? warn, CancellationToken cancellationToken)
    {
        var queued = await tpu.GetQueuedResourceAsync(zone, queuedResourceId, cancellationToken);
        if (queued is null)
        {
            return true;
        }

        if (QueuedResourceOwner.Of(queued, deployment) == QueuedResourceOwnership.Others)
        {
            var owner = queued.NodeLabels[ProvisionFunction.DeploymentLabel];
            warn?.Invoke(
                $"queued resource {queuedResourceId} in {zone} is labelled {ProvisionFunction.DeploymentLabel}={owner}, not {deployment}: " +
                "another deployment's, so deployment " + deployment + " does not delete it");
            return false;
        }

        await DeleteAsync(tpu, zone, queuedResourceId, key, cancellationToken);
        return true;
    }

    /// <summary>
    /// <c>queuedResources.delete</c> with <c>force=true</c>, sent again with a new request id while its operation is
    /// known to have failed; returns once a try was accepted (its operation running or done) or the resource is gone.
    /// </summary>
    /// <param name="key">The request id of try 0 (<see cref="RequestIds.For"/> of the step); try n sends <c>RequestIds.For(key, n, "try")</c>.</param>
    /// <exception cref="GoogleApiException">The call failed, or every try's operation failed (INTERNAL: worth retrying later).</exception>
    public static async Task DeleteAsync(ITpuApi tpu, string zone, string queuedResourceId, string key, CancellationToken cancellationToken)
    {
        string? lastError = null;
        for (var attempt = 0; attempt < MaxTries; attempt++)
        {
            var requestId = attempt == 0 ? key : RequestIds.For(key, attempt, "try");
            var operation = await tpu.DeleteQueuedResourceAsync(zone, queuedResourceId, force: true, requestId, cancellationToken);
            if (operation is not { Done: true, Error: { } error })
            {
                return;
            }

            lastError = string.Create(CultureInfo.InvariantCulture, $"code {error.Code}: {error.Message}");
        }

        throw new GoogleApiException(
            HttpStatusCode.InternalServerError,
            "INTERNAL",
            $"deleting queued resource {queuedResourceId} in {zone} failed in its operation {MaxTries} times; last {lastError}");
    }
}
