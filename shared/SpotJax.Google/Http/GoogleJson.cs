using System.Text.Json;
using System.Text.Json.Serialization;

namespace SpotJax.Google.Http;

/// <summary>proto3 JSON as the Google REST APIs speak it.</summary>
public static class GoogleJson
{
    /// <summary>camelCase, nulls omitted on write, numbers also read from strings (int64 fields arrive as strings).</summary>
    public static JsonSerializerOptions Options { get; } = new(JsonSerializerDefaults.Web)
    {
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    };
}
