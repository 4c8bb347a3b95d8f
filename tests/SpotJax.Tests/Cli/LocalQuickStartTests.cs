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

    private static string JobIdIn(string output) => SubmittedPattern().Match(output) is { Success: true } m ? m.Groups[1].Value : throw new InvalidOperationException(output);

    [Fact]
    public async Task QuickStart_SubmitStatusLogsCancel_EachCommandDoesWhatTheReadmeSays()
    {
        var up = await spotjax.RunAsync("local", "up", "--detach");
        Assert.True(up.ExitCode == 0, up.Output + up.Error);
        Assert.Contains("status page: http://127.0.0.1:", up.Output, StringComparison.Ordinal);
        var plane = LocalPlaneInfo.ReadLive(spotjax.LocalStateDir)!;

        var submit = await spotjax.RunAsync("submit", "examples/quickstart/train.py", "--local", "--tpu", "v4-8", "--zone", "us-central2-b", "--", "--steps", "2000", "--step-seconds", "0.05");
        Assert.True(submit.ExitCode == 0, submit.Output + submit.Error);
        var jobId = JobIdIn(submit.Output);
        Assert.Contains($"spotjax logs {jobId} --local --follow", submit.Output, StringComparison.Ordinal);

        var queue = await spotjax.EventuallyAsync(r => r.Output.Contains("RUNNING", StringComparison.Ordinal), "status", "--local");
        Assert.Equal(0, queue.ExitCode);
        Assert.Contains(jobId, queue.Output, StringComparison.Ordinal);

        var logs = await spotjax.EventuallyAsync(r => r.ExitCode == 0 && r.Output.Contains("saved checkpoint at step 5", StringComparison.Ordinal), "logs", jobId, "--local", "--worker", "0");
        Assert.StartsWith("starting fresh", logs.Output, StringComparison.Ordinal);

        var one = await spotjax.RunAsync("status", jobId, "--local");
        Assert.Equal(0, one.ExitCode);
        Assert.Matches(@"preemptions\s+0 of 100", one.Output);
        Assert.Matches(@"checkpoint step\s+\d+ at", one.Output);

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

        var submit = await spotjax.RunAsync("submit", "--file", "examples/quickstart/job.yaml", "--local", "--json");
        Assert.True(submit.ExitCode == 0, submit.Output + submit.Error);
        using var submitted = JsonDocument.Parse(submit.Output);
        var jobId = submitted.RootElement.GetProperty("jobId").GetString()!;
        Assert.EndsWith($"/jobs/{jobId}", submitted.RootElement.GetProperty("statusPage").GetString(), StringComparison.Ordinal);

        await spotjax.EventuallyAsync(r => r.Output.Contains("\"state\":\"RUNNING\"", StringComparison.Ordinal) && r.Output.Contains("\"lastCheckpointStep\"", StringComparison.Ordinal), "status", jobId, "--local", "--json");
        var preempt = await spotjax.RunAsync("local", "preempt", jobId);
        Assert.True(preempt.ExitCode == 0, preempt.Output + preempt.Error);
        var follow = await spotjax.RunAsync("logs", jobId, "--local", "--follow");

        Assert.Equal(0, follow.ExitCode);
        Assert.Contains("resumed from checkpoint step", follow.Output, StringComparison.Ordinal);
        Assert.Contains("finished at step 40", follow.Output, StringComparison.Ordinal);
        Assert.Contains("--- attempt 2 ---", follow.Error, StringComparison.Ordinal);
        using var report = JsonDocument.Parse((await spotjax.EventuallyAsync(r => r.Output.Contains("SUCCEEDED", StringComparison.Ordinal), "status", jobId, "--local", "--json")).Output);
        Assert.Equal(2, report.RootElement.GetProperty("attempts").GetArrayLength());
        Assert.True(report.RootElement.GetProperty("attempts")[0].GetProperty("preempted").GetBoolean());
        Assert.True(report.RootElement.GetProperty("checkpoints").GetArrayLength() >= 2);

        var followed = await spotjax.RunAsync("submit", "--file", "examples/quickstart/job.yaml", "--local", "--follow");
        Assert.True(followed.ExitCode == 0, followed.Output + followed.Error);
        Assert.Contains("attempt 1 worker 0 | finished at step 40", followed.Output, StringComparison.Ordinal);
        Assert.Contains("SUCCEEDED after 1 attempt(s)", followed.Output, StringComparison.Ordinal);
        Assert.Equal(0, (await spotjax.RunAsync("local", "down")).ExitCode);
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

        var nothing = await spotjax.RunAsync("status");
        Assert.Equal(5, nothing.ExitCode);
        Assert.Contains("no deployment", nothing.Error, StringComparison.Ordinal);

        Assert.Equal(0, (await spotjax.RunAsync("local", "up", "--detach")).ExitCode);
        var unknown = await spotjax.RunAsync("status", "no-such-job-0123456789", "--local");
        Assert.Equal(4, unknown.ExitCode);
        Assert.Equal(4, (await spotjax.RunAsync("logs", "no-such-job-0123456789", "--local")).ExitCode);
        Assert.Equal(4, (await spotjax.RunAsync("cancel", "no-such-job-0123456789", "--local")).ExitCode);
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
    public async Task Help_EveryCommand_ShowsAnExample(string command)
    {
        var (exit, output, _) = await spotjax.RunAsync([.. command.Split(' '), "--help"]);

        Assert.Equal(0, exit);
        Assert.Contains("Example", output, StringComparison.Ordinal);
        Assert.Contains($"spotjax {command}", output, StringComparison.Ordinal);
    }

    [GeneratedRegex(@"Submitted job ([a-z0-9-]+) ")]
    private static partial Regex SubmittedPattern();
}
