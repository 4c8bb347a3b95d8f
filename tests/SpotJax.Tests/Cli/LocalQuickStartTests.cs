using System.Text.Json;
using System.Text.RegularExpressions;
using SpotJax.Contracts;
using SpotJax.Functions.Local;

namespace SpotJax.Tests.Cli;

/// <summary>
/// The README's quick start against local mode, each command as the README shows it, run as its
/// own spotjax process: local up, submit from a folder, status, logs of worker 0, cancel, local down.
/// </summary>
public sealed partial class LocalQuickStartTests : IDisposable
{
    private readonly SpotJaxProgram spotjax = new();

    public void Dispose() => spotjax.Dispose();

    /// <summary>The README's commands, as the tests below run them.</summary>
    private static readonly string[] SubmitLongRun = ["submit", "examples/quickstart/train.py", "--local", "--tpu", "v4-8", "--zone", "us-central2-b", "--", "--steps", "6000", "--step-seconds", "0.1"];
    private static readonly string[] SubmitLongJob = ["submit", "--file", "examples/quickstart/long-job.yaml", "--local"];
    private static readonly string[] SubmitAndFollow = ["submit", "--file", "examples/quickstart/job.yaml", "--local", "--follow"];

    private static string[] PreemptCommand(string jobId) => ["local", "preempt", jobId];

    private static string[] FollowLogsCommand(string jobId) => ["logs", jobId, "--local", "--follow"];

    private static string JobIdIn(string output) => SubmittedPattern().Match(output) is { Success: true } m ? m.Groups[1].Value : throw new InvalidOperationException(output);

    [Fact]
    public async Task QuickStart_SubmitStatusLogsCancel_EachCommandDoesWhatTheReadmeSays()
    {
        var up = await spotjax.RunAsync("local", "up", "--detach");
        Assert.True(up.ExitCode == 0, up.Output + up.Error);
        Assert.Contains("status page: http://127.0.0.1:", up.Output, StringComparison.Ordinal);
        var plane = LocalPlaneInfo.ReadLive(spotjax.LocalStateDir)!;

        // Ten minutes of steps: the job is still running when it is cancelled below.
        var submit = await spotjax.RunAsync(SubmitLongRun);
        Assert.True(submit.ExitCode == 0, submit.Output + submit.Error);
        var jobId = JobIdIn(submit.Output);
        Assert.Contains($"spotjax logs {jobId} --local --follow", submit.Output, StringComparison.Ordinal);

        var queue = await spotjax.EventuallyAsync(r => r.Output.Contains("RUNNING", StringComparison.Ordinal), "status", "--local");
        Assert.Equal(0, queue.ExitCode);
        Assert.Contains(jobId, queue.Output, StringComparison.Ordinal);

        var logs = await spotjax.EventuallyAsync(r => r.ExitCode == 0 && r.Output.Contains("saved checkpoint at step 5", StringComparison.Ordinal), "logs", jobId, "--local", "--worker", "0");
        // The output section (after any preparation log) holds the script's first line.
        Assert.Matches("(?m)^starting fresh", logs.Output);

        // The log shows the checkpoint as soon as it is written; the job records it when the plane
        // has seen the bucket's event, which can come later.
        var one = await spotjax.EventuallyAsync(r => r.ExitCode == 0 && CheckpointRecorded().IsMatch(r.Output), "status", jobId, "--local");
        Assert.Matches(@"preemptions\s+0 of 100", one.Output);

        var cancel = await spotjax.RunAsync("cancel", jobId, "--local");
        Assert.True(cancel.ExitCode == 0, cancel.Output + cancel.Error);
        Assert.Contains($"Job {jobId} CANCELLED after 1 attempt(s)", cancel.Output, StringComparison.Ordinal);
        var json = await spotjax.RunAsync("status", jobId, "--local", "--json");
        using (var report = JsonDocument.Parse(json.Output))
        {
            Assert.Equal("CANCELLED", report.RootElement.GetProperty("job").GetProperty("state").GetString());
        }

        var down = await spotjax.RunAsync("local", "down");
        Assert.True(down.ExitCode == 0, down.Output + down.Error);
        Assert.False(LocalPlaneInfo.IsAlive(plane.Pid));
        Assert.Empty(SpotJaxProgram.ProcessesMentioning(spotjax.LocalStateDir));
    }

