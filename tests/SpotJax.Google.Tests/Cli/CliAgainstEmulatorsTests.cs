using System.Collections.Concurrent;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using SpotJax.Contracts;
using SpotJax.Core;
using SpotJax.Core.Jobs;
using SpotJax.Core.Lifecycle;
using SpotJax.Core.Ports;
using SpotJax.Core.Steps;
using SpotJax.Google.Firestore;
using SpotJax.Google.PubSub;
using SpotJax.Google.Storage;
using SpotJax.Google.Tests.Emulators;
using SpotJax.Google.Tests.PubSub;

namespace SpotJax.Google.Tests.Cli;

/// <summary>
/// The Google Cloud path of the <c>spotjax</c> program, run as a user runs it (its own process, a
/// home folder of the test's own) against the Pub/Sub and Firestore emulators and the Cloud Storage
/// server, through the variables production code reads, with no functions running and no
/// Application Default Credentials: the test plays the control plane by pulling <c>spotjax-jobs</c>
/// and writing jobs with <see cref="FirestoreJobStore"/> and <see cref="JobLifecycle"/>.
/// </summary>
[Collection(PubSubEmulatorCollection.Name)]
public sealed partial class CliAgainstEmulatorsTests(PubSubEmulator pubsub, FirestoreEmulator firestore, StorageServer storage)
    : IClassFixture<FirestoreEmulator>, IClassFixture<StorageServer>, IAsyncLifetime
{
    private const string Zone = "us-central2-b";
    private const string Marker = "end-of-test-messages";
    private static readonly CancellationToken None = CancellationToken.None;

    private readonly string project = $"cli-{Guid.NewGuid():N}"[..20];
    private readonly string bucket = StorageServer.NewBucket();
    private readonly SpotJaxProgram program = new();
    private readonly ConcurrentQueue<PubSubMessage> published = new();
    private PubSubPuller? puller;
    private GcsObjectStore objects = null!;
    private FirestoreJobStore store = null!;

    public async Task InitializeAsync()
    {
        var admin = new PubSubAdminClient(pubsub.Transport, pubsub.Client(project));
        await admin.CreateTopicAsync(Topics.Default.Jobs, None);
        await admin.CreateSubscriptionAsync(new SubscriptionSpec { Name = "cli-watch", Topic = Topics.Default.Jobs }, None);
        puller = new PubSubPuller(pubsub.Transport, pubsub.Client(project), "cli-watch", (message, _) =>
        {
            published.Enqueue(message);
            return Task.CompletedTask;
        }, PubSubTesting.QuickPulls);
        puller.Start();
        objects = await GcsObjectStore.CreateAsync(new GcsObjectStoreOptions { Bucket = bucket, BaseUri = storage.BaseUri }, None);
        store = firestore.CreateStore(project);
    }

    public async Task DisposeAsync()
    {
        if (puller is not null)
        {
            await puller.DisposeAsync();
        }

        objects?.Dispose();
        program.Dispose();
    }

    [Fact]
    public async Task Submit_AgainstEmulators_UploadsCodeAndPublishesOneJobWithItsSubmissionId()
    {
        var run = await RunAsync("submit", "examples/quickstart/train.py", "--tpu", "v4-8", "--zone", Zone, "--project", project, "--bucket", bucket, "--", "--steps", "5");

        Assert.True(run.ExitCode == 0, run.Output + run.Error);
        var jobId = Regex.Match(run.Output, @"Submitted job (\S+) \(").Groups[1].Value;
        Assert.Matches(JobIdPattern(), jobId);
        var message = Assert.Single(await PublishedAsync());
        var spec = JobDocument.Parse(Encoding.UTF8.GetString(message.Data));
        Assert.Equal("quickstart", spec.Name);
        Assert.Equal("v4-8", spec.Tpu.Type);
        Assert.Equal([Zone], spec.Tpu.Zones);
        Assert.Equal("train.py", spec.Script);
        Assert.Equal(["--steps", "5"], spec.Args);
        var code = Regex.Match(spec.Code, $@"^gs://{Regex.Escape(bucket)}/(code/[0-9a-f]{{64}}\.tar\.gz)$");
        Assert.True(code.Success, spec.Code);
        Assert.Contains(spec.Code, run.Output, StringComparison.Ordinal);
        var submissionId = message.Attributes[SubmitFunction.SubmissionIdAttribute];
        Assert.Equal(JobId.From(spec.Name, "client:" + submissionId), jobId);
        var bundle = await objects.GetAsync(code.Groups[1].Value, None);
        Assert.NotNull(bundle);
        Assert.Equal(new byte[] { 0x1f, 0x8b }, bundle.Take(2));
    }

    [Fact]
    public async Task Status_JobInFirestoreEmulator_PrintsItsStateAttemptAndHistory()
    {
        var jobId = await StoreRunningJobAsync();

        var queue = await RunAsync("status", "--json");
        var one = await RunAsync("status", jobId, "--json");

        Assert.True(queue.ExitCode == 0, queue.Output + queue.Error);
        using (var listed = JsonDocument.Parse(queue.Output))
        {
            var job = Assert.Single(listed.RootElement.EnumerateArray());
            Assert.Equal(jobId, job.GetProperty("id").GetString());
            Assert.Equal("RUNNING", job.GetProperty("state").GetString());
            Assert.Equal(1, job.GetProperty("attempt").GetInt32());
            Assert.Equal(JsonValueKind.Number, job.GetProperty("cost").GetProperty("usd").ValueKind);
        }

        Assert.True(one.ExitCode == 0, one.Output + one.Error);
        using var report = JsonDocument.Parse(one.Output);
        Assert.Equal("RUNNING", report.RootElement.GetProperty("job").GetProperty("state").GetString());
        Assert.Equal(1, report.RootElement.GetProperty("job").GetProperty("attempt").GetInt32());
        Assert.Equal((await store.GetHistoryAsync(jobId, None)).Count, report.RootElement.GetProperty("history").GetArrayLength());
        Assert.True(report.RootElement.GetProperty("history").GetArrayLength() >= 3, one.Output);
        Assert.Equal(1, Assert.Single(report.RootElement.GetProperty("attempts").EnumerateArray()).GetProperty("attempt").GetInt32());

        // The billing of the running attempt came back from Firestore: one open attempt of a v4-8's 4 chips.
        var billed = Assert.Single(report.RootElement.GetProperty("cost").GetProperty("attempts").EnumerateArray());
        Assert.Equal((1, 4, true), (billed.GetProperty("attempt").GetInt32(), billed.GetProperty("chips").GetInt32(), billed.GetProperty("running").GetBoolean()));
    }

    [Fact]
    public async Task Status_UnknownJob_ExitsNotFound()
    {
        var run = await RunAsync("status", "nosuch-0123456789", "--json");

        Assert.Equal(4, run.ExitCode);
        Assert.Contains("no job nosuch-0123456789", run.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Logs_WorkerLogInStorageServer_PrintsItsContent()
    {
        var jobId = await StoreRunningJobAsync();
        const string content = "step 1 loss 0.9\nstep 2 loss 0.5\n";
        await objects.PutAsync($"{jobId}/logs/attempt-1/worker-0.log", Encoding.UTF8.GetBytes(content), None);

        var run = await RunAsync("logs", jobId, "--worker", "0");

        Assert.True(run.ExitCode == 0, run.Output + run.Error);
        Assert.Equal(content, run.Output);
    }

    [Fact]
    public async Task Logs_PreparationAndOutputLogs_PrintsThePreparationFirstWithHeadingsOnStderr()
    {
        var jobId = await StoreRunningJobAsync();
        const string prepare = "uv venv --python 3.12\nsetup: installed 3 packages\n";
        const string output = "step 1 loss 0.9\n";
        await objects.PutAsync($"{jobId}/logs/attempt-1/worker-0.prepare.log", Encoding.UTF8.GetBytes(prepare), None);
        await objects.PutAsync($"{jobId}/logs/attempt-1/worker-0.log", Encoding.UTF8.GetBytes(output), None);

        var run = await RunAsync("logs", jobId);

        Assert.True(run.ExitCode == 0, run.Output + run.Error);
        Assert.Equal(prepare + output, run.Output);
        Assert.Equal(["--- preparation: attempt 1, worker 0 ---", "--- output: attempt 1, worker 0 ---"], run.Error.Split('\n', StringSplitOptions.RemoveEmptyEntries));
    }

    [Fact]
    public async Task LogsPrepare_BothLogsStored_PrintsOnlyThePreparationLog()
    {
        var jobId = await StoreRunningJobAsync();
        const string prepare = "fetching code\nsetup: exit 0\n";
        await objects.PutAsync($"{jobId}/logs/attempt-1/worker-2.prepare.log", Encoding.UTF8.GetBytes(prepare), None);
        await objects.PutAsync($"{jobId}/logs/attempt-1/worker-2.log", "step 1\n"u8.ToArray(), None);

        var run = await RunAsync("logs", jobId, "--worker", "2", "--prepare");

        Assert.True(run.ExitCode == 0, run.Output + run.Error);
        Assert.Equal(prepare, run.Output);
        Assert.Equal("", run.Error);
    }

    [Fact]
    public async Task LogsPrepare_NoPreparationLog_ExitsNotFoundWithAMessage()
    {
        var jobId = await StoreRunningJobAsync();
        await objects.PutAsync($"{jobId}/logs/attempt-1/worker-0.log", "step 1\n"u8.ToArray(), None);

        var run = await RunAsync("logs", jobId, "--prepare");

        Assert.Equal(4, run.ExitCode);
        Assert.Contains($"no preparation log for worker 0 of attempt 1 of job {jobId}", run.Error, StringComparison.Ordinal);
        Assert.Equal("", run.Output);
    }

    [Fact]
    public async Task Logs_OnlyAFailedPreparation_PrintsItAndSaysTheScriptDidNotStart()
    {
        var jobId = await StoreRunningJobAsync();
        const string prepare = "setup: spotax_setup.sh exited 1\n";
        await objects.PutAsync($"{jobId}/logs/attempt-1/worker-0.prepare.log", Encoding.UTF8.GetBytes(prepare), None);

        var run = await RunAsync("logs", jobId);

        Assert.True(run.ExitCode == 0, run.Output + run.Error);
        Assert.Equal(prepare, run.Output);
        Assert.Contains("no output: the script of attempt 1 has not started on worker 0", run.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task LogsFollow_LogsRewrittenWholeByEachUpload_PrintsEveryLineOnceInOrderUntilTheJobEnds()
    {
        var jobId = await StoreRunningJobAsync();
        var prepareName = $"{jobId}/logs/attempt-1/worker-0.prepare.log";
        var outputName = $"{jobId}/logs/attempt-1/worker-0.log";
        await objects.PutAsync(prepareName, "fetching code\nsetup: ok\n"u8.ToArray(), None);
        Configure();
        using var follow = program.Start("logs", jobId, "--follow");

        await follow.WaitForLineAsync(line => line == "setup: ok", "the preparation log");
        // As the agent uploads: the whole file each time, the last line sometimes cut by the upload.
        await objects.PutAsync(outputName, "step 1\nstep 2\nst"u8.ToArray(), None);
        await follow.WaitForLineAsync(line => line == "step 2", "the first upload's lines");
        await objects.PutAsync(outputName, "step 1\nstep 2\nstep 3\nstep 4\n"u8.ToArray(), None);
        await follow.WaitForLineAsync(line => line == "step 4", "the second upload's lines");
        await objects.PutAsync(outputName, "step 1\nstep 2\nstep 3\nstep 4\nsaved checkpoint 4"u8.ToArray(), None);
        await ApplyAsync(jobId, job => JobLifecycle.RequestCancel(job, DateTimeOffset.UtcNow));
        await ApplyAsync(jobId, job => JobLifecycle.CompleteCancel(job, DateTimeOffset.UtcNow));
        var run = await follow.ExitAsync();

        Assert.True(run.ExitCode == 0, run.Output + run.Error);
        // The program's output as lines (the capture ends the unterminated last line).
        Assert.Equal("fetching code\nsetup: ok\nstep 1\nstep 2\nstep 3\nstep 4\nsaved checkpoint 4\n", run.Output);
        Assert.Equal(["--- preparation: attempt 1, worker 0 ---", "--- output: attempt 1, worker 0 ---"], run.Error.Split('\n', StringSplitOptions.RemoveEmptyEntries));
    }

    [Fact]
    public async Task Cancel_RunningJob_PublishesCancelAndReturnsOnceStoredJobIsCancelled()
    {
        var jobId = await StoreRunningJobAsync();

        var cancel = RunAsync("cancel", jobId);
        await Eventually.TrueAsync(() => published.Any(IsCancelOf(jobId)) || cancel.IsCompleted, TimeSpan.FromSeconds(60));
        Assert.False(cancel.IsCompleted, cancel.IsCompleted ? (await cancel).Output + (await cancel).Error : "");
        // The control plane's part: CANCELLING, then CANCELLED once the queued resource is gone.
        await ApplyAsync(jobId, job => JobLifecycle.RequestCancel(job, DateTimeOffset.UtcNow));
        await ApplyAsync(jobId, job => JobLifecycle.CompleteCancel(job, DateTimeOffset.UtcNow));
        var run = await cancel.WaitAsync(TimeSpan.FromSeconds(60));

        Assert.True(run.ExitCode == 0, run.Output + run.Error);
        Assert.Contains($"Job {jobId} CANCELLED after 1 attempt(s)", run.Output, StringComparison.Ordinal);
        var message = Assert.Single(await PublishedAsync());
        using var body = JsonDocument.Parse(message.Data);
        Assert.Equal(jobId, body.RootElement.GetProperty("cancel").GetString());
        Assert.Single(body.RootElement.EnumerateObject());
    }

    [Fact]
    public async Task CancelNoWait_RunningJob_PublishesCancelAndReturns()
    {
        var jobId = await StoreRunningJobAsync();

        var run = await RunAsync("cancel", jobId, "--no-wait");

        Assert.True(run.ExitCode == 0, run.Output + run.Error);
        Assert.Contains($"Cancel of job {jobId} sent.", run.Output, StringComparison.Ordinal);
        var message = Assert.Single(await PublishedAsync());
        Assert.Equal($$"""{"cancel":"{{jobId}}"}""", Encoding.UTF8.GetString(message.Data));
        Assert.Equal(JobState.Running, (await store.GetAsync(jobId, None))!.State);
    }

    [Fact]
    public async Task SubmitAndStatus_BucketDescribesAnotherPrefixAndDatabase_PublishOnItsJobsTopicAndReadItsDatabase()
    {
        var staging = new DeploymentDescriptor("stg", "staging", "stg-jobs");
        await objects.PutAsync(DeploymentDescriptor.ObjectName, staging.ToJson(), None);
        var admin = new PubSubAdminClient(pubsub.Transport, pubsub.Client(project));
        await admin.CreateTopicAsync(staging.Topics.Jobs, None);
        await admin.CreateSubscriptionAsync(new SubscriptionSpec { Name = "cli-watch-stg", Topic = staging.Topics.Jobs }, None);
        var stagingPublished = new ConcurrentQueue<PubSubMessage>();
        await using var stagingPuller = new PubSubPuller(pubsub.Transport, pubsub.Client(project), "cli-watch-stg", (message, _) =>
        {
            stagingPublished.Enqueue(message);
            return Task.CompletedTask;
        }, PubSubTesting.QuickPulls);
        stagingPuller.Start();
        var stagingStore = firestore.CreateStore(project, database: staging.FirestoreDatabase);
        var stagingJob = await StoreRunningJobAsync(stagingStore);
        var defaultJob = await StoreRunningJobAsync(store);

        var submit = await RunAsync("submit", "examples/quickstart/train.py", "--tpu", "v4-8", "--zone", Zone, "--project", project, "--bucket", bucket);
        var status = await RunAsync("status", "--json");

        Assert.True(submit.ExitCode == 0, submit.Output + submit.Error);
        await Eventually.TrueAsync(() => !stagingPublished.IsEmpty);
        Assert.Equal("quickstart", JobDocument.Parse(Encoding.UTF8.GetString(Assert.Single(stagingPublished).Data)).Name);
        Assert.Empty(await PublishedAsync());
        Assert.True(status.ExitCode == 0, status.Output + status.Error);
        using var listed = JsonDocument.Parse(status.Output);
        Assert.Equal(stagingJob, Assert.Single(listed.RootElement.EnumerateArray()).GetProperty("id").GetString());
        Assert.NotEqual(defaultJob, stagingJob);
    }

    [Fact]
    public async Task Status_BucketDescriptorOfAnUnknownVersion_ExitsSayingWhatToDo()
    {
        await objects.PutAsync(DeploymentDescriptor.ObjectName, """{"version":2,"namePrefix":"stg","deployment":"staging","firestoreDatabase":"stg-jobs"}"""u8.ToArray(), None);

        var run = await RunAsync("status", "--json");

        Assert.Equal(5, run.ExitCode);
        Assert.Contains($"gs://{bucket}/deployment.json cannot be read: version 2 is not one this spotjax reads", run.Error, StringComparison.Ordinal);
        Assert.Equal("", run.Output);
    }

    [Fact]
    public async Task Status_StorageOnProductionWithoutCredentials_ReportsMissingLoginAtOnce()
    {
        // Pub/Sub and Firestore are emulated but Cloud Storage would be Google's: that one needs a login.
        var run = await RunWithoutAsync(global::SpotJax.Cli.Target.StorageApiVariable, "status", "--json");

        Assert.Equal(5, run.ExitCode);
        Assert.Contains("no Application Default Credentials", run.Error, StringComparison.Ordinal);
        Assert.Equal("", run.Output);
    }

    [GeneratedRegex("^quickstart-[0-9a-z]+$")]
    private static partial Regex JobIdPattern();

    private static Func<PubSubMessage, bool> IsCancelOf(string jobId) =>
        m => Encoding.UTF8.GetString(m.Data).Contains($"\"cancel\":\"{jobId}\"", StringComparison.Ordinal);

    /// <summary>
    /// Everything the program published to <c>spotjax-jobs</c>: a marker is published after it, and the
    /// messages seen once the marker has arrived are the program's (the emulator delivers in order).
    /// </summary>
    private async Task<IReadOnlyList<PubSubMessage>> PublishedAsync()
    {
        var publisher = new PubSubPublisher(pubsub.Transport, pubsub.Client(project));
        await publisher.PublishAsync(Topics.Default.Jobs, OutgoingMessage.FromText(Marker), None);
        await Eventually.TrueAsync(() => published.Any(m => Encoding.UTF8.GetString(m.Data) == Marker));
        return published.Where(m => Encoding.UTF8.GetString(m.Data) != Marker).ToList();
    }

    /// <summary>A job the control plane would have stored: submitted, provisioned and started on one worker.</summary>
    private Task<string> StoreRunningJobAsync() => StoreRunningJobAsync(store);

    /// <summary>A running job as <see cref="StoreRunningJobAsync()"/> stores it, in <paramref name="into"/>.</summary>
    private async Task<string> StoreRunningJobAsync(FirestoreJobStore into)
    {
        var spec = JobDocument.Parse($$"""
            {"name": "quickstart", "tpu": {"type": "v4-8", "zone": "{{Zone}}"}, "code": "gs://{{bucket}}/code/0123.tar.gz", "script": "train.py", "args": ["--steps", "5"]}
            """);
        var jobId = JobId.From(spec.Name, "client:" + Guid.NewGuid().ToString("N"));
        var (job, entry) = JobLifecycle.Submit(jobId, "client:test", spec, DateTimeOffset.UtcNow);
        Assert.True(await into.TryCreateAsync(job, entry, None));
        await ApplyAsync(into, jobId, j => JobLifecycle.StartProvisioning(j, 1, DateTimeOffset.UtcNow));
        await ApplyAsync(into, jobId, j => JobLifecycle.NodesReady(j, 1, 1, DateTimeOffset.UtcNow, DateTimeOffset.UtcNow.AddMinutes(35)));
        await ApplyAsync(into, jobId, j => JobLifecycle.WorkerPrepared(j, 1, 0, DateTimeOffset.UtcNow));
        Assert.Equal(JobState.Running, (await into.GetAsync(jobId, None))!.State);
        return jobId;
    }

    private Task ApplyAsync(string jobId, Func<Job, Decision> decide) => ApplyAsync(store, jobId, decide);

    private static async Task ApplyAsync(FirestoreJobStore into, string jobId, Func<Job, Decision> decide)
    {
        var current = (await into.GetAsync(jobId, None))!;
        var decision = decide(current);
        Assert.True(decision.Verdict == Verdict.Apply, decision.Reason);
        Assert.True(await into.TryUpdateAsync(decision.Job, current.Revision, decision.Entry, None));
    }

    /// <summary>The spotjax program from the repository root, pointed at the emulators and at this test's project and bucket.</summary>
    private Task<(int ExitCode, string Output, string Error)> RunAsync(params string[] args) => RunWithoutAsync(null, args);

    /// <param name="without">A variable of this test's environment to leave unset.</param>
    private async Task<(int ExitCode, string Output, string Error)> RunWithoutAsync(string? without, params string[] args)
    {
        Configure(without);
        return await program.RunAsync(args);
    }

    /// <summary>Points the program's runs at the emulators and at this test's project and bucket.</summary>
    /// <param name="without">A variable of this test's environment to leave unset.</param>
    private void Configure(string? without = null)
    {
        program.Environment.Clear();
        program.Environment[GoogleEndpoints.PubSubEmulatorHostVariable] = pubsub.HostPort;
        program.Environment[GoogleEndpoints.FirestoreEmulatorHostVariable] = firestore.BaseUri.Authority;
        program.Environment[global::SpotJax.Cli.Target.StorageApiVariable] = storage.BaseUri.AbsoluteUri;
        program.Environment["GOOGLE_CLOUD_PROJECT"] = project;
        program.Environment["SPOTJAX_BUCKET"] = bucket;
        if (without is not null)
        {
            program.Environment.Remove(without);
        }
    }
}
