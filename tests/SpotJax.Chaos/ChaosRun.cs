using System.Collections.Concurrent;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using SpotJax.Core;
using SpotJax.Core.Jobs;
using SpotJax.Core.Ports;
using SpotJax.Core.Steps;
using SpotJax.Functions;
using SpotJax.Functions.Host;
using SpotJax.Functions.Local;
using SpotJax.Google.PubSub;
using SpotJax.Google.Tests.Emulators;
using SpotJax.Google.Tests.EndToEnd;
using SpotJax.TpuSimulation;

namespace SpotJax.Chaos;

/// <summary>
/// One chaos run: the push deployment of the end-to-end tests (every function its own host process behind
/// Pub/Sub emulator push subscriptions, Firestore emulator, TPU simulator, local workers, bucket notifications),
/// with a relay in front of every host that delivers each push 1 to 3 times in random order, a relay behind every
/// host through which it publishes, SIGKILLs of the hosts (at random, and right after a queued resource is created,
/// a worker is launched or a message is published), TPU API faults, preemptions, one mass preemption of a zone,
/// cancels, double submissions and hostile documents. Everything random comes from the seed; what the
/// processes make of it depends on timing, so two runs of one seed differ in detail.
/// </summary>
internal sealed class ChaosRun : IAsyncDisposable
{
    public const string ZoneA = PushDeployment.Zone;
    public const string ZoneB = "us-central2-a";

    /// <summary>Every lifecycle wait and the push retry policy are divided by this (a 30 s backoff takes 1 s).</summary>
    public const int LifecycleScale = 30;

    private static readonly string[] PushedFunctions =
        [FunctionNames.Submit, FunctionNames.BucketEvents, FunctionNames.Provision, FunctionNames.Launch, FunctionNames.Recover, FunctionNames.Finish, FunctionNames.Notify];

    private readonly ChaosOptions options;
    private readonly PubSubEmulator pubsub;
    private readonly FirestoreEmulator firestore;
    private readonly Random random;
    private readonly HttpClient http = new() { Timeout = TimeSpan.FromSeconds(70) };
    private readonly CancellationTokenSource chaos = new();
    private readonly string work = Directory.CreateTempSubdirectory("spotjax-chaos-").FullName;
    private readonly Dictionary<string, HttpRelay> pushRelays = [];
    private readonly Dictionary<string, HttpRelay> publishRelays = [];
    private readonly ConcurrentDictionary<string, Uri> hostOf = new();
    private readonly List<Task> background = [];
    private readonly ConcurrentDictionary<string, (int Failures, DateTimeOffset NotBefore)> retries = new();
    private PushDeployment deployment = null!;
    private PubSubPublisher bus = null!;
    private FileSystemWatcher? nodes;
    private bool keepWork;

    private ChaosRun(ChaosOptions options, PubSubEmulator pubsub, FirestoreEmulator firestore)
    {
        this.options = options;
        this.pubsub = pubsub;
        this.firestore = firestore;
        random = new Random(options.Seed);
        Evidence = new ChaosEvidence(Path.Combine(work, "script-ledger.jsonl"));
    }

    public ChaosEvidence Evidence { get; }

    /// <summary>Runs the whole chaos run and returns its report.</summary>
    public static async Task<ChaosReport> RunAsync(ChaosOptions options, Action<string> log)
    {
        var pubsub = new PubSubEmulator();
        var firestore = new FirestoreEmulator();
        try
        {
            await Task.WhenAll(pubsub.InitializeAsync(), firestore.InitializeAsync());
            await using var run = new ChaosRun(options, pubsub, firestore);
            return await run.ExecuteAsync(log);
        }
        finally
        {
            await pubsub.DisposeAsync();
            await firestore.DisposeAsync();
        }
    }