    [Fact]
    public async Task SubmitFile_PreemptedOnceThenFollowed_RecoversFromItsCheckpointAndSucceeds()
    {
        Assert.Equal(0, (await spotjax.RunAsync("local", "up", "--detach", "--provision-delay", "0.2s")).ExitCode);
        var jobId = await SubmitForJsonAsync(SubmitLongJob);

        // long-job.yaml's first attempt waits for its preemption at its last step: once RUNNING with a
        // checkpoint, attempt 1 stays so until the preemption below, however slow this machine is.
        await WaitForJobAsync(jobId, "RUNNING", 1, withCheckpoint: true);
        var preempt = await spotjax.RunAsync(PreemptCommand(jobId));
        Assert.True(preempt.ExitCode == 0, preempt.Output + preempt.Error);
        Assert.Contains($"Preempted attempt 1 of job {jobId}", preempt.Output, StringComparison.Ordinal);
        var follow = await spotjax.RunAsync(FollowLogsCommand(jobId));

        Assert.Equal(0, follow.ExitCode);
        Assert.Contains("resumed from checkpoint step", follow.Output, StringComparison.Ordinal);
        Assert.Contains("finished at step 60", follow.Output, StringComparison.Ordinal);
        Assert.Contains("--- attempt 2 ---", follow.Error, StringComparison.Ordinal);
        using var report = JsonDocument.Parse((await spotjax.EventuallyAsync(r => r.Output.Contains("SUCCEEDED", StringComparison.Ordinal), "status", jobId, "--local", "--json")).Output);
        Assert.Equal(2, report.RootElement.GetProperty("attempts").GetArrayLength());
        Assert.True(report.RootElement.GetProperty("attempts")[0].GetProperty("preempted").GetBoolean());
        Assert.True(report.RootElement.GetProperty("checkpoints").GetArrayLength() >= 2);
        Assert.Equal(0, (await spotjax.RunAsync("local", "down")).ExitCode);
    }

    [Fact]
    public async Task LocalPreempt_SucceededJob_SaysItHasFinishedAndExitsFour()
    {
        Assert.Equal(0, (await spotjax.RunAsync("local", "up", "--detach", "--provision-delay", "0.2s")).ExitCode);
        var followed = await spotjax.RunAsync(SubmitAndFollow);
        Assert.True(followed.ExitCode == 0, followed.Output + followed.Error);
        Assert.Contains("attempt 1 worker 0 | finished at step 40", followed.Output, StringComparison.Ordinal);
        Assert.Contains("SUCCEEDED after 1 attempt(s)", followed.Output, StringComparison.Ordinal);
        var jobId = JobIdIn(followed.Output);

        var preempt = await spotjax.RunAsync(PreemptCommand(jobId));

        Assert.Equal(4, preempt.ExitCode);
        Assert.Equal(
            $"error: job {jobId} has already SUCCEEDED; nothing to preempt (preempt a job while `spotjax status JOB --local` shows it RUNNING)",
            preempt.Error.Trim());
        using var report = JsonDocument.Parse((await spotjax.RunAsync("status", jobId, "--local", "--json")).Output);
        Assert.Equal(1, report.RootElement.GetProperty("attempts").GetArrayLength());
    }

    [Fact]
    public async Task LocalPreempt_JobBetweenAttempts_SaysWhichAttemptIsComingAndExitsFour()
    {
        // Attempt 2's TPU takes ten minutes to become ACTIVE: once the job provisions attempt 2, it
        // stays between attempts for the rest of the test.
        Assert.Equal(0, (await spotjax.RunAsync("local", "up", "--detach", "--provision-delay", "0.2s", "--provision-delay", "10m")).ExitCode);
        var jobId = await SubmitForJsonAsync(SubmitLongJob);
        await WaitForJobAsync(jobId, "RUNNING", 1, withCheckpoint: false);
        var first = await spotjax.RunAsync(PreemptCommand(jobId));
        Assert.True(first.ExitCode == 0, first.Output + first.Error);
        await WaitForJobAsync(jobId, "PROVISIONING", 2, withCheckpoint: false);

        var second = await spotjax.RunAsync(PreemptCommand(jobId));

        Assert.Equal(4, second.ExitCode);
        Assert.Equal(
            $"error: job {jobId} is between attempts (PROVISIONING, attempt 2 not yet running); " +
            $"run `spotjax local preempt {jobId}` again once `spotjax status {jobId} --local` shows RUNNING",
            second.Error.Trim());
        Assert.Empty(second.Output);
    }

    [Fact]
    public void Readme_LocalSection_ShowsTheCommandsTheseTestsRun()
    {
        var readme = File.ReadAllText(Path.Combine(Repository.Root, "README.md"));
        var start = readme.IndexOf("### The command line against local mode", StringComparison.Ordinal);
        var section = readme[start..readme.IndexOf("\n## ", start, StringComparison.Ordinal)];
        const string Prefix = "    dotnet run --project cli/SpotJax.Cli -- ";
        var shown = section.Split('\n').Where(line => line.StartsWith(Prefix, StringComparison.Ordinal)).Select(line => line[Prefix.Length..].TrimEnd()).ToList();

        string[][] tested =
        [
            ["local", "up", "--detach"], SubmitLongRun, ["status", "--local"], ["logs", "JOB", "--local", "--worker", "0"], ["status", "JOB", "--local"], ["cancel", "JOB", "--local"], ["local", "down"],
            ["local", "up", "--detach"], SubmitLongJob, PreemptCommand("JOB"), FollowLogsCommand("JOB"), SubmitAndFollow, ["local", "down"],
        ];
        Assert.Equal(tested.Select(command => string.Join(' ', command)), shown);
    }

