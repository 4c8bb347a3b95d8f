using System.Collections.Concurrent;
using SpotJax.Core.Jobs;

namespace SpotJax.Chaos;

/// <summary>A preemption the run made: which attempt, when, why (planned, mass) and in which job state.</summary>
internal sealed record PreemptionRecord(string JobId, int Attempt, DateTimeOffset At, string Kind, JobState State);

/// <summary>A host the run killed: when, which function, and right after what.</summary>
internal sealed record KillRecord(DateTimeOffset At, string Function, string Why);

/// <summary>What the run did and saw, from which <see cref="ChaosReport"/> is built.</summary>
internal sealed class ChaosEvidence(string scriptLedger)
{
    private readonly ConcurrentQueue<KillRecord> kills = new();
    private readonly ConcurrentQueue<PreemptionRecord> preemptions = new();
    private readonly ConcurrentDictionary<string, int> failedDeliveries = new();
    private readonly ConcurrentDictionary<int, int> answers = new();
    private long deliveries;
    private long extraCopies;

    /// <summary>The file every training script appends its starts, steps, checkpoints and exits to (JSON lines).</summary>
    public string ScriptLedger { get; } = scriptLedger;

    public ChaosPlan Plan { get; set; } = null!;

    public IReadOnlyList<KillRecord> Kills => [.. kills];

    public IReadOnlyList<PreemptionRecord> Preemptions => [.. preemptions];

    /// <summary>Failed pushes per <c>function/messageId</c> (answers other than 2xx, the host down included).</summary>
    public IReadOnlyDictionary<string, int> FailedDeliveries => failedDeliveries;

    public long Deliveries => Interlocked.Read(ref deliveries);

    /// <summary>The hosts' answers to the pushes Pub/Sub counts, by HTTP status (503 includes a host that was down).</summary>
    public IReadOnlyDictionary<int, int> Answers => answers;

    public long ExtraCopies => Interlocked.Read(ref extraCopies);

    public (DateTimeOffset At, string Zone, int QueuedResources)? MassPreemption { get; set; }

    public IReadOnlyList<Job> AllJobs { get; set; } = [];

    public ConcurrentDictionary<string, Job> LastSeen { get; } = new();

    /// <summary>How long after the first submission every job had ended; null: not within the limit.</summary>
    public TimeSpan? AllEndedAfter { get; set; }

    /// <summary>Queued resources still there at the end, <c>zone/id (state)</c>.</summary>
    public IReadOnlyList<string> LeftBehind { get; set; } = [];

    public void Killed(string function, string why) => kills.Enqueue(new KillRecord(DateTimeOffset.UtcNow, function, why));

    public void Preempted(PreemptionRecord record) => preemptions.Enqueue(record);

    public void ExtraCopy() => Interlocked.Increment(ref extraCopies);

    public void Delivered(string function, string messageId, int status)
    {
        Interlocked.Increment(ref deliveries);
        answers.AddOrUpdate(status, 1, (_, n) => n + 1);
        if (status is < 200 or >= 300)
        {
            failedDeliveries.AddOrUpdate($"{function}/{messageId}", 1, (_, n) => n + 1);
        }
    }
}