    private async Task<ChaosReport> ExecuteAsync(Action<string> log)
    {
        await StartAsync();
        log($"deployment up: {deployment.Project}; submitting {options.Jobs} jobs (seed {options.Seed})");
        var started = DateTimeOffset.UtcNow;
        var plan = ChaosPlan.Create(options, random, Evidence.ScriptLedger, $"gs://{deployment.Bucket}/code/chaos.tar.gz");
        Evidence.Plan = plan;

        var chaosToken = chaos.Token;
        background.Add(RandomKillsAsync(chaosToken));
        background.Add(WatchdogAsync(chaosToken));
        background.Add(PreemptionsAsync(plan, chaosToken));
        background.Add(SubmitAllAsync(plan, chaosToken));

        var deadline = started + options.Limit;
        var ended = false;
        while (DateTimeOffset.UtcNow < deadline)
        {
            await Task.Delay(TimeSpan.FromSeconds(1));
            await DiscoverJobsAsync(plan);
            var states = await StatesAsync(plan);
            if (states.Count == plan.ExpectedJobs && states.Values.All(s => s.IsTerminal()))
            {
                ended = true;
                break;
            }

            if ((DateTimeOffset.UtcNow - started).TotalSeconds % 15 < 1)
            {
                log($"{(int)(DateTimeOffset.UtcNow - started).TotalSeconds}s: " + string.Join(", ", states.Values.GroupBy(s => s).OrderBy(g => g.Key).Select(g => $"{g.Key.ToWire()} {g.Count()}")));
            }
        }

        Evidence.AllEndedAfter = ended ? DateTimeOffset.UtcNow - started : null;
        log(ended ? $"every job ended after {(int)(DateTimeOffset.UtcNow - started).TotalSeconds}s; stopping the chaos" : "the limit passed; stopping the chaos");
        await chaos.CancelAsync();
        await Task.WhenAll(background.Select(async t =>
        {
            try
            {
                await t;
            }
            catch (OperationCanceledException)
            {
                // Stopped on purpose.
            }
        }));
        foreach (var function in FunctionNames.All)
        {
            deployment.Restart(function);
        }

        Evidence.LeftBehind = await WaitForQueuedResourcesToGoAsync(options.OrphanPatience);
        var report = await ChaosReport.BuildAsync(options, Evidence, deployment);
        if (report.Violations.Count > 0)
        {
            await KeepEvidenceAsync(log);
        }

        return report;
    }

    /// <summary>
    /// After a violation, keeps the run's folder (the script ledger, the bucket) with every host's output in it, and
    /// each job that did not end: its document and its history (<c>job-&lt;id&gt;.json</c>), to read why.
    /// </summary>
    private async Task KeepEvidenceAsync(Action<string> log)
    {
        foreach (var function in FunctionNames.All)
        {
            await File.WriteAllTextAsync(Path.Combine(work, $"host-{function}.log"), deployment.OutputOf(function));
        }

        foreach (var job in await deployment.Store.ListActiveAsync(CancellationToken.None))
        {
            var history = await deployment.Store.GetHistoryAsync(job.Id, CancellationToken.None);
            await File.WriteAllTextAsync(
                Path.Combine(work, $"job-{job.Id}.json"),
                JsonSerializer.Serialize(new { job, history }, new JsonSerializerOptions(SpotJaxJson.Options) { WriteIndented = true }));
        }

        keepWork = true;
        log($"the run's folder is kept for the violations: {work} (host-<function>.log is each host's output, job-<id>.json each unfinished job)");
    }

