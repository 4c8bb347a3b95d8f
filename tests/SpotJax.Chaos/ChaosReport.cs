using System.Globalization;
using System.Text;
using System.Text.Json;
using SpotJax.Core.Jobs;
using SpotJax.Google.Tests.EndToEnd;
using SpotJax.TpuSimulation;

namespace SpotJax.Chaos;

/// <summary>One line the training script appended to the script ledger.</summary>
internal sealed record ScriptLine(double T, string Kind, string Job, int Attempt, int Worker, int Pid, long? Step, long? Resumed)
{
    public DateTimeOffset At => DateTimeOffset.FromUnixTimeMilliseconds((long)(T * 1000));
}

/// <summary>The recovery of one preemption, split at the job's history entries.</summary>
internal sealed record Recovery(PreemptionRecord Preemption, TimeSpan Detection, TimeSpan Teardown, TimeSpan Provisioning, TimeSpan Launch)
{
    public TimeSpan Total => Detection + Teardown + Provisioning + Launch;
}

/// <summary>The table a chaos run prints, and its violations, each naming the job and the evidence.</summary>
internal sealed partial class ChaosReport
{
    /// <summary>Deliveries of one message after which Pub/Sub dead-letters it (infra: <c>var.max_delivery_attempts</c>, default 10).</summary>
    public const int MaxDeliveryAttempts = 10;

    public required string Table { get; init; }
    public required IReadOnlyList<string> Violations { get; init; }

