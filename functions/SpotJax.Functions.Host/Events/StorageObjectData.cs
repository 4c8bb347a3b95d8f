using System.Text.Json.Serialization;

namespace SpotJax.Functions.Host.Events;

/// <summary>
/// The object resource of a Storage event (<c>StorageObjectData</c>, the same fields as the JSON
/// API's <c>storage#object</c>). int64 fields arrive as strings from Eventarc and as numbers from
/// some tools: both are read.
/// </summary>
internal sealed record StorageObjectData
{
    [JsonPropertyName("bucket")] public string? Bucket { get; init; }
    [JsonPropertyName("name")] public string? Name { get; init; }

    [JsonPropertyName("generation")]
    [JsonNumberHandling(JsonNumberHandling.AllowReadingFromString)]
    public long Generation { get; init; }

    [JsonPropertyName("size")]
    [JsonNumberHandling(JsonNumberHandling.AllowReadingFromString)]
    public long Size { get; init; }

    [JsonPropertyName("updated")] public DateTimeOffset? Updated { get; init; }
    [JsonPropertyName("timeCreated")] public DateTimeOffset? TimeCreated { get; init; }
}
