using System.Text;
using System.Text.Json.Nodes;
using SpotJax.Core.Jobs;

namespace SpotJax.Chaos;

/// <summary>A preemption planned for one attempt: while it launches, or once it has been RUNNING for <see cref="After"/>.</summary>
internal sealed record PlannedPreemption(bool WhileLaunching, TimeSpan After);

/// <summary>One job of the run, as planned from the seed, and what the run learnt about it.</summary>
internal sealed class PlannedJob
{
    public required int Index { get; init; }
    public required string Name { get; init; }
    public required byte[] Document { get; init; }
    public required string SubmissionId { get; init; }

    /// <summary>Uploaded as a manifest under <c>jobs/</c> rather than published.</summary>
    public bool Manifest { get; init; }

    /// <summary>Published twice (same message, same submission id), or its manifest's upload notified twice.</summary>
    public bool Double { get; init; }

    /// <summary>Cancelled this long after the submissions began; null: never.</summary>
    public TimeSpan? CancelAfter { get; init; }

    public required List<PlannedPreemption> PreemptionsLeft { get; init; }

    public string ManifestName => $"jobs/{Name}.json";

    /// <summary>The job's id: known up front for a published job; found in the store for a manifest (it holds the generation).</summary>
    public string? JobId { get; set; }

    public int LastPreemptedAttempt { get; set; }
    public bool SecondNotificationSent { get; set; }
    public bool CancelSent { get; set; }
    public DateTimeOffset? CancelSentAt { get; set; }
}

/// <summary>A document no one should run: it must end REJECTED (or, for a cancel, change nothing).</summary>
internal sealed class HostileDocument
{
    public required string What { get; init; }
    public required byte[] Document { get; init; }
    public required string SubmissionId { get; init; }

    /// <summary>The object name when it is uploaded as a manifest; null: published.</summary>
    public string? Manifest { get; init; }

    /// <summary>Whether a REJECTED job must come of it (a cancel of a job that does not exist makes none).</summary>
    public bool ExpectJob { get; init; } = true;

    public string? JobId { get; set; }
}

/// <summary>The jobs and documents of one run, drawn from the seed.</summary>
internal sealed class ChaosPlan
{
    public required IReadOnlyList<PlannedJob> Jobs { get; init; }
    public required IReadOnlyList<HostileDocument> Hostile { get; init; }

    /// <summary>How many jobs must exist at the end: one per planned job and one per hostile document that makes one.</summary>
    public int ExpectedJobs => Jobs.Count + Hostile.Count(h => h.ExpectJob);

    public static ChaosPlan Create(ChaosOptions options, Random random, string scriptLedger, string codeUri)
    {
        var jobs = new List<PlannedJob>();
        for (var i = 0; i < options.Jobs; i++)
        {
            var name = $"chaos-{i}";
            var zone = i % 2 == 0 ? ChaosRun.ZoneA : ChaosRun.ZoneB;
            var other = i % 2 == 0 ? ChaosRun.ZoneB : ChaosRun.ZoneA;
            var tpu = new JsonObject { ["type"] = i % 4 == 3 ? "v4-16" : "v4-8" };
            if (i % 5 == 4)
            {
                tpu["zones"] = new JsonArray(zone, other);
            }
            else
            {
                tpu["zone"] = zone;
            }

            var document = new JsonObject
            {
                ["name"] = name,
                ["tpu"] = tpu,
                ["code"] = codeUri,
                ["script"] = "train.py",
                ["args"] = new JsonArray("--steps", options.Steps.ToString(System.Globalization.CultureInfo.InvariantCulture), "--step-seconds", "0.2"),
                ["env"] = new JsonObject { ["CHAOS_LEDGER"] = scriptLedger },
                ["stall"] = new JsonObject { ["minutes"] = 10, ["action"] = "warn" },
            };
            var (min, max) = options.PreemptionsPerJob;
            var preemptions = min + random.Next(max - min + 1);
            var submissionId = $"chaos-{options.Seed}-{i}";
            var manifest = i % 5 == 1;
            jobs.Add(new PlannedJob
            {
                Index = i,
                Name = name,
                Document = Encoding.UTF8.GetBytes(document.ToJsonString()),
                SubmissionId = submissionId,
                Manifest = manifest,
                Double = i is 0 or 1 || random.NextDouble() < 0.15,
                CancelAfter = i == options.Jobs - 1 || (options.Jobs >= 10 && random.NextDouble() < 0.1)
                    ? TimeSpan.FromSeconds(5 + random.Next(20))
                    : null,
                PreemptionsLeft = Enumerable.Range(0, preemptions)
                    .Select(_ => new PlannedPreemption(random.NextDouble() < 0.25, TimeSpan.FromSeconds(0.5 + random.NextDouble() * 2.5)))
                    .ToList(),
                JobId = manifest ? null : JobId.From(name, "client:" + submissionId),
            });
        }

        return new ChaosPlan { Jobs = jobs, Hostile = HostileDocuments(options, codeUri) };
    }

    private static List<HostileDocument> HostileDocuments(ChaosOptions options, string codeUri)
    {
        HostileDocument Published(string what, string name, string json) => new()
        {
            What = what,
            Document = Encoding.UTF8.GetBytes(json),
            SubmissionId = $"chaos-{options.Seed}-{name}",
            JobId = JobId.From(name, $"client:chaos-{options.Seed}-{name}"),
        };

        var traversal = Published(
            "script escaping the code folder", "hostile-traversal",
            $$"""{"name": "hostile-traversal", "tpu": {"type": "v4-8", "zone": "{{ChaosRun.ZoneA}}"}, "code": "{{codeUri}}", "script": "../../../etc/passwd"}""");
        var garbage = new HostileDocument
        {
            What = "bytes that are no document",
            Document = [0xff, 0xfe, 0x00, 0x7b, 0x22, 0xc3, 0x28, 0x0a],
            SubmissionId = $"chaos-{options.Seed}-garbage",
            JobId = JobId.From("rejected", $"client:chaos-{options.Seed}-garbage"),
        };
        var yaml = new HostileDocument
        {
            What = "manifest that is broken YAML",
            Document = Encoding.UTF8.GetBytes("name: hostile-yaml\ntpu: {type: v4-8, zone: [unterminated\nscript: train.py\n"),
            SubmissionId = "",
            Manifest = "jobs/hostile-yaml.yaml",
        };
        var cancelNobody = new HostileDocument
        {
            What = "cancel of a job that does not exist",
            Document = Encoding.UTF8.GetBytes("""{"cancel": "chaos-nosuchjob-0123456789"}"""),
            SubmissionId = $"chaos-{options.Seed}-cancel-nobody",
            ExpectJob = false,
        };
        if (options.Short)
        {
            return [traversal, garbage, yaml, cancelNobody];
        }

        var env = Published(
            "environment variable name with a shell command", "hostile-env",
            $$$"""{"name": "hostile-env", "tpu": {"type": "v4-8", "zone": "{{{ChaosRun.ZoneB}}}"}, "code": "{{{codeUri}}}", "script": "train.py", "env": {"X;touch /tmp/spotjax-chaos-pwned": "1"}}""");
        var cancelPath = new HostileDocument
        {
            What = "cancel naming a path instead of a job id",
            Document = Encoding.UTF8.GetBytes("""{"cancel": "../../jobs/x"}"""),
            SubmissionId = $"chaos-{options.Seed}-cancel-path",
            ExpectJob = false,
        };
        return [traversal, garbage, yaml, cancelNobody, env, cancelPath];
    }
}