    public static async Task<ChaosReport> BuildAsync(ChaosOptions options, ChaosEvidence evidence, PushDeployment deployment)
    {
        var violations = new List<string>();
        var plan = evidence.Plan;
        var store = deployment.Store;
        var none = CancellationToken.None;
        var all = await store.ListRecentAsync(1000, none);
        var byId = all.ToDictionary(j => j.Id);
        var lines = ReadScriptLedger(evidence.ScriptLedger);
        var ledger = deployment.Simulator.Ledger.Where(e => e.Project == deployment.Project).ToList();

        // Final states.
        var finals = new Dictionary<JobState, int>();
        foreach (var job in plan.Jobs)
        {
            var state = job.JobId is not null && byId.TryGetValue(job.JobId, out var stored) ? stored.State : (JobState?)null;
            if (state is { } s)
            {
                finals[s] = finals.GetValueOrDefault(s) + 1;
            }

            var expected = job.CancelAfter is not null ? "CANCELLED (or SUCCEEDED if it ended before the cancel)" : "SUCCEEDED";
            var fine = state == JobState.Succeeded || (job.CancelAfter is not null && state == JobState.Cancelled);
            if (!fine)
            {
                var last = job.JobId is not null && byId.TryGetValue(job.JobId, out var j) ? $"attempt {j.Attempt}, last error: {j.LastError}" : "no such job in the store";
                violations.Add($"job {job.JobId ?? job.Name} ended {state?.ToWire() ?? "nowhere"}, expected {expected}: {last}");
            }
        }

        foreach (var hostile in plan.Hostile.Where(h => h.ExpectJob))
        {
            var state = hostile.JobId is not null && byId.TryGetValue(hostile.JobId, out var stored) ? stored.State : (JobState?)null;
            if (state != JobState.Rejected)
            {
                violations.Add($"hostile document ({hostile.What}) job {hostile.JobId ?? "?"} is {state?.ToWire() ?? "missing"}, expected REJECTED");
            }
        }

        // Duplicate and unexpected jobs: every job in the store must belong to exactly one submission of the plan.
        var known = plan.Jobs.Select(j => j.JobId).Concat(plan.Hostile.Select(h => h.JobId)).OfType<string>().ToHashSet();
        var duplicates = 0;
        foreach (var job in all.Where(j => !known.Contains(j.Id)))
        {
            duplicates++;
            violations.Add($"job {job.Id} (submission {job.Submission}, {job.State.ToWire()}) belongs to no submission of the run: a duplicate");
        }

        // Queued resources created per attempt, and only for the run's jobs.
        var attemptsOf = plan.Jobs.Where(j => j.JobId is not null).ToDictionary(j => j.JobId!);
        var creates = ledger.Where(e => e.Event == LedgerEvent.Created).GroupBy(e => e.QueuedResourceId).ToList();
        foreach (var group in creates.Where(g => g.Count() > 1))
        {
            violations.Add($"queued resource {group.Key} was created {group.Count()} times, at {string.Join(", ", group.Select(e => e.At.ToString("HH:mm:ss.fff", CultureInfo.InvariantCulture)))}");
        }

        foreach (var group in creates.Where(g => !attemptsOf.Keys.Any(id => g.Key.StartsWith(id + "-", StringComparison.Ordinal))))
        {
            violations.Add($"queued resource {group.Key} belongs to no job of the run (a hostile document got a TPU?)");
        }

        // The scripts' own evidence.
        var overlaps = Overlaps(lines, violations);
        var doubleStarts = DoubleStarts(lines, violations);
        var regressions = Regressions(lines, violations);
        foreach (var job in plan.Jobs.Where(j => j.JobId is not null && byId.TryGetValue(j.JobId, out var s) && s.State == JobState.Succeeded))
        {
            var stored = byId[job.JobId!];
            if (!lines.Any(l => l.Job == job.JobId && l.Attempt == stored.Attempt && l.Worker == 0 && l.Kind == "finished"))
            {
                violations.Add($"job {job.JobId} SUCCEEDED on attempt {stored.Attempt}, but worker 0's script of that attempt never logged that it finished");
            }
        }

        foreach (var orphan in evidence.LeftBehind)
        {
            violations.Add($"queued resource {orphan} was left behind {options.OrphanPatience.TotalMinutes} minutes after every job ended");
        }

        if (evidence.Answers.TryGetValue(500, out var crashes))
        {
            violations.Add($"{crashes} push(es) were answered 500: a handler failed in a way it does not classify (see the hosts' output)");
        }

        var deadLettered = evidence.FailedDeliveries.Where(f => f.Value >= MaxDeliveryAttempts).ToList();
        foreach (var (message, failures) in deadLettered)
        {
            violations.Add($"message {message} failed {failures} deliveries: Pub/Sub would dead-letter it after {MaxDeliveryAttempts}");
        }

        var stuck = plan.Jobs.Where(j => j.JobId is null || !byId.TryGetValue(j.JobId, out var s) || !s.State.IsTerminal()).ToList();
        foreach (var job in stuck)
        {
            var stored = job.JobId is not null && byId.TryGetValue(job.JobId, out var s) ? s : null;
            violations.Add($"job {job.JobId ?? job.Name} is stuck in {stored?.State.ToWire() ?? "nowhere"} (attempt {stored?.Attempt}) after {options.Limit.TotalMinutes} minutes");
        }

        var recoveries = new List<Recovery>();
        var unrecovered = 0;
        foreach (var preemption in evidence.Preemptions)
        {
            var history = await store.GetHistoryAsync(preemption.JobId, none);
            if (RecoveryOf(preemption, history) is { } recovery)
            {
                recoveries.Add(recovery);
            }
            else
            {
                unrecovered++;
            }
        }

        var reasons = RetryReasons(deployment);
        var sweeps = deployment.SweepPasses;
        if (sweeps.Succeeded == 0)
        {
            violations.Add($"the sweep never completed a pass ({sweeps.Failed} answered with an error, {sweeps.Unanswered} unanswered)");
        }

        var table = Format(options, evidence, finals, duplicates, creates.Count == 0 ? 0 : creates.Max(g => g.Count()), creates.Count, overlaps, doubleStarts, regressions, deadLettered.Count, stuck.Count, recoveries, unrecovered, lines, sweeps);
        return new ChaosReport { Table = table + reasons, Violations = violations };
    }

