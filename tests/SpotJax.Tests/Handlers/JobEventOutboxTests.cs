using System.Text;
using SpotJax.Contracts;
using SpotJax.Core;
using SpotJax.Core.Events;
using SpotJax.Core.Jobs;
using SpotJax.Core.Ports;
using SpotJax.Core.Steps;
using SpotJax.Functions;

namespace SpotJax.Tests.Handlers;

/// <summary>
/// The job events' outbox through the real step functions: a transition publishes its event right
/// after the write, a crash between the write and the publish is made good by the sweep, and a
/// job-events topic that refuses publishes never fails a step.
/// </summary>
public sealed class JobEventOutboxTests
{
    private const string Forever = "import time\nwhile True:\n    time.sleep(0.1)\n";
    private static readonly CancellationToken None = CancellationToken.None;

    [Fact]
    public async Task Submit_PublishesTheJobsFirstEventAndEmptiesTheOutbox()
    {
        await using var h = await HandlerHarness.StartAsync();

        var job = await h.SubmitAsync(HandlerHarness.JobYaml(h.Code(Forever)));

        var published = JobEvent.Parse(Assert.Single(await h.TakeEventsAsync()).Data);
        Assert.Equal(($"{job.Id}/1", JobState.Queued, (JobState?)null, JobEventTypes.State), (published.Id, published.To, published.From, published.Type));
        Assert.Empty(await h.Store.ListOutboxAsync(job.Id, 10, None));

        await h.Functions.Provision.HandleAsync(h.Step(job.Id, 1), None);
        var provisioning = JobEvent.Parse(Assert.Single(await h.TakeEventsAsync()).Data);
        Assert.Equal(($"{job.Id}/2", JobState.Provisioning, 1), (provisioning.Id, provisioning.To, provisioning.Attempt));
    }

    [Fact]
    public async Task Sweep_EventsACrashLeftInTheOutbox_AreRepublishedOnceAndRemoved()
    {
        await using var h = await HandlerHarness.StartAsync();
        // Without the test job's budget: its billing's open attempt would have the sweep stop it, a second event.
        var created = TestJobs.Create(TestJobs.NewId());
        var job = created with { Deployment = h.Options.Deployment, Spec = created.Spec! with { MaxCostUsd = null } };
        // The store's own write, as a function that crashed before publishing left it.
        Assert.True(await h.Store.TryCreateAsync(job, TestJobs.Entry(null, JobState.Queued, "submitted"), None));
        Assert.Empty(await h.TakeEventsAsync());

        await h.Functions.Sweep.HandleAsync(None);
        await h.Functions.Sweep.HandleAsync(None);

        var messages = (await h.TakeEventsAsync()).Where(m => JobEvent.Parse(m.Data).JobId == job.Id).ToList();
        var republished = JobEvent.Parse(Assert.Single(messages).Data);
        Assert.Equal(($"{job.Id}/1", h.Options.Deployment), (republished.Id, republished.Deployment));
        Assert.Equal((job.Id, republished.Id, JobEventTypes.State), (messages[0].Attributes["jobId"], messages[0].Attributes["eventId"], messages[0].Attributes["type"]));
        Assert.Empty(await h.Store.ListOutboxAsync(null, 10, None));
    }

    [Fact]
    public async Task Transition_EventsTopicRefusesPublishes_StepSucceedsAndTheEventWaitsInTheOutbox()
    {
        await using var h = await HandlerHarness.StartAsync();
        var warnings = new List<string>();
        var functions = new SpotJaxFunctions(h.Store, new RefusingEventsBus(h.Bus), h.Objects, h.Tpu, h.Workers, h.Options, h.Time, warnings.Add);
        var yaml = HandlerHarness.JobYaml(h.Code(Forever));

        await functions.Submit.HandleAsync(h.Message(Encoding.UTF8.GetBytes(yaml), new Dictionary<string, string> { [SubmitFunction.SubmissionIdAttribute] = "s1" }), None);

        var job = Assert.Single(await h.Store.ListActiveAsync(None));
        Assert.Equal(JobState.Queued, job.State);
        Assert.Single(await h.TakeAsync(Topics.Default.Provision));
        Assert.Equal([$"{job.Id}/1"], (await h.Store.ListOutboxAsync(job.Id, 10, None)).Select(e => e.Id));
        Assert.Contains(warnings, w => w.Contains("stays in the outbox", StringComparison.Ordinal));

        // The topic is back: the next sweep publishes it.
        await h.Functions.Sweep.HandleAsync(None);
        Assert.Contains(await h.TakeEventsAsync(), m => JobEvent.Parse(m.Data).Id == $"{job.Id}/1");
        Assert.Empty(await h.Store.ListOutboxAsync(job.Id, 10, None));
    }

    [Fact]
    public async Task Transition_EventsTopicHangs_StepEndsWhenThePublishTimeoutRunsOut()
    {
        await using var h = await HandlerHarness.StartAsync();
        var bus = new HangingEventsBus(h.Bus);
        var warnings = new List<string>();
        var functions = new SpotJaxFunctions(h.Store, bus, h.Objects, h.Tpu, h.Workers, h.Options, h.Time, warnings.Add);
        var yaml = HandlerHarness.JobYaml(h.Code(Forever));

        var submit = functions.Submit.HandleAsync(h.Message(Encoding.UTF8.GetBytes(yaml), new Dictionary<string, string> { [SubmitFunction.SubmissionIdAttribute] = "s1" }), None);
        await bus.Entered.Task.WaitAsync(TimeSpan.FromSeconds(30));
        Assert.False(submit.IsCompleted);
        h.Time.Advance(TimeSpan.FromSeconds(5));
        await submit.WaitAsync(TimeSpan.FromSeconds(30));

        var job = Assert.Single(await h.Store.ListActiveAsync(None));
        Assert.Single(await h.TakeAsync(Topics.Default.Provision));
        Assert.Equal([$"{job.Id}/1"], (await h.Store.ListOutboxAsync(job.Id, 10, None)).Select(e => e.Id));
        Assert.Contains(warnings, w => w.Contains("stays in the outbox", StringComparison.Ordinal));
    }

    /// <summary>The deployment's bus, except that a publish to the job-events topic never ends unless cancelled.</summary>
    private sealed class HangingEventsBus(IMessageBus inner) : IMessageBus
    {
        public TaskCompletionSource Entered { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public async Task<string> PublishAsync(string topic, OutgoingMessage message, CancellationToken cancellationToken)
        {
            if (topic != Topics.Default.JobEvents)
            {
                return await inner.PublishAsync(topic, message, cancellationToken);
            }

            Entered.TrySetResult();
            await Task.Delay(Timeout.Infinite, cancellationToken);
            return "never";
        }
    }

    /// <summary>The deployment's bus, except that the job-events topic refuses every publish.</summary>
    private sealed class RefusingEventsBus(IMessageBus inner) : IMessageBus
    {
        public Task<string> PublishAsync(string topic, OutgoingMessage message, CancellationToken cancellationToken) =>
            topic == Topics.Default.JobEvents
                ? throw new TransientException("503 UNAVAILABLE")
                : inner.PublishAsync(topic, message, cancellationToken);
    }
}
