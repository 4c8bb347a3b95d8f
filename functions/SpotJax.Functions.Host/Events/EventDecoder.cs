using System.Globalization;
using System.Net.Mime;
using System.Text.Json;
using CloudNative.CloudEvents;
using CloudNative.CloudEvents.SystemTextJson;
using Microsoft.AspNetCore.Http;
using SpotJax.Core.Ports;

namespace SpotJax.Functions.Host.Events;

/// <summary>
/// Reads the delivery shapes Google Cloud sends to a Cloud Run function: Eventarc CloudEvents in
/// binary or structured mode (Pub/Sub <c>messagePublished</c>, Storage <c>object.v1.*</c>), a plain
/// Pub/Sub push body (including Cloud Storage notifications), and a Cloud Scheduler HTTP call.
/// </summary>
public static class EventDecoder
{
    public const string MessagePublishedType = "google.cloud.pubsub.topic.v1.messagePublished";
    public const string StorageTypePrefix = "google.cloud.storage.object.v1.";
    public const string StructuredContentType = "application/cloudevents+json";

    /// <summary>Pub/Sub's own limit for one message is 10 MB; anything larger is not a delivery.</summary>
    public const int MaxBodyBytes = 10 * 1024 * 1024 + 64 * 1024;

    private static readonly JsonEventFormatter Formatter = new();

    private static readonly Dictionary<string, string> NotificationKinds = new(StringComparer.Ordinal)
    {
        ["OBJECT_FINALIZE"] = StorageEvent.Finalized,
        ["OBJECT_DELETE"] = "deleted",
        ["OBJECT_ARCHIVE"] = "archived",
        ["OBJECT_METADATA_UPDATE"] = "metadataUpdated",
    };

    /// <summary>The event, or the reason the request is not a valid event (answered with 400).</summary>
    public static async Task<(IncomingEvent? Event, string? Error)> DecodeAsync(HttpRequest request, DateTimeOffset now, CancellationToken ct)
    {
        var body = await ReadBodyAsync(request, ct);
        if (body is null)
        {
            return (null, $"body larger than {MaxBodyBytes} bytes");
        }

        try
        {
            if (request.Headers.ContainsKey("ce-specversion"))
            {
                return FromCloudEvent(BinaryMode(request, body), now);
            }

            if (request.ContentType?.StartsWith(StructuredContentType, StringComparison.OrdinalIgnoreCase) == true)
            {
                var structured = await Formatter.DecodeStructuredModeMessageAsync(new MemoryStream(body), new ContentType(request.ContentType), null);
                return FromCloudEvent(structured, now);
            }

            if (request.Headers.ContainsKey("X-CloudScheduler"))
            {
                var scheduled = request.Headers["X-CloudScheduler-ScheduleTime"].ToString();
                return (new ScheduledEvent(scheduled.Length > 0 ? scheduled : now.ToString("O", CultureInfo.InvariantCulture)), null);
            }

            if (body.Length == 0)
            {
                // A bare POST: how Cloud Scheduler (or an operator with curl) pokes the sweep.
                return (new ScheduledEvent(now.ToString("O", CultureInfo.InvariantCulture)), null);
            }

            var push = JsonSerializer.Deserialize<PushEnvelope>(body);
            return push?.Message is null
                ? (null, "Request is expected to contain a Cloud Event, a Pub/Sub push or a Cloud Scheduler call.")
                : FromPush(push.Message, now);
        }
        catch (Exception e) when (e is JsonException or ArgumentException or FormatException or InvalidOperationException)
        {
            return (null, $"malformed event: {e.Message}");
        }
    }

    private static async Task<byte[]?> ReadBodyAsync(HttpRequest request, CancellationToken ct)
    {
        if (request.ContentLength > MaxBodyBytes)
        {
            return null;
        }

        using var buffer = new MemoryStream();
        var chunk = new byte[81920];
        int read;
        while ((read = await request.Body.ReadAsync(chunk, ct)) > 0)
        {
            if (buffer.Length + read > MaxBodyBytes)
            {
                return null;
            }

            buffer.Write(chunk, 0, read);
        }

        return buffer.ToArray();
    }

