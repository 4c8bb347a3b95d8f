using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;
using SpotJax.Core.Jobs;

namespace SpotJax.Core.Events;

/// <summary>
/// One message of the <c>job-events</c> topic, version 1 (<c>schema/job-event.schema.json</c>,
/// <c>docs/job-events.md</c>): a transition of one job, written to the job store's outbox in the
/// same atomic write as the transition and published from there.
/// </summary>
/// <remarks>
/// The <see cref="Id"/> is <c>&lt;jobId&gt;/&lt;n&gt;</c>, n being the transition's place in the job's
/// history (1 for the submission), so every copy of one event, however often it is republished,
/// carries the same id and a subscriber deduplicates on it.
/// </remarks>
public sealed record JobEvent
{
    /// <summary>The value of <see cref="SpecVersion"/> in this version of the message.</summary>
    public const string Version1 = "spotjax.job-event/v1";

    [JsonPropertyName("specversion")]
    public string SpecVersion { get; init; } = Version1;

    public required string Id { get; init; }
    public required string JobId { get; init; }

    /// <summary><c>state</c>, <c>preempted</c> or <c>stall-warning</c> (<see cref="JobEventTypes"/>).</summary>
    public required string Type { get; init; }

    /// <summary>The state before; null for the job's first event.</summary>
    public JobState? From { get; init; }

    public required JobState To { get; init; }
    public int Attempt { get; init; }
    public required DateTimeOffset At { get; init; }

    /// <summary>The deployment that runs the job; null for a job created before deployments had names.</summary>
    public string? Deployment { get; init; }

    /// <summary>The history's cause line: why the transition happened.</summary>
    public string? Detail { get; init; }

    /// <summary>The event of the <paramref name="sequence"/>-th history entry of <paramref name="job"/>.</summary>
    public static JobEvent Of(Job job, long sequence, HistoryEntry entry)
    {
        ArgumentNullException.ThrowIfNull(job);
        ArgumentNullException.ThrowIfNull(entry);
        ArgumentOutOfRangeException.ThrowIfLessThan(sequence, 1);
        return new JobEvent
        {
            Id = IdOf(job.Id, sequence),
            JobId = job.Id,
            Type = JobEventTypes.Of(entry),
            From = entry.From,
            To = entry.To,
            Attempt = entry.Attempt,
            At = entry.At,
            Deployment = job.Deployment,
            Detail = entry.Cause,
        };
    }

    /// <summary><c>&lt;jobId&gt;/&lt;sequence&gt;</c>.</summary>
    public static string IdOf(string jobId, long sequence) =>
        jobId + "/" + sequence.ToString(CultureInfo.InvariantCulture);

    public byte[] ToBytes() => JsonSerializer.SerializeToUtf8Bytes(this, SpotJaxJson.Options);

    /// <summary>Reads a message; <see cref="FormatException"/> when it is not a v1 job event.</summary>
    public static JobEvent Parse(ReadOnlySpan<byte> data)
    {
        JobEvent? parsed;
        try
        {
            parsed = JsonSerializer.Deserialize<JobEvent>(data, SpotJaxJson.Options);
        }
        catch (JsonException e)
        {
            throw new FormatException($"not a job event: {e.Message}", e);
        }

        if (parsed is null || parsed.SpecVersion != Version1)
        {
            throw new FormatException($"not a {Version1} job event");
        }

        return parsed;
    }
}

/// <summary>The values of <see cref="JobEvent.Type"/>.</summary>
public static class JobEventTypes
{
    /// <summary>A change of state (including the submission, with no <c>from</c>).</summary>
    public const string State = "state";

    /// <summary>The attempt was preempted and the job is RECOVERING for another one.</summary>
    public const string Preempted = "preempted";

    /// <summary>No checkpoint for the stall window with action <c>warn</c>: the state stays RUNNING.</summary>
    public const string StallWarning = "stall-warning";

    /// <summary>
    /// Which kind of event a history entry is. The history keeps the lifecycle's cause line, whose
    /// first words name it (<c>JobLifecycle.EndAttempt</c>'s "preempted", <c>WarnStall</c>'s "stalled:").
    /// </summary>
    public static string Of(HistoryEntry entry)
    {
        ArgumentNullException.ThrowIfNull(entry);
        if (entry.From == entry.To && entry.To == JobState.Running && entry.Cause.StartsWith("stalled:", StringComparison.Ordinal))
        {
            return StallWarning;
        }

        return entry.To == JobState.Recovering && entry.Cause.StartsWith("preempted", StringComparison.Ordinal) ? Preempted : State;
    }
}