    private async Task StartAsync()
    {
        foreach (var function in FunctionNames.All)
        {
            var relay = await HttpRelay.StartAsync();
            relay.Handle = (request, ct) => PublishThroughAsync(function, request, ct);
            publishRelays[function] = relay;
        }

        foreach (var function in PushedFunctions)
        {
            var relay = await HttpRelay.StartAsync();
            relay.Handle = (request, ct) => PushThroughAsync(function, request, ct);
            pushRelays[function] = relay;
        }

        var faults = new TpuFaults
        {
            Seed = options.Seed,
            RateLimitRate = options.RateLimitRate,
            UnavailableRate = options.UnavailableRate,
            TimeoutRate = options.TimeoutRate,
            TimeoutAfterApplying = true,
            OperationErrorRate = options.OperationErrorRate,
        };
        deployment = await PushDeployment.StartAsync(pubsub, firestore, new PushDeploymentOptions
        {
            PushEndpoint = (function, host) =>
            {
                hostOf[function] = host;
                return pushRelays[function].Address;
            },
            PublishHost = function => publishRelays[function].HostPort,
            HostEnvironment = new Dictionary<string, string>
            {
                // Backoffs of 1 s instead of 30 s, a launch lease of 12 s instead of 6 minutes: see Deployment.LifecycleScaleVariable.
                [Deployment.LifecycleScaleVariable] = LifecycleScale.ToString(System.Globalization.CultureInfo.InvariantCulture),
                [Deployment.SweepZonesVariable] = $"{ZoneA},{ZoneB}",
            },
            Simulator = simulator => simulator with { Faults = faults, OnLedgerEntry = OnLedgerEntry, PreemptionGrace = TimeSpan.FromSeconds(2) },
        });
        bus = new PubSubPublisher(pubsub.Transport, pubsub.Client(deployment.Project));
        var code = await CodeBundle.PackAsync(Path.Combine(AppContext.BaseDirectory, "job"), CancellationToken.None);
        await deployment.Objects.PutAsync("code/chaos.tar.gz", code.Archive, CancellationToken.None);
        // The agent writes attempt-N.pgid (a temporary file renamed) once the attempt's script group exists.
        nodes = new FileSystemWatcher(deployment.Simulator.NodesRoot) { IncludeSubdirectories = true };
        nodes.Created += (_, e) => OnWorkerStarted(e.FullPath);
        nodes.Renamed += (_, e) => OnWorkerStarted(e.FullPath);
        nodes.EnableRaisingEvents = true;
    }

    private double Draw()
    {
        lock (random)
        {
            return random.NextDouble();
        }
    }

    private TimeSpan DrawBetween(TimeSpan min, TimeSpan max) => min + (max - min) * Draw();

    /// <summary>SIGKILLs a host (if up) and starts it again after a moment, as Cloud Run replaces a lost instance.</summary>
    private void Kill(string function, string why)
    {
        if (chaos.IsCancellationRequested || !deployment.Kill(function))
        {
            return;
        }

        Evidence.Killed(function, why);
        var down = DrawBetween(TimeSpan.FromMilliseconds(200), TimeSpan.FromMilliseconds(1500));
        _ = Task.Run(async () =>
        {
            await Task.Delay(down);
            deployment.Restart(function);
        });
    }

    private void OnLedgerEntry(LedgerEntry entry)
    {
        // Only provision creates queued resources: killing it here loses the answer to a create that was carried out.
        if (entry.Event == LedgerEvent.Created && Draw() < options.KillAfterCreate)
        {
            Kill(FunctionNames.Provision, $"right after creating {entry.QueuedResourceId}");
        }
    }

    private void OnWorkerStarted(string path)
    {
        var name = Path.GetFileName(path);
        if (!name.StartsWith("attempt-", StringComparison.Ordinal) || !name.EndsWith(".pgid", StringComparison.Ordinal) || name.EndsWith(".prepare.pgid", StringComparison.Ordinal))
        {
            return;
        }

        if (Draw() < options.KillAfterLaunch)
        {
            Kill(FunctionNames.Launch, $"right after a worker registered ({Path.GetFileName(Path.GetDirectoryName(Path.GetDirectoryName(path)))})");
        }
    }

    private async Task<(int Status, byte[] Body)> PublishThroughAsync(string function, RelayedRequest request, CancellationToken ct)
    {
        var answer = await HttpRelay.ForwardAsync(http, pubsub.BaseUri, request, ct);
        if (request.PathAndQuery.EndsWith(":publish", StringComparison.Ordinal) && answer.Status == 200 && Draw() < options.KillAfterPublish)
        {
            // Published, and the host dies before it hears so: it cannot record anything it meant to after the publish.
            Kill(function, "right after a publish");
        }

        return answer;
    }

