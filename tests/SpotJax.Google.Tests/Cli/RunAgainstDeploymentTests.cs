using System.Collections.Concurrent;
using System.Text;
using System.Text.RegularExpressions;
using SpotJax.Contracts;
using SpotJax.Core;
using SpotJax.Core.Jobs;
using SpotJax.Core.Ports;
using SpotJax.Google.PubSub;
using SpotJax.Google.Tests.EndToEnd;
using SpotJax.Google.Tests.Emulators;
using SpotJax.Google.Tests.PubSub;

namespace SpotJax.Google.Tests.Cli;

/// <summary>
/// <c>spotjax run</c> against a deployment, run as a user runs it (its own process, a home folder of
/// the test's own) against <see cref="PushDeployment"/>: every function in its own host on the
/// Pub/Sub and Firestore emulators, the TPU simulator and local workers.
/// </summary>
[Collection(PubSubEmulatorCollection.Name)]
public sealed partial class RunAgainstDeploymentTests(PubSubEmulator pubsub, FirestoreEmulator firestore, PushDeploymentFixture fixture)
    : IClassFixture<FirestoreEmulator>, IClassFixture<PushDeploymentFixture>, IDisposable
{
    private const string Zone = PushDeployment.Zone;
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(90);

    /// <summary>A script that cannot end before the test writes the file <c>RELEASE_FILE</c> names.</summary>
    private const string WaitingScript = """
        import os, time
        print("waiting for the release file", flush=True)
        while not os.path.exists(os.environ["RELEASE_FILE"]):
            time.sleep(0.1)
        print("released", flush=True)
        """;

    private readonly SpotJaxProgram program = new();
    private readonly string work = Directory.CreateTempSubdirectory("spotjax-run-").FullName;

    public void Dispose()
    {
        program.Dispose();
        Directory.Delete(work, recursive: true);
    }

    [Fact]
    public async Task Run_ScriptThatSucceeds_ShowsTimelineAndLogAndExitsZero()
    {
        var deployment = await StartAsync();

        var run = await program.RunAsync("run", "examples/quickstart/train.py", "--tpu", "v4-8", "--zone", Zone, "--", "--steps", "3", "--step-seconds", "0.01");

        Assert.True(run.ExitCode == 0, run.Output + run.Error + deployment.HostOutput());
        var jobId = SubmittedJob(run.Output);
        Assert.Matches(@"(?s)QUEUED.*PROVISIONING.*LAUNCHING.*RUNNING.*SUCCEEDED", run.Output);
        Assert.Contains("attempt 1 worker 0 | starting fresh", run.Output, StringComparison.Ordinal);
        Assert.Contains("attempt 1 worker 0 | finished at step 3", run.Output, StringComparison.Ordinal);
        Assert.Contains($"Job {jobId} SUCCEEDED after 1 attempt(s)", run.Output, StringComparison.Ordinal);
        Assert.Equal(JobState.Succeeded, (await deployment.Store.GetAsync(jobId, CancellationToken.None))!.State);
    }

    [Fact]
    public async Task Run_ManifestWhoseScriptFails_ShowsTheFailureAndExitsOne()
    {
        var deployment = await StartAsync();
        await File.WriteAllTextAsync(Path.Combine(work, "fail.py"), "print('about to fail', flush=True)\nraise SystemExit(3)\n");
        await File.WriteAllTextAsync(Path.Combine(work, "job.yaml"), $"name: failing\ntpu: {{type: v4-8, zone: {Zone}}}\ncode: .\nscript: fail.py\nmaxRetries: 0\n");

        var run = await program.RunAsync("run", "--file", Path.Combine(work, "job.yaml"));

        Assert.True(run.ExitCode == 1, run.Output + run.Error + deployment.HostOutput());
        var jobId = SubmittedJob(run.Output);
        Assert.Contains("attempt 1 worker 0 | about to fail", run.Output, StringComparison.Ordinal);
        Assert.Contains($"Job {jobId} FAILED after 1 attempt(s)", run.Output, StringComparison.Ordinal);
        Assert.Contains("last error:", run.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Run_InterruptedWhileFollowing_DetachesWithExit130AndTheJobRunsOnToSuccess()
    {
        var deployment = await StartAsync();
        var release = Path.Combine(work, "release");
        var script = Path.Combine(work, "code", "wait.py");
        Directory.CreateDirectory(Path.GetDirectoryName(script)!);
        await File.WriteAllTextAsync(script, WaitingScript);
        await using var watch = await WatchJobsTopicAsync(deployment);

        using var running = program.Start("run", script, "--tpu", "v4-8", "--zone", Zone, "--env", $"RELEASE_FILE={release}");
        // The script cannot end before the release file exists, so the program is still following.
        await running.WaitForLineAsync(line => line.Contains(" RUNNING ", StringComparison.Ordinal), "the RUNNING state");
        await running.InterruptAsync();
        var run = await running.ExitAsync();

        Assert.True(run.ExitCode == 130, run.Output + run.Error);
        var jobId = SubmittedJob(run.Output);
        Assert.Contains($"Detached from job {jobId}; it keeps running", run.Output, StringComparison.Ordinal);
        Assert.Contains($"spotjax logs {jobId} --follow", run.Output, StringComparison.Ordinal);
        Assert.Contains($"spotjax status {jobId}", run.Output, StringComparison.Ordinal);
        Assert.Contains($"spotjax cancel {jobId}", run.Output, StringComparison.Ordinal);
        // Everything the program published: the job, and no cancel.
        var published = await watch.PublishedAsync();
        Assert.DoesNotContain(published, m => m.Contains("\"cancel\"", StringComparison.Ordinal));
        Assert.Equal(JobState.Running, (await deployment.Store.GetAsync(jobId, CancellationToken.None))!.State);

        await File.WriteAllTextAsync(release, "");
        Job? done = null;
        await Eventually.TrueAsync(async () => (done = await deployment.Store.GetAsync(jobId, CancellationToken.None))!.State.IsTerminal(), Patience);
        Assert.True(done!.State == JobState.Succeeded, $"{done.State}: {done.LastError}\n{deployment.HostOutput()}");
        Assert.DoesNotContain((await deployment.Store.GetHistoryAsync(jobId, CancellationToken.None)).Select(e => e.To), s => s == JobState.Cancelling);
    }

    [Fact]
    public async Task Run_PreparationLogInTheBucket_ShowsWorkerZerosPrepareLinesPrefixed()
    {
        var deployment = await StartAsync();
        var release = Path.Combine(work, "release");
        var script = Path.Combine(work, "code", "wait.py");
        Directory.CreateDirectory(Path.GetDirectoryName(script)!);
        await File.WriteAllTextAsync(script, WaitingScript);

        using var running = program.Start("run", script, "--tpu", "v4-8", "--zone", Zone, "--env", $"RELEASE_FILE={release}");
        await running.WaitForLineAsync(line => line.EndsWith("attempt 1 worker 0 | waiting for the release file", StringComparison.Ordinal), "the script's first line");
        await File.WriteAllTextAsync(release, "");
        var run = await running.ExitAsync();

        // The node agent uploads the worker's preparation log; run shows it once, before the script's output.
        Assert.True(run.ExitCode == 0, run.Output + run.Error + deployment.HostOutput());
        var lines = run.Output.Split('\n').ToList();
        var venv = Assert.Single(lines, line => line.Contains("attempt 1 worker 0 | prepare | == ", StringComparison.Ordinal) && line.Contains(" venv: ", StringComparison.Ordinal));
        Assert.True(lines.IndexOf(venv) < lines.FindIndex(line => line.EndsWith("attempt 1 worker 0 | waiting for the release file", StringComparison.Ordinal)), run.Output);
        Assert.Contains("attempt 1 worker 0 | released", run.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Run_JobStillRunningAtTimeout_CancelsItAndExitsThree()
    {
        var deployment = await StartAsync();
        var script = Path.Combine(work, "code", "wait.py");
        Directory.CreateDirectory(Path.GetDirectoryName(script)!);
        await File.WriteAllTextAsync(script, WaitingScript);

        // Nothing writes the release file: the job cannot end before the timeout.
        var run = await program.RunAsync("run", script, "--tpu", "v4-8", "--zone", Zone, "--env", $"RELEASE_FILE={Path.Combine(work, "never")}", "--timeout", "1s");

        Assert.True(run.ExitCode == 3, run.Output + run.Error);
        var jobId = SubmittedJob(run.Output);
        Assert.Contains($"Job {jobId} did not end within --timeout 1s: cancel sent.", run.Output, StringComparison.Ordinal);
        Job? done = null;
        await Eventually.TrueAsync(async () => (done = await deployment.Store.GetAsync(jobId, CancellationToken.None)) is { } j && j.State.IsTerminal(), Patience);
        Assert.True(done!.State == JobState.Cancelled, $"{done.State}: {done.LastError}\n{deployment.HostOutput()}");
    }

    [GeneratedRegex(@"Submitted job (\S+) \(")]
    private static partial Regex SubmittedPattern();

    private static string SubmittedJob(string output)
    {
        var match = SubmittedPattern().Match(output);
        Assert.True(match.Success, output);
        return match.Groups[1].Value;
    }

    private async Task<PushDeployment> StartAsync()
    {
        var deployment = await fixture.GetAsync(pubsub, firestore);
        program.Environment.Clear();
        foreach (var (name, value) in deployment.ClientEnvironment)
        {
            program.Environment[name] = value;
        }

        return deployment;
    }

    /// <summary>A pull subscription of its own on the deployment's <c>spotjax-jobs</c>, made before the program runs.</summary>
    private async Task<TopicWatch> WatchJobsTopicAsync(PushDeployment deployment)
    {
        var name = PubSubTesting.UniqueName("run-watch");
        var admin = new PubSubAdminClient(pubsub.Transport, pubsub.Client(deployment.Project));
        await admin.CreateSubscriptionAsync(new SubscriptionSpec { Name = name, Topic = Topics.Default.Jobs }, CancellationToken.None);
        var watch = new TopicWatch(pubsub, deployment.Project);
        watch.Start(name);
        return watch;
    }

    private sealed class TopicWatch(PubSubEmulator pubsub, string project) : IAsyncDisposable
    {
        private readonly string marker = $"end-of-test-messages-{Guid.NewGuid():N}";
        private readonly ConcurrentQueue<string> received = new();
        private PubSubPuller? puller;

        public void Start(string subscription)
        {
            puller = new PubSubPuller(pubsub.Transport, pubsub.Client(project), subscription, (message, _) =>
            {
                received.Enqueue(Encoding.UTF8.GetString(message.Data));
                return Task.CompletedTask;
            }, PubSubTesting.QuickPulls);
            puller.Start();
        }

        /// <summary>
        /// Every message published so far: a marker is published after them, and the messages seen
        /// once the marker has arrived are the earlier ones (the emulator delivers in order).
        /// </summary>
        public async Task<IReadOnlyList<string>> PublishedAsync()
        {
            await new PubSubPublisher(pubsub.Transport, pubsub.Client(project)).PublishAsync(Topics.Default.Jobs, OutgoingMessage.FromText(marker), CancellationToken.None);
            await Eventually.TrueAsync(() => received.Contains(marker), "the marker message");
            return received.Where(m => m != marker).ToList();
        }

        public async ValueTask DisposeAsync()
        {
            if (puller is not null)
            {
                await puller.DisposeAsync();
            }
        }
    }
}
