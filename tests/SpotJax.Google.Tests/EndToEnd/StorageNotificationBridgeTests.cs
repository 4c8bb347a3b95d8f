using System.Text.Json;
using SpotJax.Core.Ports;

namespace SpotJax.Google.Tests.EndToEnd;

/// <summary>The notification the end-to-end bridge publishes has Cloud Storage's documented attributes and payload.</summary>
public sealed class StorageNotificationBridgeTests
{
    [Fact]
    public void Notification_FinalizedObject_CarriesTheNotificationAttributesAndTheObjectResource()
    {
        var finalized = new StorageObjectEvent("spotjax-b", "job-1/markers/attempt-1/worker-0/exited", 1712345678901234, 42, new DateTimeOffset(2026, 12, 5, 8, 0, 1, 250, TimeSpan.Zero));

        var message = StorageNotificationBridge.Notification(finalized, "1B2M2Y8AsgTpgAmY7PhCfg==");

        Assert.Equal(
            new Dictionary<string, string>
            {
                ["notificationConfig"] = "projects/_/buckets/spotjax-b/notificationConfigs/1",
                ["eventType"] = "OBJECT_FINALIZE",
                ["payloadFormat"] = "JSON_API_V1",
                ["bucketId"] = "spotjax-b",
                ["objectId"] = "job-1/markers/attempt-1/worker-0/exited",
                ["objectGeneration"] = "1712345678901234",
                ["eventTime"] = "2026-12-05T08:00:01.250Z",
            },
            message.Attributes);
        using var data = JsonDocument.Parse(message.Data);
        var resource = data.RootElement;
        Assert.Equal("storage#object", resource.GetProperty("kind").GetString());
        Assert.Equal("spotjax-b/job-1/markers/attempt-1/worker-0/exited/1712345678901234", resource.GetProperty("id").GetString());
        Assert.Equal("job-1/markers/attempt-1/worker-0/exited", resource.GetProperty("name").GetString());
        Assert.Equal("spotjax-b", resource.GetProperty("bucket").GetString());
        // int64 fields are strings in the JSON API.
        Assert.Equal("1712345678901234", resource.GetProperty("generation").GetString());
        Assert.Equal("42", resource.GetProperty("size").GetString());
        Assert.Equal("2026-12-05T08:00:01.250Z", resource.GetProperty("updated").GetString());
        Assert.Equal("1B2M2Y8AsgTpgAmY7PhCfg==", resource.GetProperty("md5Hash").GetString());
    }
}
