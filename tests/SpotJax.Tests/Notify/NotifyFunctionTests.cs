using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.Extensions.Time.Testing;
using SpotJax.Contracts;
using SpotJax.Core.Events;
using SpotJax.Core.Jobs;
using SpotJax.Core.Ports;
using SpotJax.Core.Steps;
using SpotJax.Local.State;

namespace SpotJax.Tests.Notify;

/// <summary>
/// <c>notify</c> over the SQLite store and a real webhook on the loopback: the job's transitions go
/// through the store (which fills the outbox), and the test hands the resulting job-events messages
/// to the function as Pub/Sub would: twice, out of order, again after a failure.
/// </summary>
public sealed class NotifyFunctionTests : IDisposable
{
    private static readonly CancellationToken None = CancellationToken.None;
    private readonly SqliteJobStore store = new(Path.Combine(Directory.CreateTempSubdirectory("spotjax-notify-").FullName, "jobs.db"));
    private readonly FakeTimeProvider time = new(TestJobs.Epoch);
    private readonly HttpClient http = new();
    private readonly List<string> warnings = [];
    private int messageId;

    public void Dispose()
    {
        http.Dispose();
        store.Dispose();
    }

    [Fact]
    public async Task HandleAsync_EveryEventTwiceAndOutOfOrder_PostsEachNotifiedEventOnce()
    {
        await using var hook = WebhookReceiver.Start();
        var job = await LifecycleAsync(new NotifySpec(hook.Url));
        var events = await store.ListOutboxAsync(job.Id, 100, None);
        var messages = events.Concat(events).Reverse().Select(Message).ToList();
        var notify = Function();

        // Both copies of each message at once, then every message again, later, in another order.
        foreach (var pair in messages.Chunk(2))
        {
            await DeliverAsync(notify, pair);
        }

        foreach (var message in messages.OrderBy(m => m.MessageId.GetHashCode(StringComparison.Ordinal)))
        {
            await DeliverAsync(notify, message);
        }

        var expected = events.Where(NotifyFunction.IsNotified).Select(e => e.Id).Order(StringComparer.Ordinal).ToList();
        Assert.Equal(3, expected.Count);
        Assert.Equal(expected, hook.Deliveries.Select(d => d.EventId).Order(StringComparer.Ordinal));
        Assert.Equal(
            [JobEventTypes.Preempted, JobEventTypes.StallWarning, JobEventTypes.State],
            hook.Deliveries.Select(d => JobEvent.Parse(System.Text.Encoding.UTF8.GetBytes(d.Body))).OrderBy(e => e.At).Select(e => e.Type));
        Assert.All(hook.Deliveries, d => Assert.StartsWith("application/json", d.ContentType, StringComparison.Ordinal));
    }

    [Fact]
    public async Task HandleAsync_WebhookAnswers503Then200_RedeliveryPostsItAndLaterCopiesDoNothing()
    {
        await using var hook = WebhookReceiver.Start(503);
        var succeeded = await SucceededEventAsync(new NotifySpec(hook.Url));
        var notify = Function();

        var failed = await Assert.ThrowsAsync<TransientException>(() => notify.HandleAsync(Message(succeeded), None));
        await notify.HandleAsync(Message(succeeded), None);
        await notify.HandleAsync(Message(succeeded), None);

        Assert.Contains("HTTP 503", failed.Message, StringComparison.Ordinal);
        Assert.Equal([503, 200], hook.Deliveries.Select(d => d.Status));
        Assert.Equal([succeeded.Id, succeeded.Id], hook.Deliveries.Select(d => d.EventId));
    }

    [Theory]
    [InlineData(408)]
    [InlineData(429)]
    [InlineData(500)]
    public async Task HandleAsync_TransientAnswer_IsRetried(int status)
    {
        await using var hook = WebhookReceiver.Start(status);
        var succeeded = await SucceededEventAsync(new NotifySpec(hook.Url));
        var notify = Function();

        await Assert.ThrowsAsync<TransientException>(() => notify.HandleAsync(Message(succeeded), None));
        await notify.HandleAsync(Message(succeeded), None);

        Assert.Equal([status, 200], hook.Deliveries.Select(d => d.Status));
    }

