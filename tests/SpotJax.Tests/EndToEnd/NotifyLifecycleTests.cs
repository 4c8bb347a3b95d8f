using SpotJax.Contracts;
using SpotJax.Core.Events;
using SpotJax.Core.Jobs;
using SpotJax.Core.Ports;
using SpotJax.Core.Steps;
using SpotJax.Functions.Local;
using SpotJax.Local.Messaging;

namespace SpotJax.Tests.EndToEnd;

/// <summary>
/// Notifications in local mode: the whole lifecycle with one preemption over a bus that delivers
/// every message (job events included) twice and out of order, and a real webhook on the loopback.
/// </summary>
public sealed class NotifyLifecycleTests
{
    private static readonly string Quickstart = Path.Combine(Repository.Root, "examples", "quickstart");

    [Fact]
    public async Task PreemptedJob_DuplicatedAndReorderedDeliveries_WebhookGetsEachEventOncePerId()
    {
        await using var hook = WebhookReceiver.Start();
        await using var plane = await LocalControlPlane.StartAsync(
            new LocalControlPlaneOptions
            {
                Root = Directory.CreateTempSubdirectory("spotjax-notify-e2e-").FullName,
                ProvisionDelay = TimeSpan.FromMilliseconds(200),
                PreemptionGrace = TimeSpan.FromSeconds(3),
                SweepInterval = TimeSpan.FromMilliseconds(500),
                Lifecycle = new() { BackoffBase = TimeSpan.FromMilliseconds(200), BackoffMax = TimeSpan.FromSeconds(1), StuckAfter = TimeSpan.FromSeconds(10) },
                Bus = new InProcessBusOptions { DuplicateProbability = 1, MaxReorderDelay = TimeSpan.FromMilliseconds(100), Seed = 11 },
                Notify = new NotifyOptions { Default = new NotifySpec(hook.Url, NotifyFormat.Slack) },
            },
            CancellationToken.None);
        var spec = new JobSpec
        {
            Name = "notified",
            Tpu = new TpuSpec { Type = "v4-8", Zones = ["us-central2-b"], RuntimeVersion = "tpu-ubuntu2204-base" },
            Code = Quickstart,
            Script = "train.py",
            Args = ["--steps", "30", "--step-seconds", "0.1", "--wait-for-preemption"],
            Notify = new NotifySpec(hook.Url),
        };
        var jobId = await plane.SubmitAsync(spec, "notify-1", CancellationToken.None);

        await Eventually.TrueAsync(async () => await plane.Store.GetAsync(jobId, CancellationToken.None) is { State: JobState.Running, Attempt: 1, LastCheckpointStep: >= 5 }, TimeSpan.FromSeconds(60));
        await plane.PreemptAsync(jobId, CancellationToken.None);
        await Eventually.TrueAsync(async () => (await plane.Store.GetAsync(jobId, CancellationToken.None))!.State.IsTerminal(), TimeSpan.FromSeconds(60));
        await Eventually.TrueAsync(() => Task.FromResult(hook.Accepted.Count >= 2), TimeSpan.FromSeconds(30));
        await plane.Bus.WhenIdleAsync(CancellationToken.None);

        var history = await plane.Store.GetHistoryAsync(jobId, CancellationToken.None);
        var preempted = history.Select((e, i) => (Entry: e, Id: JobEvent.IdOf(jobId, i + 1))).Single(e => e.Entry.To == JobState.Recovering).Id;
        var succeeded = JobEvent.IdOf(jobId, history.Count);
        Assert.Equal(JobState.Succeeded, history[^1].To);
        // The job's own webhook (JSON) wins over the deployment's (Slack), and each event id arrives once.
        Assert.Equal(new[] { preempted, succeeded }.Order(StringComparer.Ordinal), hook.Deliveries.Select(d => d.EventId).Order(StringComparer.Ordinal));
        var bodies = hook.Deliveries.Select(d => JobEvent.Parse(System.Text.Encoding.UTF8.GetBytes(d.Body))).OrderBy(e => e.At).ToList();
        Assert.Equal([JobEventTypes.Preempted, JobEventTypes.State], bodies.Select(e => e.Type));
        Assert.Empty(await ((IJobEventStore)plane.Store).ListOutboxAsync(jobId, 10, CancellationToken.None));
    }
}
