using System.Text.Json;
using System.Text.Json.Serialization;
using System.Text.RegularExpressions;

namespace SpotJax.Core.Steps;

/// <summary>
/// The node agent's <c>exited</c> marker: <c>{"exitCode": N, "preemptionNotice": bool, "outputTail": "..."}</c>;
/// <c>outputTail</c> (the end of a failed script's output) is absent from older agents' markers.
/// </summary>
public sealed partial record ExitMarker
{
    /// <summary>Most lines of <see cref="OutputTail"/> kept, as the agent bounds it.</summary>
    public const int MaxTailLines = 20;

    /// <summary>Most characters of <see cref="OutputTail"/> kept, as the agent bounds it.</summary>
    public const int MaxTailChars = 2048;

    [JsonPropertyName("exitCode")] public int ExitCode { get; init; }
    [JsonPropertyName("preemptionNotice")] public bool PreemptionNotice { get; init; }

    /// <summary>The last lines of the script's output, as the worker wrote them (untrusted: see <see cref="SafeOutputTail"/>).</summary>
    [JsonPropertyName("outputTail")] public string? OutputTail { get; init; }

    /// <summary>
    /// <see cref="OutputTail"/> held to the agent's bounds and stripped of control characters, since the
    /// marker comes from a worker and ends up in a job's error shown on terminals and pages; null when empty.
    /// </summary>
    public string? SafeOutputTail() => SafeTail(OutputTail);

    /// <summary>An output tail from a worker's marker held to the agent's bounds and stripped of control characters; null when empty.</summary>
    public static string? SafeTail(string? outputTail)
    {
        if (string.IsNullOrWhiteSpace(outputTail))
        {
            return null;
        }

        var text = outputTail.Length > MaxTailChars ? outputTail[^MaxTailChars..] : outputTail;
        var lines = text.Split('\n').Select(line => ControlCharacters().Replace(line, "").TrimEnd()).ToList();
        var kept = lines.Skip(Math.Max(0, lines.Count - MaxTailLines)).SkipWhile(string.IsNullOrEmpty);
        var tail = string.Join('\n', kept).TrimEnd();
        return tail.Length == 0 ? null : tail;
    }

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

    /// <summary>One line from a worker's marker, without control characters, at most <paramref name="maxChars"/> characters.</summary>
    public static string SafeLine(string? text, int maxChars)
    {
        var line = ControlCharacters().Replace((text ?? "").ReplaceLineEndings(" "), "").Trim();
        return line.Length <= maxChars ? line : line[..maxChars];
    }

    // ANSI colour sequences lose their ESC here and leave "[31m" behind: harmless, unlike the ESC itself.
    [GeneratedRegex(@"[\u0000-\u0008\u000B-\u001F\u007F-\u009F\u200B-\u200F\u202A-\u202E\u2066-\u2069]")]
    private static partial Regex ControlCharacters();
}
