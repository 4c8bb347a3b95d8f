using System.Text.Json.Nodes;
using SpotJax.Core.Jobs;
using static SpotJax.Core.Tests.Jobs.JobDocumentSamples;

namespace SpotJax.Core.Tests.Jobs;

/// <summary>A job's <c>notify</c>: parsed, held to the webhook rules, written back, and described by the schema.</summary>
public sealed class NotifySpecTests
{
    [Fact]
    public void Parse_SlackWebhook_IsKeptAndWrittenBack()
    {
        var spec = JobDocument.Parse(Json("""{ "notify": { "webhook": "https://hooks.slack.com/services/T0/B0/x", "format": "slack" } }"""));

        Assert.Equal(new NotifySpec("https://hooks.slack.com/services/T0/B0/x", NotifyFormat.Slack), spec.Notify);
        Assert.Equal(spec.Notify, JobDocument.Parse(JobDocument.ToJson(spec)).Notify);
    }

    [Fact]
    public void Parse_NoNotifyOrNoFormat_DefaultsToNoneAndJson()
    {
        Assert.Null(JobDocument.Parse(MinimalJson).Notify);
        Assert.Equal(NotifyFormat.Json, JobDocument.Parse(Json("""{ "notify": { "webhook": "https://example.com/h" } }""")).Notify!.Format);
        Assert.Equal(NotifyFormat.Json, JobDocument.Parse(Json("""{ "notify": { "webhook": "http://127.0.0.1:8080/h" } }""")).Notify!.Format);
    }

    [Theory]
    [InlineData("""{ "webhook": "http://hooks.example.com/h" }""", "notify.webhook", "must be https://")]
    [InlineData("""{ "webhook": "https://user:secret@hooks.example.com/h" }""", "notify.webhook", "credentials")]
    [InlineData("""{ "webhook": "ftp://hooks.example.com/h" }""", "notify.webhook", "https://")]
    [InlineData("""{ "webhook": "https://hooks.example.com/a b" }""", "notify.webhook", "spaces")]
    [InlineData("""{ "format": "slack" }""", "notify.webhook", "")]
    [InlineData("""{ "webhook": "https://hooks.example.com/h", "format": "teams" }""", "notify.format", "slack, json")]
    [InlineData("""{ "webhook": "https://hooks.example.com/h", "channel": "#x" }""", "notify.channel", "")]
    public void Parse_BadNotify_NamesTheField(string notify, string field, string words)
    {
        var error = Assert.Throws<JobDocumentException>(() => JobDocument.Parse(Json($$"""{ "notify": {{notify}} }""")));

        var problem = Assert.Single(error.Errors);
        Assert.Equal(field, problem.Field);
        Assert.Contains(words, problem.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_OverlongWebhook_IsRefused()
    {
        var url = "https://hooks.example.com/" + new string('a', NotifySpec.MaxWebhookLength);

        var error = Assert.Throws<JobDocumentException>(() => JobDocument.Parse(Json($$"""{ "notify": { "webhook": "{{url}}" } }""")));

        Assert.Equal("notify.webhook", Assert.Single(error.Errors).Field);
    }

    [Fact]
    public void Schema_Notify_ListsTheFieldsTheParserAccepts()
    {
        using var stream = typeof(JobDocument).Assembly.GetManifestResourceStream("job.schema.json")!;
        var notify = JsonNode.Parse(stream)!["properties"]!["notify"]!;

        Assert.Equal(["webhook", "format"], notify["properties"]!.AsObject().Select(p => p.Key));
        Assert.Equal(["webhook"], notify["required"]!.AsArray().Select(r => (string)r!));
        Assert.Equal(["json", "slack"], notify["properties"]!["format"]!["enum"]!.AsArray().Select(r => (string)r!));
        Assert.Equal(NotifySpec.MaxWebhookLength, (int)notify["properties"]!["webhook"]!["maxLength"]!);
    }
}