    /// <summary>Binary mode: the attributes are <c>ce-*</c> headers and the body is the data.</summary>
    private static CloudEvent BinaryMode(HttpRequest request, byte[] body)
    {
        var version = CloudEventsSpecVersion.FromVersionId(request.Headers["ce-specversion"].ToString())
            ?? throw new ArgumentException($"unsupported CloudEvents version '{request.Headers["ce-specversion"]}'");
        var cloudEvent = new CloudEvent(version);
        foreach (var (name, value) in request.Headers)
        {
            if (name.StartsWith("ce-", StringComparison.OrdinalIgnoreCase) && !name.Equals("ce-specversion", StringComparison.OrdinalIgnoreCase))
            {
                cloudEvent.SetAttributeFromString(name[3..].ToLowerInvariant(), value.ToString());
            }
        }

        cloudEvent.DataContentType = request.ContentType;
        if (body.Length > 0)
        {
            Formatter.DecodeBinaryModeEventData(body, cloudEvent);
        }

        return cloudEvent;
    }

    private static (IncomingEvent? Event, string? Error) FromCloudEvent(CloudEvent cloudEvent, DateTimeOffset now)
    {
        if (!cloudEvent.IsValid)
        {
            return (null, "Request is expected to contain a Cloud Event: id, source and type are required.");
        }

        var data = cloudEvent.Data switch
        {
            JsonElement element => element,
            byte[] bytes => JsonDocument.Parse(bytes).RootElement,
            string text => JsonDocument.Parse(text).RootElement,
            _ => throw new ArgumentException("the event has no JSON data"),
        };

        if (cloudEvent.Type == MessagePublishedType)
        {
            var envelope = data.Deserialize<PushEnvelope>() ?? throw new ArgumentException("messagePublished without data");
            var message = envelope.Message ?? throw new ArgumentException("messagePublished without a message");
            return FromPush(message with { MessageId = message.MessageId ?? message.MessageIdSnake ?? cloudEvent.Id }, cloudEvent.Time ?? now);
        }

        if (cloudEvent.Type!.StartsWith(StorageTypePrefix, StringComparison.Ordinal))
        {
            var item = data.Deserialize<StorageObjectData>() ?? throw new ArgumentException("storage event without data");
            var bucket = item.Bucket ?? BucketFromSource(cloudEvent.Source);
            var name = item.Name ?? (cloudEvent.Subject is { } subject && subject.StartsWith("objects/", StringComparison.Ordinal) ? subject["objects/".Length..] : null);
            if (string.IsNullOrEmpty(bucket) || string.IsNullOrEmpty(name))
            {
                throw new ArgumentException("storage event without bucket or object name");
            }

            var updated = item.Updated ?? item.TimeCreated ?? cloudEvent.Time ?? now;
            return (new StorageEvent(cloudEvent.Id!, cloudEvent.Type[StorageTypePrefix.Length..], new StorageObjectEvent(bucket, name, item.Generation, item.Size, updated)), null);
        }

        return (null, $"unsupported event type '{cloudEvent.Type}'");
    }

    /// <summary>A Pub/Sub message; a Cloud Storage notification (attribute <c>eventType</c>) becomes a storage event.</summary>
    private static (IncomingEvent? Event, string? Error) FromPush(PushMessage push, DateTimeOffset now)
    {
        var id = push.MessageId ?? push.MessageIdSnake;
        if (string.IsNullOrEmpty(id))
        {
            return (null, "Pub/Sub message without a messageId");
        }

        var attributes = push.Attributes ?? [];
        var data = string.IsNullOrEmpty(push.Data) ? [] : Convert.FromBase64String(push.Data);
        var published = push.PublishTime ?? push.PublishTimeSnake ?? now;
        if (attributes.TryGetValue("eventType", out var eventType) && attributes.ContainsKey("bucketId") && attributes.ContainsKey("objectId"))
        {
            if (!NotificationKinds.TryGetValue(eventType, out var kind))
            {
                return (null, $"unsupported Cloud Storage notification '{eventType}'");
            }

            var item = data.Length > 0 ? JsonSerializer.Deserialize<StorageObjectData>(data) : null;
            var generation = item?.Generation ?? (long.TryParse(attributes.GetValueOrDefault("objectGeneration"), CultureInfo.InvariantCulture, out var g) ? g : 0);
            var when = item?.Updated ?? (DateTimeOffset.TryParse(attributes.GetValueOrDefault("eventTime"), CultureInfo.InvariantCulture, out var t) ? t : published);
            return (new StorageEvent(id, kind, new StorageObjectEvent(attributes["bucketId"], attributes["objectId"], generation, item?.Size ?? 0, when)), null);
        }

        return (new PubSubEvent(new PubSubMessage(id, data, attributes, published)), null);
    }

    /// <summary><c>//storage.googleapis.com/projects/_/buckets/NAME</c> -> NAME.</summary>
    private static string? BucketFromSource(Uri? source)
    {
        var text = source?.ToString() ?? "";
        var marker = text.IndexOf("/buckets/", StringComparison.Ordinal);
        return marker < 0 ? null : text[(marker + "/buckets/".Length)..];
    }
}