    /// <summary>
    /// One push from the emulator: the host gets it after a random delay, and 0 to 2 more copies later still, so
    /// each message arrives 1 to 3 times in random order; the emulator hears the first copy's answer.
    /// </summary>
    private async Task<(int Status, byte[] Body)> PushThroughAsync(string function, RelayedRequest request, CancellationToken ct)
    {
        var messageId = MessageId(request.Body);
        var key = $"{function}/{messageId}";
        if (retries.TryGetValue(key, out var retry) && DateTimeOffset.UtcNow < retry.NotBefore)
        {
            // The emulator redelivers a refused push at once; Pub/Sub would wait out the retry policy first.
            return (503, []);
        }
        var copies = (int)(Draw() * 3);
        for (var copy = 0; copy < copies; copy++)
        {
            var delay = DrawBetween(TimeSpan.FromMilliseconds(50), TimeSpan.FromSeconds(3));
            Evidence.ExtraCopy();
            _ = Task.Run(async () =>
            {
                await Task.Delay(delay);
                await HttpRelay.ForwardAsync(http, hostOf[function], request, CancellationToken.None);
            });
        }

        await Task.Delay(DrawBetween(TimeSpan.Zero, TimeSpan.FromMilliseconds(400)), ct);
        var answer = await HttpRelay.ForwardAsync(http, hostOf[function], request, ct);
        Evidence.Delivered(function, messageId, answer.Status);
        if (answer.Status is < 200 or >= 300)
        {
            var failures = (retries.TryGetValue(key, out var before) ? before.Failures : 0) + 1;
            retries[key] = (failures, DateTimeOffset.UtcNow + RetryBackoff(failures));
        }

        return answer;
    }

    /// <summary>
    /// The subscriptions' retry policy (infra/pubsub.tf: 10 s doubling up to 600 s; Pub/Sub's exact spacing is its own)
    /// divided by the lifecycle's scale, so that a push refused while a backoff runs is retried as often, relative to
    /// that backoff, as it would be on Google Cloud.
    /// </summary>
    private static TimeSpan RetryBackoff(int failures)
    {
        var seconds = Math.Min(10 * Math.Pow(2, failures - 1), 600) / LifecycleScale;
        return TimeSpan.FromSeconds(seconds);
    }

    private static string MessageId(byte[] push)
    {
        try
        {
            return JsonNode.Parse(push)?["message"]?["messageId"]?.GetValue<string>() ?? "?";
        }
        catch (JsonException)
        {
            return "?";
        }
    }

    private async Task RandomKillsAsync(CancellationToken ct)
    {
        var killable = FunctionNames.All.Where(f => f != FunctionNames.Status).ToArray();
        while (!ct.IsCancellationRequested)
        {
            await Task.Delay(DrawBetween(options.RandomKillEvery / 2, options.RandomKillEvery * 1.5), ct);
            Kill(killable[(int)(Draw() * killable.Length)], "at random");
        }
    }

    /// <summary>Starts any host that is down and not about to be restarted (one that died on its own, say).</summary>
    private async Task WatchdogAsync(CancellationToken ct)
    {
        var downSince = new Dictionary<string, DateTimeOffset>();
        while (!ct.IsCancellationRequested)
        {
            await Task.Delay(TimeSpan.FromSeconds(1), ct);
            foreach (var function in FunctionNames.All)
            {
                if (deployment.IsRunning(function))
                {
                    downSince.Remove(function);
                }
                else if (!downSince.TryAdd(function, DateTimeOffset.UtcNow) && DateTimeOffset.UtcNow - downSince[function] > TimeSpan.FromSeconds(3))
                {
                    deployment.Restart(function);
                    downSince.Remove(function);
                }
            }
        }
    }

