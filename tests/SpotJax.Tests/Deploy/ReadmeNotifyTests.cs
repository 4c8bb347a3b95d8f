using System.Text.Json.Nodes;
using SpotJax.Contracts;
using SpotJax.Core.Events;
using SpotJax.Core.Jobs;

namespace SpotJax.Tests.Deploy;

/// <summary>The README's "Notifications" examples are what the code accepts and sends.</summary>
public sealed class ReadmeNotifyTests
{
    private static readonly string Section = NotificationsSection();

    [Fact]
    public void NotifyExample_IsAJobFieldTheParserAccepts()
    {
        var yaml = Fenced("yaml");

        var spec = JobDocument.Parse($"name: n\ntpu: {{type: v4-8, zone: us-central2-b}}\ncode: gs://b-1/c.tar.gz\nscript: s.py\n{yaml}");

        Assert.Equal(new NotifySpec("https://hooks.slack.com/services/T000/B000/XXXX", NotifyFormat.Slack), spec.Notify);
    }

    [Fact]
    public void SlackPayloadExample_IsWhatTheSenderWritesForAPreemption()
    {
        var shown = JsonNode.Parse(Fenced("json"))!;
        var preempted = new JobEvent
        {
            Id = "quickstart-5f1c0e/5",
            JobId = "quickstart-5f1c0e",
            Type = JobEventTypes.Preempted,
            From = JobState.Running,
            To = JobState.Recovering,
            Attempt = 1,
            At = DateTimeOffset.UnixEpoch,
            Detail = "preempted: maintenance event",
        };

        Assert.Equal((string)shown["text"]!, SlackText.Of(preempted, "quickstart"));
    }

    private static string Fenced(string language)
    {
        var start = Section.IndexOf($"```{language}\n", StringComparison.Ordinal);
        Assert.True(start >= 0, $"README's Notifications section has no {language} block");
        start += language.Length + 4;
        return Section[start..Section.IndexOf("```", start, StringComparison.Ordinal)];
    }

    private static string NotificationsSection()
    {
        var readme = File.ReadAllText(Path.Combine(Repository.Root, "README.md")).ReplaceLineEndings("\n");
        var start = readme.IndexOf("\n### Notifications\n", StringComparison.Ordinal);
        Assert.True(start >= 0, "README.md has no Notifications section");
        return readme[start..readme.IndexOf("\n## ", start, StringComparison.Ordinal)];
    }
}