    [Theory]
    [InlineData(400)]
    [InlineData(404)]
    [InlineData(410)]
    public async Task HandleAsync_PermanentRefusal_IsLoggedAndNotRetried(int status)
    {
        await using var hook = WebhookReceiver.Start(status);
        var succeeded = await SucceededEventAsync(new NotifySpec(hook.Url));
        var notify = Function();

        await notify.HandleAsync(Message(succeeded), None);
        await notify.HandleAsync(Message(succeeded), None);

        Assert.Equal([status], hook.Deliveries.Select(d => d.Status));
        Assert.Contains(warnings, w => w.Contains($"HTTP {status}", StringComparison.Ordinal) && w.Contains("not retried", StringComparison.Ordinal));
    }

    [Fact]
    public async Task HandleAsync_ConnectionRefused_ReleasesTheClaimForTheNextDelivery()
    {
        var refusing = new NotifySpec(WebhookReceiver.RefusingUrl());
        var succeeded = await SucceededEventAsync(refusing);
        var notify = Function();

        await Assert.ThrowsAsync<TransientException>(() => notify.HandleAsync(Message(succeeded), None));

        Assert.Equal(DeliveryClaim.Claimed, await store.TryClaimDeliveryAsync(succeeded.Id, time.GetUtcNow(), time.GetUtcNow().AddMinutes(1), None));
    }

