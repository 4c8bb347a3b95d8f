using System.Text.Json;
using System.Text.Json.Serialization;

namespace SpotJax.Core.Steps;

/// <summary>
/// The node agent's <c>prepare-failed</c> marker: <c>{"step": "setup", "message": "...", "outputTail": "...", "time": "..."}</c>,
/// written instead of <c>exited</c> when a preparation step (code, setup script, requirements) failed.
/// </summary>
public sealed record PrepareFailedMarker
{
    private const int MaxStepChars = 40;
    private const int MaxMessageChars = 500;

    [JsonPropertyName("step")] public string? Step { get; init; }
    [JsonPropertyName("message")] public string? Message { get; init; }

    /// <summary>The end of the preparation log (untrusted, as all of the marker).</summary>
    [JsonPropertyName("outputTail")] public string? OutputTail { get; init; }

    /// <summary>The failed step's name, safe to show; <c>unknown</c> when the marker has none.</summary>
    public string SafeStep() => ExitMarker.SafeLine(Step, MaxStepChars) is { Length: > 0 } step ? step : "unknown";

    /// <summary>The failure's one-line message, safe to show.</summary>
    public string SafeMessage() => ExitMarker.SafeLine(Message, MaxMessageChars);

    /// <summary>The end of the preparation log, safe to show; null when empty.</summary>
    public string? SafeOutputTail() => ExitMarker.SafeTail(OutputTail);

    /// <summary>An unreadable marker still ends the attempt, with an unknown step.</summary>
    public static PrepareFailedMarker Parse(byte[] body)
    {
        try
        {
            return JsonSerializer.Deserialize<PrepareFailedMarker>(body, SpotJaxJson.Options) ?? new PrepareFailedMarker();
        }
        catch (JsonException)
        {
            return new PrepareFailedMarker { Message = "unreadable prepare-failed marker" };
        }
    }
}
