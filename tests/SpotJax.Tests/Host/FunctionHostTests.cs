using System.Net;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.TestHost;
using SpotJax.Core;
using SpotJax.Core.Jobs;
using SpotJax.Functions;
using SpotJax.Functions.Host;
using SpotJax.Functions.Host.Events;
using SpotJax.Tests.Handlers;

namespace SpotJax.Tests.Host;

/// <summary>
/// The function host behind a test server, fed the real delivery shapes (fixtures copied from the
/// documented payloads): what it decodes, which function it calls and what it answers.
/// </summary>
public sealed class FunctionHostTests : IAsyncLifetime
{
    private const string Forever = "import time\nwhile True:\n    time.sleep(0.1)\n";
    private readonly StringWriter logs = new();
    private readonly List<WebApplication> apps = [];
    private HandlerHarness h = null!;

    public async Task InitializeAsync() => h = await HandlerHarness.StartAsync();

    public async Task DisposeAsync()
    {
        foreach (var app in apps)
        {
            await app.DisposeAsync();
        }

        await h.DisposeAsync();
    }

    private async Task<HttpClient> HostAsync(string target, PushAuthOptions? auth = null)
    {
        var app = FunctionHost.Build(
            new FunctionHostOptions { Target = target, Auth = auth, Project = "my-project" },
            h.Functions,
            logs,
            h.Time,
            builder => builder.WebHost.UseTestServer());
        apps.Add(app);
        await app.StartAsync();
        return app.GetTestClient();
    }

