using SpotJax.Core.Jobs;

namespace SpotJax.Contracts;

/// <summary>Fully populated job documents, so that a round trip through a store checks every field.</summary>
public static class TestJobs
{
    public static readonly DateTimeOffset Epoch = new(2025, 3, 14, 9, 26, 53, TimeSpan.FromHours(2));

    public static string NewId() => $"job-{Guid.NewGuid():N}"[..30];

    public static Job Create(string id, JobState state = JobState.Queued, DateTimeOffset? submittedAt = null)
    {
        var submitted = submittedAt ?? Epoch;
        return new Job
        {
            Id = id,
            Submission = $"pubsub:{id}",
            Deployment = "staging",
            Spec = new JobSpec
            {
                Name = "llama-tiny",
                Tpu = new TpuSpec { Type = "v5litepod-16", Zones = ["us-central1-a", "europe-west4-b"], RuntimeVersion = "v2-alpha-tpuv5-lite" },
                Code = "gs://bucket/code/llama.tar.gz",
                Script = "train/main.py",
                Args = ["--steps", "1000", "--name=with space"],
                Env = new Dictionary<string, string> { ["LEARNING_RATE"] = "3e-4", ["XLA_FLAGS"] = "--xla_dump_to=/tmp" },
                MaxRetries = 3,
                MaxPreemptions = 40,
                Stall = new StallPolicy(15, StallAction.Restart),
                ProvisionTimeoutMinutes = 30,
                CheckpointDir = "gs://bucket/elsewhere/ckpt",
                MaxCostUsd = 250.5m,
                Notify = new NotifySpec("https://hooks.example.com/services/T0/B0/x", NotifyFormat.Slack),
            },
            State = state,
            Attempt = 2,
            ZoneIndex = 1,
            Zone = "europe-west4-b",
            QueuedResourceId = $"{id}-2",
            Workers = 4,
            SubmittedAt = submitted,
            StartedAt = submitted.AddMinutes(3).AddTicks(1234567),
            LastCheckpointAt = submitted.AddHours(1).ToOffset(TimeSpan.FromHours(-7)),
            LastCheckpointStep = 5_000_000_000,
            UpdatedAt = submitted.AddHours(1),
            LaunchLeaseUntil = submitted.AddMinutes(38).AddTicks(7654321),
            AgentsStartedAt = submitted.AddMinutes(2).AddTicks(2345678),
            PreparedWorkers = [0, 1, 2, 3],
            PreemptionsSpent = 1,
            FailuresSpent = 1,
            ZonePreemptions = 1,
            LastError = "preempted: maintenance event",
            Billing =
            [
                new BillingEntry(1, "us-central1-a", "v5litepod-16", 16, Spot: true, submitted.AddMinutes(3).AddTicks(1234567), submitted.AddMinutes(40)),
                new BillingEntry(2, "europe-west4-b", "v5litepod-16", 16, Spot: true, submitted.AddMinutes(45), EndedAt: null),
            ],
            CancelReason = CancelReasons.User,
        };
    }

    public static HistoryEntry Entry(JobState? from, JobState to, string cause, int attempt = 0) =>
        new(Epoch.AddSeconds(attempt), from, to, attempt, cause);
}
