using SpotJax.Contracts;
using SpotJax.Core.Events;
using SpotJax.Core.Jobs;
using SpotJax.Tests.Handlers;

namespace SpotJax.Tests.Notify;

/// <summary>
/// A stall warning from the sweep's own stall check to the job's webhook: the event the real
/// <c>JobLifecycle.WarnStall</c> writes is typed <c>stall-warning</c> and posted once, even when
/// its message is delivered twice and the sweep runs again.
/// </summary>
public sealed class StallNotifyTests
{
    private const string Forever = "import time\nwhile True:\n    time.sleep(0.1)\n";
    private static readonly CancellationToken None = CancellationToken.None;

    [Fact]
    public async Task Sweep_StalledJobWithWarn_PostsOneStallWarningToTheWebhook()
    {
        await using var hook = WebhookReceiver.Start();
        await using var h = await HandlerHarness.StartAsync();
        var yaml = HandlerHarness.JobYaml(h.Code(Forever), stall: "{minutes: 60, action: warn}") + $"\nnotify: {{webhook: \"{hook.Url}\", format: json}}\n";
        var job = await h.RunAsync(await h.SubmitAsync(yaml));
        await h.TakeEventsAsync();

        h.Time.Advance(TimeSpan.FromMinutes(61));
        await h.Functions.Sweep.HandleAsync(None);
        await h.Functions.Sweep.HandleAsync(None);

        var warning = Assert.Single(await h.TakeEventsAsync(), m => JobEvent.Parse(m.Data).JobId == job.Id);
        Assert.Equal((JobEventTypes.StallWarning, JobState.Running), (JobEvent.Parse(warning.Data).Type, JobEvent.Parse(warning.Data).To));
        await h.Functions.Notify!.HandleAsync(warning, None);
        await h.Functions.Notify.HandleAsync(warning, None);

        var posted = Assert.Single(hook.Deliveries);
        Assert.Equal(JobEvent.Parse(warning.Data).Id, posted.EventId);
        Assert.Equal(JobEventTypes.StallWarning, JobEvent.Parse(System.Text.Encoding.UTF8.GetBytes(posted.Body)).Type);
        Assert.Equal(200, posted.Status);
    }
}