    private async Task SubmitAllAsync(ChaosPlan plan, CancellationToken ct)
    {
        foreach (var job in plan.Jobs)
        {
            await Task.Delay(DrawBetween(TimeSpan.FromMilliseconds(100), TimeSpan.FromMilliseconds(600)), ct);
            await SubmitAsync(job, ct);
            if (job.Double && !job.Manifest)
            {
                // A client that retried its publish: the same message again, with the same submission id.
                await SubmitAsync(job, ct);
            }
        }

        foreach (var hostile in plan.Hostile)
        {
            if (hostile.Manifest is { } name)
            {
                await deployment.Objects.PutAsync(name, hostile.Document, ct);
            }
            else
            {
                await PublishAsync(Topics.Default.Jobs, hostile.Document, hostile.SubmissionId, ct);
            }
        }

        // The second notification of a manifest's one upload, and the cancels, once the jobs exist.
        var pending = plan.Jobs.Where(j => (j.Double && j.Manifest) || j.CancelAfter is not null).ToList();
        var startedAt = DateTimeOffset.UtcNow;
        while (pending.Count > 0)
        {
            await Task.Delay(TimeSpan.FromMilliseconds(500), ct);
            foreach (var job in pending.ToList())
            {
                if (job.JobId is null || await deployment.Store.GetAsync(job.JobId, ct) is not { } stored)
                {
                    continue;
                }

                if (job.Double && job.Manifest && !job.SecondNotificationSent)
                {
                    var generation = long.Parse(stored.Submission[(stored.Submission.LastIndexOf('#') + 1)..], System.Globalization.CultureInfo.InvariantCulture);
                    var content = await deployment.Objects.GetAsync(job.ManifestName, ct) ?? [];
                    var notification = StorageNotificationBridge.Notification(
                        new StorageObjectEvent(deployment.Bucket, job.ManifestName, generation, content.Length, stored.SubmittedAt), null);
                    await bus.PublishAsync(PushDeployment.BucketEventsTopic, notification, ct);
                    job.SecondNotificationSent = true;
                }

                if (job.CancelAfter is { } after && !job.CancelSent && DateTimeOffset.UtcNow - startedAt >= after)
                {
                    await PublishAsync(Topics.Default.Jobs, Encoding.UTF8.GetBytes($$"""{"cancel": "{{job.JobId}}"}"""), null, ct);
                    job.CancelSent = true;
                    job.CancelSentAt = DateTimeOffset.UtcNow;
                }

                if ((!job.Double || !job.Manifest || job.SecondNotificationSent) && (job.CancelAfter is null || job.CancelSent))
                {
                    pending.Remove(job);
                }
            }
        }
    }

    private async Task SubmitAsync(PlannedJob job, CancellationToken ct)
    {
        if (job.Manifest)
        {
            await deployment.Objects.PutAsync(job.ManifestName, job.Document, ct);
        }
        else
        {
            await PublishAsync(Topics.Default.Jobs, job.Document, job.SubmissionId, ct);
        }
    }

    private async Task PublishAsync(string topic, byte[] data, string? submissionId, CancellationToken ct)
    {
        var attributes = submissionId is null ? new Dictionary<string, string>() : new Dictionary<string, string> { [SubmitFunction.SubmissionIdAttribute] = submissionId };
        await bus.PublishAsync(topic, new OutgoingMessage(data, attributes), ct);
    }

    /// <summary>Finds the ids of jobs submitted by manifest (their id has the object's generation in it).</summary>
    private async Task DiscoverJobsAsync(ChaosPlan plan)
    {
        if (plan.Jobs.All(j => j.JobId is not null) && plan.Hostile.All(h => h.JobId is not null || !h.ExpectJob))
        {
            return;
        }

        var recent = await deployment.Store.ListRecentAsync(1000, CancellationToken.None);
        Evidence.AllJobs = recent;
        foreach (var job in plan.Jobs.Where(j => j.JobId is null && j.Manifest))
        {
            job.JobId = recent.FirstOrDefault(r => r.Submission.StartsWith($"gcs:{deployment.Bucket}/{job.ManifestName}#", StringComparison.Ordinal))?.Id;
        }

        foreach (var hostile in plan.Hostile.Where(h => h.JobId is null && h.Manifest is not null))
        {
            hostile.JobId = recent.FirstOrDefault(r => r.Submission.StartsWith($"gcs:{deployment.Bucket}/{hostile.Manifest}#", StringComparison.Ordinal))?.Id;
        }
    }

    private async Task<Dictionary<string, JobState>> StatesAsync(ChaosPlan plan)
    {
        var states = new Dictionary<string, JobState>();
        foreach (var id in plan.Jobs.Select(j => j.JobId).Concat(plan.Hostile.Where(h => h.ExpectJob).Select(h => h.JobId)).OfType<string>())
        {
            if (await deployment.Store.GetAsync(id, CancellationToken.None) is { } job)
            {
                states[id] = job.State;
                Evidence.LastSeen[id] = job;
            }
        }

        return states;
    }

