using SpotJax.Core.Jobs;

namespace SpotJax.Core.Status;

/// <summary>Reads a job's attempts out of its history (the transitions every function appends).</summary>
public static class JobTimeline
{
    private const string ProvisioningCause = "provisioning a Spot ";

    /// <summary>The attempts in order; the last one is open (no end) while the job is still on it.</summary>
    public static IReadOnlyList<AttemptSpan> Attempts(IReadOnlyList<HistoryEntry> history)
    {
        ArgumentNullException.ThrowIfNull(history);
        var spans = new List<AttemptSpan>();
        foreach (var entry in history)
        {
            if (entry.To == JobState.Provisioning && entry.Attempt > 0 && spans.All(s => s.Attempt != entry.Attempt))
            {
                spans.Add(new AttemptSpan(entry.Attempt, ZoneOf(entry.Cause), entry.At, null, null, null, null));
                continue;
            }

            var index = spans.FindIndex(s => s.Attempt == entry.Attempt);
            if (index < 0 || spans[index].End is not null)
            {
                continue;
            }

            var span = spans[index];
            spans[index] = entry.To switch
            {
                JobState.Running => span with { RunningAt = span.RunningAt ?? entry.At },
                JobState.Recovering or JobState.Succeeded or JobState.Failed or JobState.Cancelling or JobState.Cancelled =>
                    span with { EndedAt = entry.At, End = entry.To, Cause = entry.Cause },
                _ => span,
            };
        }

        return spans;
    }

    // "provisioning a Spot v4-8 in us-central2-b": the zone is the last word.
    private static string? ZoneOf(string cause) =>
        cause.StartsWith(ProvisioningCause, StringComparison.Ordinal) ? cause[(cause.LastIndexOf(' ') + 1)..] : null;
}