    [Fact]
    public async Task HandleAsync_SlackFormatAndHostileJobName_SendsEscapedText()
    {
        await using var hook = WebhookReceiver.Start();
        const string hostile = "<!channel> & <https://evil.example|click> \"quoted\"\nsecond line";
        var succeeded = await SucceededEventAsync(new NotifySpec(hook.Url, NotifyFormat.Slack), hostile);

        await Function().HandleAsync(Message(succeeded), None);

        var body = JsonNode.Parse(Assert.Single(hook.Deliveries).Body)!.AsObject();
        Assert.Equal(["text"], body.Select(p => p.Key));
        var text = (string)body["text"]!;
        Assert.Contains("&lt;!channel&gt; &amp; &lt;https://evil.example|click&gt; \"quoted\" second line", text, StringComparison.Ordinal);
        Assert.DoesNotContain('<', text);
        Assert.DoesNotContain('\n', text);
        Assert.Contains("SUCCEEDED", text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task HandleAsync_JobWithoutNotify_UsesTheDeploymentDefaultOrNothing()
    {
        await using var hook = WebhookReceiver.Start();
        var succeeded = await SucceededEventAsync(null);

        await Function().HandleAsync(Message(succeeded), None);
        Assert.Empty(hook.Deliveries);

        await Function(new NotifyOptions { Default = new NotifySpec(hook.Url) }).HandleAsync(Message(succeeded), None);
        Assert.Equal([succeeded.Id], hook.Deliveries.Select(d => d.EventId));
    }

    [Fact]
    public async Task HandleAsync_NotAJobEvent_IsRejectedWithoutRetry()
    {
        var message = new PubSubMessage("m", "{\"specversion\":\"other/v9\"}"u8.ToArray(), new Dictionary<string, string>(), TestJobs.Epoch);

        await Assert.ThrowsAsync<MalformedMessageException>(() => Function().HandleAsync(message, None));
    }

    [Fact]
    public void NotifyOptions_FromEnvironment_ReadsAndChecksTheDefault()
    {
        string? Env(string name, string? url, string? format) => name switch
        {
            NotifyOptions.WebhookUrlVariable => url,
            NotifyOptions.WebhookFormatVariable => format,
            _ => null,
        };

        Assert.Null(NotifyOptions.FromEnvironment(n => Env(n, "", null)).Default);
        Assert.Equal(new NotifySpec("https://hooks.example.com/x", NotifyFormat.Slack), NotifyOptions.FromEnvironment(n => Env(n, "https://hooks.example.com/x", "slack")).Default);
        Assert.Throws<ArgumentException>(() => NotifyOptions.FromEnvironment(n => Env(n, "http://hooks.example.com/x", null)));
        Assert.Throws<ArgumentException>(() => NotifyOptions.FromEnvironment(n => Env(n, "https://user:pw@hooks.example.com/x", null)));
        Assert.Throws<ArgumentException>(() => NotifyOptions.FromEnvironment(n => Env(n, "https://hooks.example.com/x", "xml")));
    }

    private NotifyFunction Function(NotifyOptions? options = null) =>
        new(store, store, new WebhookSender(http, time) { Timeout = TimeSpan.FromSeconds(10) }, options ?? new NotifyOptions(), time, warnings.Add);

    private PubSubMessage Message(JobEvent jobEvent) =>
        new($"m{Interlocked.Increment(ref messageId)}", jobEvent.ToBytes(), new Dictionary<string, string> { ["eventId"] = jobEvent.Id }, jobEvent.At);

    /// <summary>
    /// Hands the copies over at once; a copy refused while another held the delivery is redelivered once
    /// they all returned, as Pub/Sub redelivers a nack later.
    /// </summary>
    private static async Task DeliverAsync(NotifyFunction notify, params PubSubMessage[] copies)
    {
        var acked = await Task.WhenAll(copies.Select(async m =>
        {
            try
            {
                await notify.HandleAsync(m, None);
                return true;
            }
            catch (TransientException)
            {
                return false;
            }
        }));
        foreach (var (message, _) in copies.Zip(acked).Where(c => !c.Second))
        {
            await notify.HandleAsync(message, None);
        }
    }

    /// <summary>A job through submission, one preemption, a stall warning and success, written as the functions write it.</summary>
    private async Task<Job> LifecycleAsync(NotifySpec? notify, string name = "llama-tiny")
    {
        var job = TestJobs.Create(TestJobs.NewId()) with { Spec = TestJobs.Create("x").Spec! with { Name = name, Notify = notify }, Attempt = 0 };
        Assert.True(await store.TryCreateAsync(job, new HistoryEntry(TestJobs.Epoch, null, JobState.Queued, 0, "submitted"), None));
        var steps = new (JobState To, int Attempt, string Cause)[]
        {
            (JobState.Provisioning, 1, "provisioning a Spot v4-8 in us-central2-b"),
            (JobState.Launching, 1, "TPU ready with 1 worker(s)"),
            (JobState.Running, 1, "script started on 1 worker(s)"),
            (JobState.Recovering, 1, "preempted: maintenance event"),
            (JobState.Provisioning, 2, "provisioning a Spot v4-8 in us-central2-b"),
            (JobState.Launching, 2, "TPU ready with 1 worker(s)"),
            (JobState.Running, 2, "script started on 1 worker(s)"),
            (JobState.Running, 2, "stalled: no checkpoint for 15 min"),
            (JobState.Succeeded, 2, "script exited 0"),
        };
        var at = TestJobs.Epoch;
        foreach (var (to, attempt, cause) in steps)
        {
            var current = (await store.GetAsync(job.Id, None))!;
            at = at.AddMinutes(1);
            Assert.True(await store.TryUpdateAsync(current with { State = to, Attempt = attempt }, current.Revision, new HistoryEntry(at, current.State, to, attempt, cause), None));
        }

        return (await store.GetAsync(job.Id, None))!;
    }

    private async Task<JobEvent> SucceededEventAsync(NotifySpec? notify, string name = "llama-tiny")
    {
        var job = await LifecycleAsync(notify, name);
        return (await store.ListOutboxAsync(job.Id, 100, None)).Single(e => e.To == JobState.Succeeded);
    }
}