    [Fact]
    public async Task Commands_Mistakes_ExitWithTheDocumentedCodes()
    {
        var noPlane = await spotjax.RunAsync("submit", "examples/quickstart/train.py", "--local", "--tpu", "v4-8", "--zone", "us-central2-b");
        Assert.Equal(5, noPlane.ExitCode);
        Assert.Contains("spotjax local up --detach", noPlane.Error, StringComparison.Ordinal);

        var noTpu = await spotjax.RunAsync("submit", "examples/quickstart/train.py", "--local");
        Assert.Equal(2, noTpu.ExitCode);
        Assert.Contains("--tpu TYPE and --zone ZONE", noTpu.Error, StringComparison.Ordinal);

        var badType = await spotjax.RunAsync("submit", "examples/quickstart/train.py", "--local", "--tpu", "v4-9", "--zone", "us-central2-b");
        Assert.Equal(2, badType.ExitCode);
        Assert.Contains("tpu.type", badType.Error, StringComparison.Ordinal);

        var preemptWithoutPlane = await spotjax.RunAsync("local", "preempt", "no-such-job-0123456789");
        Assert.Equal(5, preemptWithoutPlane.ExitCode);
        Assert.Contains("spotjax local up --detach", preemptWithoutPlane.Error, StringComparison.Ordinal);

        var nothing = await spotjax.RunAsync("status");
        Assert.Equal(5, nothing.ExitCode);
        Assert.Contains("no deployment", nothing.Error, StringComparison.Ordinal);

        Assert.Equal(0, (await spotjax.RunAsync("local", "up", "--detach")).ExitCode);
        var unknown = await spotjax.RunAsync("status", "no-such-job-0123456789", "--local");
        Assert.Equal(4, unknown.ExitCode);
        Assert.Equal(4, (await spotjax.RunAsync("logs", "no-such-job-0123456789", "--local")).ExitCode);
        Assert.Equal(4, (await spotjax.RunAsync("cancel", "no-such-job-0123456789", "--local")).ExitCode);
        var preemptUnknown = await spotjax.RunAsync("local", "preempt", "no-such-job-0123456789");
        Assert.Equal(4, preemptUnknown.ExitCode);
        Assert.Contains("no job no-such-job-0123456789", preemptUnknown.Error, StringComparison.Ordinal);
        var again = await spotjax.RunAsync("local", "up", "--detach");
        Assert.Equal(0, again.ExitCode);
        Assert.Contains("already runs", again.Output, StringComparison.Ordinal);
        var found = await spotjax.RunAsync("status");
        Assert.Equal(0, found.ExitCode);
        Assert.Contains("No jobs in the local plane", found.Output, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("submit")]
    [InlineData("status")]
    [InlineData("logs")]
    [InlineData("cancel")]
    [InlineData("setup")]
    [InlineData("local up")]
    [InlineData("local preempt")]
    public async Task Help_EveryCommand_ShowsAnExample(string command)
    {
        var (exit, output, _) = await spotjax.RunAsync([.. command.Split(' '), "--help"]);

        Assert.Equal(0, exit);
        Assert.Contains("Example", output, StringComparison.Ordinal);
        Assert.Contains($"spotjax {command}", output, StringComparison.Ordinal);
    }

    /// <summary>Runs a README submit with <c>--json</c> and returns the job id.</summary>
    private async Task<string> SubmitForJsonAsync(string[] submit)
    {
        var result = await spotjax.RunAsync([.. submit, "--json"]);
        Assert.True(result.ExitCode == 0, result.Output + result.Error);
        using var submitted = JsonDocument.Parse(result.Output);
        var jobId = submitted.RootElement.GetProperty("jobId").GetString()!;
        Assert.EndsWith($"/jobs/{jobId}", submitted.RootElement.GetProperty("statusPage").GetString(), StringComparison.Ordinal);
        return jobId;
    }

    /// <summary>Waits for a state that, in these tests, holds until the test itself moves the job on.</summary>
    private Task WaitForJobAsync(string jobId, string state, int attempt, bool withCheckpoint) =>
        spotjax.EventuallyAsync(
            r =>
            {
                if (r.ExitCode != 0)
                {
                    return false;
                }

                using var report = JsonDocument.Parse(r.Output);
                var job = report.RootElement.GetProperty("job");
                return job.GetProperty("state").GetString() == state && job.GetProperty("attempt").GetInt32() == attempt &&
                    (!withCheckpoint || job.TryGetProperty("lastCheckpointStep", out var step) && step.ValueKind == JsonValueKind.Number);
            },
            "status", jobId, "--local", "--json");

    [GeneratedRegex(@"checkpoint step\s+\d+ at")]
    private static partial Regex CheckpointRecorded();

    [GeneratedRegex(@"Submitted job ([a-z0-9-]+) ")]
    private static partial Regex SubmittedPattern();
}
