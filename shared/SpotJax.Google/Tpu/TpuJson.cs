using System.Text.Json;
using System.Text.Json.Serialization;

namespace SpotJax.Google.Tpu;

/// <summary>proto3 JSON as the Google REST APIs speak it.</summary>
internal static class TpuJson
{
    /// <summary>
    /// Nulls omitted on write; numbers accepted as strings on read because int64 fields arrive as strings.
    /// </summary>
    public static JsonSerializerOptions Options { get; } = new(JsonSerializerDefaults.Web)
    {
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    };
}
