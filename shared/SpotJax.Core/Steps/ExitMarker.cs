using System.Text.Json;
using System.Text.Json.Serialization;

namespace SpotJax.Core.Steps;

/// <summary>The node agent's <c>exited</c> marker: <c>{"exitCode": N, "preemptionNotice": bool}</c>.</summary>
public sealed record ExitMarker
{
    [JsonPropertyName("exitCode")] public int ExitCode { get; init; }
    [JsonPropertyName("preemptionNotice")] public bool PreemptionNotice { get; init; }

    /// <summary>An unreadable marker counts as a failed exit, never as success.</summary>
    public static ExitMarker Parse(byte[] body)
    {
        try
        {
            return JsonSerializer.Deserialize<ExitMarker>(body, SpotJaxJson.Options) ?? new ExitMarker { ExitCode = -1 };
        }
        catch (JsonException)
        {
            return new ExitMarker { ExitCode = -1 };
        }
    }
}
