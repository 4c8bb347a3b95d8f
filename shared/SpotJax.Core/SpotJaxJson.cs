using System.Text.Json;
using System.Text.Json.Serialization;
using SpotJax.Core.Jobs;

namespace SpotJax.Core;

/// <summary>The one JSON setup for SpotJax's own documents (jobs, history, step messages, markers).</summary>
public static class SpotJaxJson
{
    /// <summary>camelCase properties, nulls omitted, enums as strings (job states upper-case, other enums lower-case).</summary>
    public static JsonSerializerOptions Options { get; } = Create();

    private static JsonSerializerOptions Create()
    {
        var options = new JsonSerializerOptions(JsonSerializerDefaults.Web)
        {
            DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
        };
        options.Converters.Add(new JsonStringEnumConverter<JobState>(JsonNamingPolicy.SnakeCaseUpper, allowIntegerValues: false));
        options.Converters.Add(new JsonStringEnumConverter(JsonNamingPolicy.SnakeCaseLower, allowIntegerValues: false));
        options.MakeReadOnly(populateMissingResolver: true);
        return options;
    }
}
