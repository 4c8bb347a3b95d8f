using SpotJax.Contracts;
using SpotJax.Tests.EndToEnd;

namespace SpotJax.Tests.Cli;

/// <summary>The README's first command, run as a user runs it: the spotjax program in its own process.</summary>
public sealed class RunCommandTests : IDisposable
{
    private readonly SpotJaxProgram program = new();

    public void Dispose() => program.Dispose();

    [Fact]
    public async Task RunLocal_QuickstartWithOnePreemption_ShowsTwoAttemptsAndExitsZero()
    {
        var state = Directory.CreateTempSubdirectory("spotjax-cli-").FullName;

        var (exit, stdout, stderr) = await program.RunAsync("run", "--local", "examples/quickstart/job.yaml", "--preempt-after", "2s", "--state-dir", state);
        var output = stdout + stderr;

        Assert.True(exit == 0, output);
        Assert.Contains("injecting a Spot preemption into attempt 1", output, StringComparison.Ordinal);
        Assert.Contains("RECOVERING", output, StringComparison.Ordinal);
        Assert.Contains("resumed from checkpoint step", output, StringComparison.Ordinal);
        Assert.Contains("SUCCEEDED", output, StringComparison.Ordinal);
        Assert.Contains("after 2 attempt(s): 1 preemption(s), 0 failure(s)", output, StringComparison.Ordinal);
        Assert.Matches(@"cost: \$\d+\.\d\d over 2 attempts \(Spot, list prices as of \d{4}-\d\d-\d\d\)", output);
        Assert.Contains("Queued resources of all 2 attempt(s) deleted.", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task RunLocal_SshWorkers_StartsTheScriptOverSshAndExitsZero()
    {
        var dir = Directory.CreateTempSubdirectory("spotjax-cli-").FullName;
        await File.WriteAllTextAsync(Path.Combine(dir, "train.py"), "import os\nprint('over ssh from', os.environ['SSH_CONNECTION'].split()[0], 'worker', os.environ['SPOT_WORKER_ID'])\n");
        await File.WriteAllTextAsync(Path.Combine(dir, "job.yaml"), "name: ssh\ntpu: {type: v4-8, zone: us-central2-b}\ncode: .\nscript: train.py\n");

        var (exit, stdout, stderr) = await program.RunAsync("run", "--local", Path.Combine(dir, "job.yaml"), "--ssh-workers", "--provision-delay", "0s", "--state-dir", Path.Combine(dir, "state"));
        var output = stdout + stderr;
        Directory.Delete(dir, recursive: true);

        Assert.True(exit == 0, output);
        Assert.Contains("workers: private sshd daemons on 127.0.0.1", output, StringComparison.Ordinal);
        Assert.Contains("over ssh from 127.0.0.1 worker 0", output, StringComparison.Ordinal);
        Assert.Contains("SUCCEEDED", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task RunLocal_InvalidJobFile_ExitsTwoNamingTheField()
    {
        var dir = Directory.CreateTempSubdirectory("spotjax-cli-").FullName;
        var file = Path.Combine(dir, "job.yaml");
        await File.WriteAllTextAsync(file, "name: x\ntpu: {type: v4-8, zone: us-central2-b}\ncode: .\nscript: ../outside.py\nmaxRetries: many\n");

        var (exit, stdout, stderr) = await program.RunAsync("run", "--local", file);
        var output = stdout + stderr;

        Assert.Equal(2, exit);
        Assert.Contains("script", output, StringComparison.Ordinal);
        Assert.Contains("maxRetries", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Run_JobFileWithoutLocalOrFile_SuggestsBothAndExitsTwo()
    {
        var (exit, stdout, stderr) = await program.RunAsync("run", "examples/quickstart/job.yaml");
        var output = stdout + stderr;

        Assert.Equal(2, exit);
        Assert.Contains("--file job.yaml", output, StringComparison.Ordinal);
        Assert.Contains("--local job.yaml", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task RunLocal_WithDeploymentOptions_NamesThemAndExitsTwo()
    {
        var (exit, stdout, stderr) = await program.RunAsync("run", "--local", "examples/quickstart/job.yaml", "--tpu", "v4-8", "--project", "p");
        var output = stdout + stderr;

        Assert.Equal(2, exit);
        Assert.Contains("--tpu, --project: not with --local", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Run_LocalOnlyOptionWithoutLocal_NamesItAndExitsTwo()
    {
        var (exit, stdout, stderr) = await program.RunAsync("run", "examples/quickstart/train.py", "--tpu", "v4-8", "--zone", "us-central2-b", "--preempt-after", "2s");
        var output = stdout + stderr;

        Assert.Equal(2, exit);
        Assert.Contains("--preempt-after: only with --local", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task RunLocal_FailingJob_ExitsOne()
    {
        var dir = Directory.CreateTempSubdirectory("spotjax-cli-").FullName;
        await File.WriteAllTextAsync(Path.Combine(dir, "train.py"), "raise SystemExit(4)\n");
        await File.WriteAllTextAsync(Path.Combine(dir, "job.yaml"), "name: failing\ntpu: {type: v4-8, zone: us-central2-b}\ncode: .\nscript: train.py\nmaxRetries: 0\n");

        var (exit, stdout, stderr) = await program.RunAsync("run", "--local", Path.Combine(dir, "job.yaml"), "--provision-delay", "0s");
        var output = stdout + stderr;

        Assert.Equal(1, exit);
        Assert.Contains("FAILED", output, StringComparison.Ordinal);
        Assert.Contains("exited 4", output, StringComparison.Ordinal);
    }
}