    /// <summary>Preempts each job's attempts as planned (running, or while it launches), and once a whole zone.</summary>
    private async Task PreemptionsAsync(ChaosPlan plan, CancellationToken ct)
    {
        var massDone = false;
        var start = DateTimeOffset.UtcNow;
        while (!ct.IsCancellationRequested)
        {
            await Task.Delay(TimeSpan.FromMilliseconds(300), ct);
            var active = (await deployment.Store.ListActiveAsync(ct)).ToDictionary(j => j.Id);
            foreach (var job in plan.Jobs)
            {
                if (job.JobId is null || job.PreemptionsLeft.Count == 0 || !active.TryGetValue(job.JobId, out var stored) || stored.QueuedResourceId is null)
                {
                    continue;
                }

                var next = job.PreemptionsLeft[0];
                var due = next.WhileLaunching
                    ? stored.State == JobState.Launching
                    : stored.State == JobState.Running && stored.RunningSince is { } since && DateTimeOffset.UtcNow - since >= next.After;
                if (due && job.LastPreemptedAttempt != stored.Attempt && await PreemptAsync(stored, "planned"))
                {
                    job.PreemptionsLeft.RemoveAt(0);
                    job.LastPreemptedAttempt = stored.Attempt;
                }
            }

            // Once half the zone's jobs hold an ACTIVE TPU (running or launching), or later with at least two: every one of them at once.
            var zoneA = active.Values.Where(j => j.Zone == ZoneA && plan.Jobs.Any(p => p.JobId == j.Id)).ToList();
            var holding = zoneA.Count(j => j.State is JobState.Running or JobState.Launching);
            if (!massDone && holding >= 2 && (holding >= zoneA.Count / 2 || DateTimeOffset.UtcNow - start > options.Limit / 4))
            {
                var preempted = 0;
                foreach (var job in zoneA.Where(j => j.QueuedResourceId is not null))
                {
                    preempted += await PreemptAsync(job, "mass") ? 1 : 0;
                }

                massDone = preempted > 0;
                Evidence.MassPreemption = massDone ? (DateTimeOffset.UtcNow, ZoneA, preempted) : null;
            }
        }
    }

    private Task<bool> PreemptAsync(Job job, string kind)
    {
        try
        {
            var at = DateTimeOffset.UtcNow;
            deployment.Simulator.PreemptAsync(job.Zone!, job.QueuedResourceId!);
            Evidence.Preempted(new PreemptionRecord(job.Id, job.Attempt, at, kind, job.State));
            return Task.FromResult(true);
        }
        catch (InvalidOperationException)
        {
            // Not ACTIVE (any more): nothing to preempt.
            return Task.FromResult(false);
        }
    }

    /// <summary>The queued resources still there (not being deleted) once the sweep had <paramref name="patience"/> to remove them.</summary>
    private async Task<IReadOnlyList<string>> WaitForQueuedResourcesToGoAsync(TimeSpan patience)
    {
        var tpu = new Google.Tpu.TpuRestClient(
            new Google.Http.GoogleApiTransport(http, Google.Http.FixedTokenSource.None),
            new Google.Tpu.TpuClientOptions { Project = deployment.Project, BaseUri = deployment.Simulator.BaseUri });
        var deadline = DateTimeOffset.UtcNow + patience;
        deployment.Simulator.SetFaults(new TpuFaults());
        while (true)
        {
            var left = new List<string>();
            foreach (var zone in new[] { ZoneA, ZoneB })
            {
                left.AddRange((await tpu.ListQueuedResourcesAsync(zone, CancellationToken.None))
                    .Where(q => q.State?.State != "DELETING")
                    .Select(q => $"{zone}/{q.Id} ({q.State?.State})"));
            }

            if (left.Count == 0 || DateTimeOffset.UtcNow > deadline)
            {
                return left;
            }

            await Task.Delay(TimeSpan.FromSeconds(1));
        }
    }

    public async ValueTask DisposeAsync()
    {
        nodes?.Dispose();
        if (deployment is not null)
        {
            await deployment.DisposeAsync();
        }

        foreach (var relay in pushRelays.Values.Concat(publishRelays.Values))
        {
            await relay.DisposeAsync();
        }

        http.Dispose();
        chaos.Dispose();
        if (!keepWork)
        {
            Directory.Delete(work, recursive: true);
        }
    }
}