    private static string Fixture(string name, string data = "", string objectName = "", string time = "2026-11-28T12:00:00Z") =>
        File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "Host", "Fixtures", name))
            .Replace("__DATA__", data, StringComparison.Ordinal)
            .Replace("__NAME__", objectName, StringComparison.Ordinal)
            .Replace("__TIME__", time, StringComparison.Ordinal);

    private static string Base64(string text) => Convert.ToBase64String(Encoding.UTF8.GetBytes(text));

    private string JobJson() => JsonSerializer.Serialize(new
    {
        name = "host test",
        tpu = new { type = "v4-8", zone = "us-central2-b" },
        code = h.Code(Forever),
        script = "train.py",
    });

    private static HttpRequestMessage Binary(string type, string source, string id, string body, string? subject = null)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, "/") { Content = new StringContent(body, Encoding.UTF8, "application/json") };
        request.Headers.Add("ce-specversion", "1.0");
        request.Headers.Add("ce-type", type);
        request.Headers.Add("ce-source", source);
        request.Headers.Add("ce-id", id);
        request.Headers.Add("ce-time", "2021-02-05T04:06:14.109Z");
        if (subject is not null)
        {
            request.Headers.Add("ce-subject", subject);
        }

        return request;
    }

    private static HttpRequestMessage Json(string body, string contentType = "application/json") =>
        new(HttpMethod.Post, "/") { Content = new StringContent(body, Encoding.UTF8, contentType) };

    private async Task<IReadOnlyList<Job>> JobsAsync() => await h.Store.ListRecentAsync(10, CancellationToken.None);

    [Fact]
    public async Task Submit_EventarcPubSubBinaryMode_CreatesTheJobAnd204()
    {
        var client = await HostAsync(FunctionNames.Submit);
        var body = Fixture("eventarc-pubsub-data.json", Base64(JobJson()));

        using var response = await client.SendAsync(Binary(EventDecoder.MessagePublishedType, "//pubsub.googleapis.com/projects/my-project/topics/spotjax-jobs", "2070443601311540", body));

        Assert.Equal(HttpStatusCode.NoContent, response.StatusCode);
        var job = Assert.Single(await JobsAsync());
        Assert.Equal((JobState.Queued, "client:eventarc-1"), (job.State, job.Submission));
    }

    [Fact]
    public async Task Submit_EventarcPubSubStructuredMode_CreatesTheJob()
    {
        var client = await HostAsync(FunctionNames.Submit);

        using var response = await client.SendAsync(Json(Fixture("eventarc-pubsub-structured.json", Base64(JobJson())), "application/cloudevents+json"));

        Assert.Equal(HttpStatusCode.NoContent, response.StatusCode);
        Assert.Equal("client:structured-1", Assert.Single(await JobsAsync()).Submission);
    }

    [Fact]
    public async Task Submit_PlainPushDeliveredTwice_CreatesOneJob()
    {
        var client = await HostAsync(FunctionNames.Submit);
        var body = Fixture("pubsub-push.json", Base64(JobJson()));

        using var first = await client.SendAsync(Json(body));
        using var second = await client.SendAsync(Json(body));

        Assert.Equal((HttpStatusCode.NoContent, HttpStatusCode.NoContent), (first.StatusCode, second.StatusCode));
        Assert.Equal("client:push-1", Assert.Single(await JobsAsync()).Submission);
    }

    [Fact]
    public async Task Submit_InvalidJobDocument_IsRecordedRejectedAndAcknowledged()
    {
        var client = await HostAsync(FunctionNames.Submit);

        using var response = await client.SendAsync(Json(Fixture("pubsub-push.json", Base64("name: x\ntpu: {type: v4-9, zone: us-central2-b}\ncode: gs://b/c\nscript: t.py\n"))));

        Assert.True(response.IsSuccessStatusCode);
        var job = Assert.Single(await JobsAsync());
        Assert.Equal(JobState.Rejected, job.State);
        Assert.Contains("tpu.type", job.LastError, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Provision_MalformedStepMessage_Answers200AndLogsTheMessageId()
    {
        var client = await HostAsync(FunctionNames.Provision);

        using var response = await client.SendAsync(Json(Fixture("pubsub-push.json", Base64("not a step"))));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var line = logs.ToString().Split('\n').Select(l => l.Trim()).First(l => l.Contains("rejected for good", StringComparison.Ordinal));
        using var json = JsonDocument.Parse(line);
        Assert.Equal("ERROR", json.RootElement.GetProperty("severity").GetString());
        Assert.Equal("2070443601311542", json.RootElement.GetProperty("messageId").GetString());
        Assert.Equal("provision", json.RootElement.GetProperty("function").GetString());
    }

    [Fact]
    public async Task Provision_TransientFailure_Answers503SoPubSubRedelivers()
    {
        var job = await h.SubmitAsync(HandlerHarness.JobYaml(h.Code(Forever)));
        await h.Simulator.DisposeAsync();
        var client = await HostAsync(FunctionNames.Provision);
        var step = Convert.ToBase64String(new Core.Steps.StepMessage(job.Id, 1).ToBytes());

        using var response = await client.SendAsync(Json(Fixture("pubsub-push.json", step)));

        Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
        Assert.Contains("will be retried", logs.ToString(), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("{}")]
    [InlineData("{\"message\": {\"data\": \"%%% not base64\", \"messageId\": \"1\"}}")]
    [InlineData("{\"message\": {\"data\": \"e30=\"}}")]
    [InlineData("[1, 2]")]
    [InlineData("not json at all")]
    public async Task AnyFunction_NotAnEvent_Answers400(string body)
    {
        var client = await HostAsync(FunctionNames.Submit);

        using var response = await client.SendAsync(Json(body));

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Empty(await JobsAsync());
    }

    [Fact]
    public async Task AnyFunction_CloudEventWithoutId_Answers400()
    {
        var client = await HostAsync(FunctionNames.Submit);
        var request = Binary(EventDecoder.MessagePublishedType, "//pubsub.googleapis.com/projects/p/topics/t", "1", Fixture("eventarc-pubsub-data.json", Base64(JobJson())));
        request.Headers.Remove("ce-id");

        using var response = await client.SendAsync(request);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
    }

    [Fact]
    public async Task Submit_StorageEvent_Answers400()
    {
        var client = await HostAsync(FunctionNames.Submit);

        using var response = await client.SendAsync(Binary("google.cloud.storage.object.v1.finalized", "//storage.googleapis.com/projects/_/buckets/spotjax-test", "9", Fixture("eventarc-storage-data.json", objectName: "x/y")));

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
    }

    [Fact]
    public async Task BucketEvents_EventarcFinalizedCheckpoint_RecordsTheStep()
    {
        var job = await h.RunAsync(await h.SubmitAsync(HandlerHarness.JobYaml(h.Code(Forever))));
        var client = await HostAsync(FunctionNames.BucketEvents);
        var name = $"{job.Id}/ckpt/step_00000042.json";

        using var response = await client.SendAsync(Binary(
            "google.cloud.storage.object.v1.finalized", "//storage.googleapis.com/projects/_/buckets/spotjax-test", "7",
            Fixture("eventarc-storage-data.json", objectName: name, time: h.Time.GetUtcNow().AddMinutes(1).ToString("O")), $"objects/{name}"));

        Assert.Equal(HttpStatusCode.NoContent, response.StatusCode);
        Assert.Equal(42, (await h.JobAsync(job.Id)).LastCheckpointStep);
    }

    [Fact]
    public async Task BucketEvents_StorageNotificationThroughPubSub_RecordsTheStep()
    {
        var job = await h.RunAsync(await h.SubmitAsync(HandlerHarness.JobYaml(h.Code(Forever))));
        var client = await HostAsync(FunctionNames.BucketEvents);
        var name = $"{job.Id}/ckpt/step_00000043.json";
        var time = h.Time.GetUtcNow().AddMinutes(1).ToString("O");
        var resource = Fixture("eventarc-storage-data.json", objectName: name, time: time);

        using var response = await client.SendAsync(Json(Fixture("gcs-notification-push.json", Base64(resource), name, time)));

        Assert.Equal(HttpStatusCode.NoContent, response.StatusCode);
        Assert.Equal(43, (await h.JobAsync(job.Id)).LastCheckpointStep);
    }

    [Fact]
    public async Task BucketEvents_DeletedObject_IsAcknowledgedWithoutEffect()
    {
        var job = await h.RunAsync(await h.SubmitAsync(HandlerHarness.JobYaml(h.Code(Forever))));
        var client = await HostAsync(FunctionNames.BucketEvents);
        var name = $"{job.Id}/ckpt/step_00000044.json";

        using var response = await client.SendAsync(Binary("google.cloud.storage.object.v1.deleted", "//storage.googleapis.com/projects/_/buckets/spotjax-test", "8", Fixture("eventarc-storage-data.json", objectName: name), $"objects/{name}"));

        Assert.Equal(HttpStatusCode.NoContent, response.StatusCode);
        Assert.Null((await h.JobAsync(job.Id)).LastCheckpointStep);
    }

    [Fact]
    public async Task BucketEvents_ManifestUnderJobs_SubmitsIt()
    {
        var client = await HostAsync(FunctionNames.BucketEvents);
        await h.Objects.PutAsync("jobs/first.json", Encoding.UTF8.GetBytes(JobJson()), CancellationToken.None);

        using var response = await client.SendAsync(Binary("google.cloud.storage.object.v1.finalized", "//storage.googleapis.com/projects/_/buckets/spotjax-test", "10", Fixture("eventarc-storage-data.json", objectName: "jobs/first.json"), "objects/jobs/first.json"));

        Assert.Equal(HttpStatusCode.NoContent, response.StatusCode);
        Assert.Equal("gcs:spotjax-test/jobs/first.json#1587627537231057", Assert.Single(await JobsAsync()).Submission);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task Submit_PublishedJob_LogsTheIdSubmitComputed(bool withSubmissionId)
    {
        var client = await HostAsync(FunctionNames.Submit);
        var body = Fixture("pubsub-push.json", Base64(JobJson()));
        if (!withSubmissionId)
        {
            body = body.Replace("\"attributes\": { \"submissionId\": \"push-1\" },", "", StringComparison.Ordinal);
        }

        using var response = await client.SendAsync(Json(body));

        Assert.Equal(HttpStatusCode.NoContent, response.StatusCode);
        var job = Assert.Single(await JobsAsync());
        Assert.Equal(JobId.From("host test", withSubmissionId ? "client:push-1" : "pubsub:2070443601311542"), job.Id);
        Assert.Equal(job.Id, LogLine("handled").GetProperty("jobId").GetString());
    }

    [Fact]
    public async Task BucketEvents_ManifestUnderJobs_LogsTheIdOfTheJobItCreates()
    {
        var client = await HostAsync(FunctionNames.BucketEvents);
        await h.Objects.PutAsync("jobs/first.json", Encoding.UTF8.GetBytes(JobJson()), CancellationToken.None);

        using var response = await client.SendAsync(Binary("google.cloud.storage.object.v1.finalized", "//storage.googleapis.com/projects/_/buckets/spotjax-test", "10", Fixture("eventarc-storage-data.json", objectName: "jobs/first.json"), "objects/jobs/first.json"));

        Assert.Equal(HttpStatusCode.NoContent, response.StatusCode);
        var job = Assert.Single(await JobsAsync());
        Assert.Equal(JobId.From("host test", "gcs:spotjax-test/jobs/first.json#1587627537231057"), job.Id);
        Assert.Equal(job.Id, LogLine("handled").GetProperty("jobId").GetString());
    }

    [Theory]
    [InlineData("code/3f9a0c12be0123456789.tar.gz")]
    [InlineData("cache/pip/0123456789abcdef.tar")]
    public async Task BucketEvents_SharedUpload_LogsNoJobId(string name)
    {
        var client = await HostAsync(FunctionNames.BucketEvents);
        await h.Objects.PutAsync(name, [1, 2, 3], CancellationToken.None);

        using var response = await client.SendAsync(Binary("google.cloud.storage.object.v1.finalized", "//storage.googleapis.com/projects/_/buckets/spotjax-test", "11", Fixture("eventarc-storage-data.json", objectName: name), $"objects/{name}"));

        Assert.Equal(HttpStatusCode.NoContent, response.StatusCode);
        Assert.False(LogLine("handled").TryGetProperty("jobId", out var jobId), $"logged jobId {jobId}");
    }

    [Fact]
    public async Task BucketEvents_Checkpoint_LogsItsJobId()
    {
        var job = await h.SubmitAsync(HandlerHarness.JobYaml(h.Code(Forever)));
        var client = await HostAsync(FunctionNames.BucketEvents);
        var name = $"{job.Id}/ckpt/step_00000044.json";

        using var response = await client.SendAsync(Binary("google.cloud.storage.object.v1.finalized", "//storage.googleapis.com/projects/_/buckets/spotjax-test", "12", Fixture("eventarc-storage-data.json", objectName: name), $"objects/{name}"));

        Assert.Equal(HttpStatusCode.NoContent, response.StatusCode);
        Assert.Equal(job.Id, LogLine("handled").GetProperty("jobId").GetString());
    }

    /// <summary>The last log line with this message, as JSON.</summary>
    private JsonElement LogLine(string message)
    {
        var line = logs.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Last(l => JsonDocument.Parse(l).RootElement.GetProperty("message").GetString() == message);
        using var json = JsonDocument.Parse(line);
        return json.RootElement.Clone();
    }

    [Fact]
    public async Task Sweep_CloudSchedulerCall_RunsTheSweep()
    {
        var job = await h.SubmitAsync(HandlerHarness.JobYaml(h.Code(Forever)));
        await h.Functions.Provision.HandleAsync(h.Step(job.Id, 1), CancellationToken.None);
        await h.TakeAsync(Topics.Default.Launch);
        var client = await HostAsync(FunctionNames.Sweep);
        var request = new HttpRequestMessage(HttpMethod.Post, "/");
        request.Headers.Add("User-Agent", "Google-Cloud-Scheduler");
        request.Headers.Add("X-CloudScheduler", "true");
        request.Headers.Add("X-CloudScheduler-JobName", "spotjax-sweep");
        request.Headers.Add("X-CloudScheduler-ScheduleTime", "2026-11-28T12:00:00Z");

        using var response = await client.SendAsync(request);

        Assert.Equal(HttpStatusCode.NoContent, response.StatusCode);
        Assert.Contains(await h.TakeAsync(Topics.Default.Launch), step => step.JobId == job.Id);
    }

    [Fact]
    public async Task Logs_AreOneJsonObjectPerLineWithTraceAndJob()
    {
        var client = await HostAsync(FunctionNames.Provision);
        var request = Json(Fixture("pubsub-push.json", Convert.ToBase64String(new Core.Steps.StepMessage("nobody-0123456789", 3).ToBytes())));
        request.Headers.Add("X-Cloud-Trace-Context", "105445aa7843bc8bf206b12000100000/1;o=1");

        using var response = await client.SendAsync(request);

        Assert.Equal(HttpStatusCode.NoContent, response.StatusCode);
        var lines = logs.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.All(lines, line => Assert.Equal(JsonValueKind.Object, JsonDocument.Parse(line).RootElement.ValueKind));
        using var handled = JsonDocument.Parse(lines.Last(l => l.Contains("\"handled\"", StringComparison.Ordinal)));
        var root = handled.RootElement;
        Assert.Equal("INFO", root.GetProperty("severity").GetString());
        Assert.Equal(3, root.GetProperty("attempt").GetInt32());
        Assert.Equal("projects/my-project/traces/105445aa7843bc8bf206b12000100000", root.GetProperty("logging.googleapis.com/trace").GetString());
    }

    [Fact]
    public async Task Health_AnswersWithTheFunctionName()
    {
        var client = await HostAsync(FunctionNames.Recover);

        var health = await client.GetStringAsync("/healthz");

        Assert.Contains("\"recover\"", health, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(null)]
    [InlineData("Bearer")]
    [InlineData("Bearer not-a-jwt")]
    [InlineData("Basic dXNlcjpwYXNz")]
    public async Task Push_WithoutAValidTokenWhenAuthIsOn_Is401AndNothingRuns(string? authorization)
    {
        var client = await HostAsync(FunctionNames.Submit, new PushAuthOptions("https://submit.example.run.app", "pusher@my-project.iam.gserviceaccount.com"));
        var request = Json(Fixture("pubsub-push.json", Base64(JobJson())));
        if (authorization is not null)
        {
            request.Headers.TryAddWithoutValidation("Authorization", authorization);
        }

        using var response = await client.SendAsync(request);

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.Empty(await JobsAsync());
    }

    [Theory]
    [InlineData("https://submit.example.run.app", "pusher@my-project.iam.gserviceaccount.com", true, HttpStatusCode.NoContent)]
    [InlineData("https://submit.example.run.app", "someone-else@my-project.iam.gserviceaccount.com", true, HttpStatusCode.Forbidden)]
    [InlineData("https://submit.example.run.app", "pusher@my-project.iam.gserviceaccount.com", false, HttpStatusCode.Forbidden)]
    [InlineData("https://another-service.example.run.app", "pusher@my-project.iam.gserviceaccount.com", true, HttpStatusCode.Unauthorized)]
    public async Task Push_SignedToken_IsCheckedForAudienceAndAccount(string audience, string email, bool verified, HttpStatusCode expected)
    {
        using var tokens = new SignedTokens();
        var auth = new PushAuthOptions("https://submit.example.run.app", "pusher@my-project.iam.gserviceaccount.com") { Validation = tokens.Settings };
        var client = await HostAsync(FunctionNames.Submit, auth);
        var request = Json(Fixture("pubsub-push.json", Base64(JobJson())));
        request.Headers.TryAddWithoutValidation("Authorization", $"Bearer {tokens.Token(audience, email, verified)}");

        using var response = await client.SendAsync(request);

        Assert.Equal(expected, response.StatusCode);
        Assert.Equal(expected == HttpStatusCode.NoContent ? 1 : 0, (await JobsAsync()).Count);
    }

    [Fact]
    public async Task Push_ExpiredToken_Is401()
    {
        using var tokens = new SignedTokens();
        var auth = new PushAuthOptions("https://submit.example.run.app", "pusher@my-project.iam.gserviceaccount.com") { Validation = tokens.Settings };
        var client = await HostAsync(FunctionNames.Submit, auth);
        var request = Json(Fixture("pubsub-push.json", Base64(JobJson())));
        request.Headers.TryAddWithoutValidation("Authorization", $"Bearer {tokens.Token(auth.Audience, auth.ServiceAccount, expiresInSeconds: -600)}");

        using var response = await client.SendAsync(request);

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
    }
}
