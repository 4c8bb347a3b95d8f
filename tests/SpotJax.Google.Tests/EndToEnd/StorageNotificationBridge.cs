using System.Globalization;
using System.Security.Cryptography;
using System.Text.Json.Nodes;
using SpotJax.Core.Ports;
using SpotJax.Local.Storage;

namespace SpotJax.Google.Tests.EndToEnd;

/// <summary>
/// What Cloud Storage does for the control bucket's notification configuration (infra/storage.tf,
/// <c>google_storage_notification.finalize</c>: OBJECT_FINALIZE, payload JSON_API_V1, topic
/// <c>spotjax-bucket-events</c>): for every object finalized in the folder bucket, one message on that topic with
/// the notification's attributes and, as data, the object's JSON API resource. Sources:
/// https://cloud.google.com/storage/docs/pubsub-notifications (attributes and payload) and
/// https://cloud.google.com/storage/docs/json_api/v1/objects (the resource); docs/gcp-contracts.md,
/// "Cloud Storage notifications end to end".
/// </summary>
internal sealed class StorageNotificationBridge(IMessageBus bus, string topic, FolderObjectStore objects)
{
    /// <summary>The notification configuration's id; Cloud Storage numbers a bucket's configurations from 1.</summary>
    public const string NotificationConfigId = "1";

    /// <summary>Publishes the OBJECT_FINALIZE notification of <paramref name="finalized"/>; a failure makes the folder's scanner offer it again.</summary>
    public async Task PublishAsync(StorageObjectEvent finalized, CancellationToken cancellationToken)
    {
        var md5 = await Md5Async(finalized.Name, cancellationToken);
        await bus.PublishAsync(topic, Notification(finalized, md5), cancellationToken);
    }

    /// <summary>The message Cloud Storage publishes for one finalized object.</summary>
    public static OutgoingMessage Notification(StorageObjectEvent finalized, string? md5Hash)
    {
        var generation = finalized.Generation.ToString(CultureInfo.InvariantCulture);
        var time = finalized.Updated.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture);
        var escapedName = Uri.EscapeDataString(finalized.Name);
        var resource = new JsonObject
        {
            ["kind"] = "storage#object",
            ["id"] = $"{finalized.Bucket}/{finalized.Name}/{generation}",
            ["selfLink"] = $"https://www.googleapis.com/storage/v1/b/{finalized.Bucket}/o/{escapedName}",
            ["mediaLink"] = $"https://storage.googleapis.com/download/storage/v1/b/{finalized.Bucket}/o/{escapedName}?generation={generation}&alt=media",
            ["name"] = finalized.Name,
            ["bucket"] = finalized.Bucket,
            ["generation"] = generation,
            ["metageneration"] = "1",
            ["contentType"] = "application/octet-stream",
            ["storageClass"] = "STANDARD",
            ["size"] = finalized.Size.ToString(CultureInfo.InvariantCulture),
            ["timeCreated"] = time,
            ["updated"] = time,
            ["timeStorageClassUpdated"] = time,
        };
        if (md5Hash is not null)
        {
            resource["md5Hash"] = md5Hash;
        }

        var attributes = new Dictionary<string, string>
        {
            ["notificationConfig"] = $"projects/_/buckets/{finalized.Bucket}/notificationConfigs/{NotificationConfigId}",
            ["eventType"] = "OBJECT_FINALIZE",
            ["payloadFormat"] = "JSON_API_V1",
            ["bucketId"] = finalized.Bucket,
            ["objectId"] = finalized.Name,
            ["objectGeneration"] = generation,
            ["eventTime"] = time,
        };
        return new OutgoingMessage(System.Text.Encoding.UTF8.GetBytes(resource.ToJsonString()), attributes);
    }

    /// <summary>The base64 MD5 of the object as it is now, or null if it is already gone.</summary>
    private async Task<string?> Md5Async(string name, CancellationToken cancellationToken) =>
        await objects.GetAsync(name, cancellationToken) is { } content ? Convert.ToBase64String(MD5.HashData(content)) : null;
}