    /// <summary>Why the hosts asked for redeliveries, ids and numbers blanked out, most frequent first.</summary>
    private static string RetryReasons(PushDeployment deployment)
    {
        var reasons = new Dictionary<string, int>();
        foreach (var function in Functions.FunctionNames.All)
        {
            foreach (var line in deployment.OutputOf(function).Split('\n'))
            {
                if (!line.Contains("will be retried: ", StringComparison.Ordinal) || MessageOf(line) is not { } message)
                {
                    continue;
                }

                var reason = Numbers().Replace(message["will be retried: ".Length..], "#");
                reason = $"{function}: {reason[..Math.Min(reason.Length, 160)]}";
                reasons[reason] = reasons.GetValueOrDefault(reason) + 1;
            }
        }

        var text = new StringBuilder("\nredeliveries the hosts asked for, by reason:\n");
        foreach (var (reason, count) in reasons.OrderByDescending(r => r.Value).Take(15))
        {
            text.AppendLine(CultureInfo.InvariantCulture, $"  {count,5}  {reason}");
        }

        return text.ToString();
    }

    /// <summary>The <c>message</c> of a structured log line, or null for any other line.</summary>
    private static string? MessageOf(string line)
    {
        try
        {
            using var json = JsonDocument.Parse(line);
            return json.RootElement.TryGetProperty("message", out var message) ? message.GetString() : null;
        }
        catch (JsonException)
        {
            return null;
        }
    }

    /// <summary>Job ids' hashes, attempts, times and counts, so that one reason is counted once.</summary>
    [System.Text.RegularExpressions.GeneratedRegex(@"\d{4}-\d\d-\d\dT[0-9:.+Z-]+|[0-9a-f]{10}(-\d+)?|\d+")]
    private static partial System.Text.RegularExpressions.Regex Numbers();

    private static List<ScriptLine> ReadScriptLedger(string path)
    {
        if (!File.Exists(path))
        {
            return [];
        }

        var lines = new List<ScriptLine>();
        foreach (var text in File.ReadAllLines(path))
        {
            using var json = JsonDocument.Parse(text);
            var root = json.RootElement;
            lines.Add(new ScriptLine(
                root.GetProperty("t").GetDouble(),
                root.GetProperty("kind").GetString()!,
                root.GetProperty("job").GetString()!,
                root.GetProperty("attempt").GetInt32(),
                root.GetProperty("worker").GetInt32(),
                root.GetProperty("pid").GetInt32(),
                root.TryGetProperty("step", out var step) ? step.GetInt64() : null,
                root.TryGetProperty("resumed", out var resumed) ? resumed.GetInt64() : null));
        }

        return lines;
    }

    /// <summary>An earlier attempt of a job still stepping, saving or exiting after a later one started.</summary>
    private static int Overlaps(List<ScriptLine> lines, List<string> violations)
    {
        var count = 0;
        foreach (var job in lines.GroupBy(l => l.Job))
        {
            foreach (var start in job.Where(l => l.Kind == "start").GroupBy(l => l.Attempt).Select(g => g.MinBy(l => l.T)!))
            {
                var late = job.Where(l => l.Attempt < start.Attempt && l.T > start.T).MinBy(l => l.T);
                if (late is not null)
                {
                    count++;
                    violations.Add($"job {job.Key}: attempt {late.Attempt} (worker {late.Worker}, pid {late.Pid}) logged '{late.Kind}' at {late.At:HH:mm:ss.fff}, after attempt {start.Attempt} started at {start.At:HH:mm:ss.fff}: two attempts ran at once");
                }
            }
        }

        return count;
    }

    private static int DoubleStarts(List<ScriptLine> lines, List<string> violations)
    {
        var count = 0;
        foreach (var group in lines.Where(l => l.Kind == "start").GroupBy(l => (l.Job, l.Attempt, l.Worker)).Where(g => g.Count() > 1))
        {
            count++;
            violations.Add($"job {group.Key.Job}: the script started {group.Count()} times for attempt {group.Key.Attempt} worker {group.Key.Worker} (pids {string.Join(", ", group.Select(l => l.Pid))})");
        }

        return count;
    }

