using SpotJax.Core.Jobs;

namespace SpotJax.Cli;

/// <summary>How a transition looks in a live timeline (<c>run</c>, <c>submit --follow</c>) and in <c>status</c>.</summary>
public static class TimelineFormat
{
    /// <summary>The Spectre colour of a state: green done, red failed, yellow on the way to recovery or cancellation.</summary>
    public static string Colour(JobState state) => state switch
    {
        JobState.Succeeded => "green",
        JobState.Failed or JobState.Rejected => "red",
        JobState.Recovering or JobState.Cancelling or JobState.Cancelled => "yellow",
        _ => "blue",
    };

    /// <summary><c>attempt N · </c>, or nothing before the first attempt.</summary>
    public static string Attempt(HistoryEntry entry) => entry.Attempt > 0 ? $"attempt {entry.Attempt} · " : "";
}
