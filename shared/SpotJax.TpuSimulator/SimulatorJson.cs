using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace SpotJax.TpuSimulation;

/// <summary>proto3 JSON as the Cloud TPU API writes it.</summary>
internal static class SimulatorJson
{
    public static JsonSerializerOptions Options { get; } = new(JsonSerializerDefaults.Web)
    {
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    };

    /// <summary>An RFC 3339 UTC timestamp with milliseconds, as <c>google.protobuf.Timestamp</c> is written.</summary>
    public static string Timestamp(DateTimeOffset time) =>
        time.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture);
}