    /// <summary>An attempt resuming below the highest checkpoint an earlier attempt had saved before it started.</summary>
    private static int Regressions(List<ScriptLine> lines, List<string> violations)
    {
        var count = 0;
        foreach (var job in lines.GroupBy(l => l.Job))
        {
            foreach (var start in job.Where(l => l.Kind == "start" && l.Attempt > 1))
            {
                var committed = job.Where(l => l.Kind == "save" && l.Attempt < start.Attempt && l.T < start.T).Select(l => l.Step ?? 0).DefaultIfEmpty(0).Max();
                if (start.Resumed < committed)
                {
                    count++;
                    violations.Add($"job {job.Key}: attempt {start.Attempt} worker {start.Worker} resumed at step {start.Resumed}, below step {committed} an earlier attempt had saved");
                }
            }
        }

        return count;
    }

    /// <summary>Notice to next RUNNING, split at RECOVERING, the next PROVISIONING and LAUNCHING; null if the job never ran again.</summary>
    private static Recovery? RecoveryOf(PreemptionRecord preemption, IReadOnlyList<HistoryEntry> history)
    {
        var next = preemption.Attempt + 1;
        var recovering = history.FirstOrDefault(e => e.To == JobState.Recovering && e.Attempt == preemption.Attempt);
        var provisioning = history.FirstOrDefault(e => e.To == JobState.Provisioning && e.Attempt == next);
        var launching = history.FirstOrDefault(e => e.To == JobState.Launching && e.Attempt == next);
        var running = history.FirstOrDefault(e => e.To == JobState.Running && e.Attempt == next);
        if (recovering is null || provisioning is null || launching is null || running is null)
        {
            return null;
        }

        var detected = recovering.At < preemption.At ? preemption.At : recovering.At;
        return new Recovery(preemption, detected - preemption.At, provisioning.At - detected, launching.At - provisioning.At, running.At - launching.At);
    }

    private static string Format(
        ChaosOptions options, ChaosEvidence evidence, Dictionary<JobState, int> finals, int duplicates, int maxCreates, int queuedResources,
        int overlaps, int doubleStarts, int regressions, int deadLettered, int stuck, List<Recovery> recoveries, int unrecovered, List<ScriptLine> lines,
        (int Succeeded, int Failed, int Unanswered) sweeps)
    {
        var plan = evidence.Plan;
        var text = new StringBuilder();
        void Row(string what, string value, string expected) => text.AppendLine(CultureInfo.InvariantCulture, $"| {what} | {value} | {expected} |");

        var kills = evidence.Kills;
        var preemptions = evidence.Preemptions;
        text.AppendLine(CultureInfo.InvariantCulture, $"chaos run: seed {options.Seed}, {plan.Jobs.Count} jobs{(options.Short ? " (short form)" : "")}, {plan.Hostile.Count} hostile documents");
        text.AppendLine(CultureInfo.InvariantCulture, $"injected: {evidence.Deliveries} pushes + {evidence.ExtraCopies} extra copies; {kills.Count} host kills ({Kinds(kills)}); " +
            $"{preemptions.Count} preemptions ({string.Join(", ", preemptions.GroupBy(p => p.Kind).Select(g => $"{g.Count()} {g.Key}"))}, {preemptions.Count(p => p.State == JobState.Launching)} while launching); " +
            $"mass preemption: {(evidence.MassPreemption is { } mass ? $"{mass.QueuedResources} in {mass.Zone}" : "none")}; " +
            $"cancels {plan.Jobs.Count(j => j.CancelSent)}; double submissions {plan.Jobs.Count(j => j.Double)}; " +
            $"TPU faults 429 {options.RateLimitRate:P0}, 503 {options.UnavailableRate:P0}, timeouts {options.TimeoutRate:P0}, create operation errors {options.OperationErrorRate:P0}");
        text.AppendLine(CultureInfo.InvariantCulture, $"every job ended after: {(evidence.AllEndedAfter is { } after ? $"{after.TotalSeconds:F0} s" : "not within the limit")}; script starts {lines.Count(l => l.Kind == "start")}");
        text.AppendLine(CultureInfo.InvariantCulture, $"sweep passes: {sweeps.Succeeded} answered 2xx, {sweeps.Failed} answered with an error, {sweeps.Unanswered} unanswered (host down or slower than 30 s)");
        text.AppendLine();
        text.AppendLine("| check | value | expected |");
        text.AppendLine("|---|---|---|");
        Row("jobs by final state", string.Join(", ", finals.OrderBy(f => f.Key).Select(f => $"{f.Key.ToWire()} {f.Value}")),
            $"SUCCEEDED {plan.Jobs.Count(j => j.CancelAfter is null)}, the {plan.Jobs.Count(j => j.CancelAfter is not null)} cancelled CANCELLED (or SUCCEEDED if done first)");
        Row("hostile documents rejected", $"{plan.Hostile.Count(h => h.ExpectJob && h.JobId is not null && evidence.LastSeen.TryGetValue(h.JobId, out var j) && j.State == JobState.Rejected)} of {plan.Hostile.Count(h => h.ExpectJob)} (+{plan.Hostile.Count(h => !h.ExpectJob)} cancels of no job)", "all REJECTED, no TPU");
        Row("duplicate jobs", $"{duplicates}", "0");
        Row("queued resources created per attempt (max)", $"{maxCreates} ({queuedResources} queued resources)", "1");
        Row("two attempts of one job running at once", $"{overlaps}", "0");
        Row("script started twice for one attempt and worker", $"{doubleStarts}", "0");
        Row("checkpoint regressions", $"{regressions}", "0");
        Row("orphaned queued resources at the end", $"{evidence.LeftBehind.Count}", "0");
        Row("messages dead-lettered", $"{deadLettered} (failed pushes: {evidence.FailedDeliveries.Values.Sum()} of {evidence.Deliveries})", "0");
        Row("stuck jobs", $"{stuck}", "0");
        Row("push answers by status", string.Join(", ", evidence.Answers.OrderBy(a => a.Key).Select(a => $"{a.Key}: {a.Value}")), "no 500");
        Row("recoveries measured", $"{recoveries.Count} of {preemptions.Count} preemptions ({unrecovered} not followed by a RUNNING attempt: the job was cancelled or had finished, or the attempt was already ending)", "");
        Row("recovery, notice to next RUNNING (p50 / p90 / max)", Percentiles(recoveries.Select(r => r.Total)), "");
        Row("  detection (notice to RECOVERING)", Percentiles(recoveries.Select(r => r.Detection)), "");
        Row("  teardown (RECOVERING to next PROVISIONING, with the backoff)", Percentiles(recoveries.Select(r => r.Teardown)), "");
        Row("  provisioning (PROVISIONING to LAUNCHING)", Percentiles(recoveries.Select(r => r.Provisioning)), "");
        Row("  launch (LAUNCHING to RUNNING)", Percentiles(recoveries.Select(r => r.Launch)), "");
        return text.ToString();
    }

    private static string Kinds(IReadOnlyList<KillRecord> kills) =>
        string.Join(", ", kills.GroupBy(k => k.Why.StartsWith("right after creating", StringComparison.Ordinal) ? "after a create"
            : k.Why.StartsWith("right after a worker", StringComparison.Ordinal) ? "after a worker launch"
            : k.Why == "right after a publish" ? "after a publish" : "at random").Select(g => $"{g.Count()} {g.Key}"));

    private static string Percentiles(IEnumerable<TimeSpan> values)
    {
        var sorted = values.Order().ToList();
        if (sorted.Count == 0)
        {
            return "-";
        }

        string At(double q) => sorted[Math.Min(sorted.Count - 1, (int)Math.Ceiling(q * sorted.Count) - 1)].TotalSeconds.ToString("F1", CultureInfo.InvariantCulture);
        return $"{At(0.5)} s / {At(0.9)} s / {sorted[^1].TotalSeconds.ToString("F1", CultureInfo.InvariantCulture)} s";
    }
}
