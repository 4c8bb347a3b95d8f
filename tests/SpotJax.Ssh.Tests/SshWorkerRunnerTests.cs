using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using SpotJax.Core.Agent;

namespace SpotJax.Ssh.Tests;

/// <summary>The full launch sequence against real sshd daemons on the loopback.</summary>
[Collection(SshCollection.Name)]
public sealed class SshWorkerRunnerTests(SshWorkersFixture sshd)
{
    private IReadOnlyList<int> Ports(int count) => sshd.Daemons.Take(count).Select(d => d.Port).ToList();

    [Fact]
    public async Task LaunchAsync_FourSshdWorkers_PreparesEachOnceAndSecondLaunchChangesNothing()
    {
        using var sandbox = new SshSandbox();
        sandbox.WriteWorkScript();
        sandbox.WriteWheel();
        File.WriteAllText(Path.Combine(sandbox.Code, "spotjax_setup.sh"), "echo ran >> ../setup-runs.txt\n");
        File.WriteAllText(Path.Combine(sandbox.Code, "requirements.txt"), "spotjaxdemo==0.1\n");
        var runner = new SshWorkerRunner(sandbox.Options(sshd), sandbox.Objects);
        var plan = sandbox.Plan(Ports(SshWorkersFixture.Count), env: new Dictionary<string, string> { ["MODE"] = "import" });

        var first = await runner.LaunchAsync(plan, CancellationToken.None);

        Assert.All(first, r => Assert.True(r.Succeeded, r.StderrTail));
        Assert.Equal([0, 1, 2, 3], first.Select(r => r.Index));
        for (var worker = 0; worker < SshWorkersFixture.Count; worker++)
        {
            var home = sandbox.Home(worker);
            var result = await sandbox.WaitForResultAsync(1, worker);
            Assert.Equal(worker.ToString(System.Globalization.CultureInfo.InvariantCulture), result.GetProperty("worker").GetString());
            Assert.Contains(sshd.Daemons[worker].Port.ToString(System.Globalization.CultureInfo.InvariantCulture), result.GetProperty("ssh").GetString(), StringComparison.Ordinal);
            Assert.Equal(Path.Combine(sandbox.Bucket, "job", "ckpt"), result.GetProperty("checkpoint").GetString());
            await SshSandbox.WaitForFileAsync(sandbox.LogPath(1, worker), text => text.Contains("IMPORTED 42", StringComparison.Ordinal));
            Assert.Equal(NodeAgent.Source(), await File.ReadAllBytesAsync(Path.Combine(home, NodeAgent.FileName)));
            Assert.True(File.Exists(Path.Combine(home, "code", "work.py")));
            Assert.True(File.Exists(Path.Combine(home, "venv", "bin", "python")));
            Assert.Equal(["ran"], await File.ReadAllLinesAsync(Path.Combine(home, "setup-runs.txt")));
            await SshSandbox.WaitForFileAsync(sandbox.MarkerPath(1, worker, "exited"));
        }

        Assert.Single(Directory.GetFiles(Path.Combine(sandbox.Bucket, "cache", "pip"), "*.tar.gz"));
        var before = Snapshot(sandbox);

        var second = await runner.LaunchAsync(plan, CancellationToken.None);

        Assert.All(second, r => Assert.True(r.Succeeded, r.StderrTail));
        Assert.Equal(before, Snapshot(sandbox));
        for (var worker = 0; worker < SshWorkersFixture.Count; worker++)
        {
            Assert.Equal(["ran"], await File.ReadAllLinesAsync(Path.Combine(sandbox.Home(worker), "setup-runs.txt")));
            Assert.Single(await File.ReadAllLinesAsync(Path.Combine(sandbox.Home(worker), "starts.txt")));
        }
    }

    [Fact]
    public async Task LaunchAsync_HostileArgsEnvScriptAndRoot_ArriveVerbatimAndExecuteNothing()
    {
        using var sandbox = new SshSandbox();
        var pwned = Path.Combine(sandbox.Root, "PWNED");
        string[] args =
        [
            $"'; touch {pwned}; echo '",
            $"$(touch {pwned})",
            $"`touch {pwned}`",
            $"line\nbreak; touch {pwned}",
            "\"double\" \\ back $HOME * ?",
            "",
        ];
        var script = "we'ird $(touch PWNED) `touch PWNED`; touch PWNED\n.py";
        sandbox.WriteWorkScript(script);
        var root = Path.Combine(sandbox.Root, $"root '$(touch {pwned})' `touch {pwned}`; touch {pwned}\nend", "worker-0");
        var runner = new SshWorkerRunner(sandbox.Options(sshd, remoteRoot: (_, _) => root), sandbox.Objects);
        var plan = sandbox.Plan(Ports(1), script: script, args: args, env: new Dictionary<string, string> { ["HOSTILE"] = string.Join("|", args) });

        var results = await runner.LaunchAsync(plan, CancellationToken.None);

        Assert.True(results[0].Succeeded, results[0].StderrTail);
        var result = await sandbox.WaitForResultAsync(1, 0);
        Assert.Equal(args, result.GetProperty("args").EnumerateArray().Select(a => a.GetString()));
        Assert.Equal(string.Join("|", args), result.GetProperty("hostile").GetString());
        Assert.True(File.Exists(Path.Combine(root, "code", script)));
        await SshSandbox.WaitForFileAsync(sandbox.MarkerPath(1, 0, "exited"));
        Assert.False(File.Exists(pwned));
        Assert.Empty(Directory.GetFiles(sandbox.Root, "PWNED", SearchOption.AllDirectories));
        Assert.False(File.Exists(Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), "PWNED")));
    }

    [Fact]
    public async Task StopAsync_AttemptRunningOnTwoWorkers_EndsEachScriptAsForAPreemption()
    {
        using var sandbox = new SshSandbox();
        File.WriteAllText(Path.Combine(sandbox.Code, "work.py"), "import time\nwhile True:\n    time.sleep(0.1)\n");
        var runner = new SshWorkerRunner(sandbox.Options(sshd), sandbox.Objects);
        var plan = sandbox.Plan(Ports(2));
        var launched = await runner.LaunchAsync(plan, CancellationToken.None);
        Assert.All(launched, r => Assert.True(r.Succeeded, r.StderrTail));

        var stopped = await runner.StopAsync(plan, CancellationToken.None);

        Assert.All(stopped, r => Assert.True(r.Succeeded, r.StderrTail));
        for (var worker = 0; worker < 2; worker++)
        {
            var exited = await SshSandbox.WaitForFileAsync(sandbox.MarkerPath(1, worker, "exited"));
            Assert.Contains("\"preemptionNotice\": true", exited, StringComparison.Ordinal);
            Assert.Contains("SIGTERM", await File.ReadAllTextAsync(sandbox.MarkerPath(1, worker, "preempted")), StringComparison.Ordinal);
        }
    }

    [Fact]
    public void Options_ByDefault_UseTheSshPortNotTheTpuRuntimePort()
    {
        var options = new SshRunnerOptions { User = "spotjax", KeySource = new FileSshKeySource("key") };

        Assert.Equal(22, options.Port);
    }

    [Fact]
    public async Task LaunchAsync_FixedPort_ConnectsThereWhateverTheEndpointsPortSays()
    {
        using var sandbox = new SshSandbox();
        sandbox.WriteWorkScript();
        // What the TPU API reports for every worker: the TPU runtime's port, 8470.
        var plan = sandbox.Plan([8470]);
        var runner = new SshWorkerRunner(sandbox.Options(sshd) with { Port = sshd.Daemons[0].Port }, sandbox.Objects);

        var results = await runner.LaunchAsync(plan, CancellationToken.None);

        Assert.True(results[0].Succeeded, results[0].StderrTail);
        await sandbox.WaitForResultAsync(1, 0);
    }

    [Fact]
    public async Task LaunchAsync_OneWorkersSshdStopped_FailsNamingThatWorkerWithinTheRetryWindow()
    {
        using var sandbox = new SshSandbox();
        sandbox.WriteWorkScript();
        await using var stopped = await SshDaemon.StartAsync(Path.Combine(sandbox.Root, "sshd-stopped"), sshd.Workers.AuthorizedKeysFile, CancellationToken.None);
        await stopped.StopAsync();
        var options = sandbox.Options(sshd) with { ConnectRetryWindow = TimeSpan.FromSeconds(2) };
        var runner = new SshWorkerRunner(options, sandbox.Objects);

        var results = await runner.LaunchAsync(sandbox.Plan([sshd.Daemons[0].Port, stopped.Port]), CancellationToken.None);

        Assert.True(results[0].Succeeded, results[0].StderrTail);
        Assert.False(results[1].Succeeded);
        // The stopped worker is given up on when the (short) retry window ends, not after the sandbox's longer default.
        Assert.True(results[1].Duration < options.ConnectRetryWindow + options.ConnectTimeout, $"took {results[1].Duration}");
        Assert.Equal(-1, results[1].ExitCode);
        Assert.StartsWith($"worker 1 at 127.0.0.1:{stopped.Port}: cannot connect over SSH", results[1].StderrTail, StringComparison.Ordinal);
        Assert.Contains("ConnectionRefused", results[1].StderrTail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task LaunchAsync_SshdComesUpAfterTheFirstTry_ReachedByRetries()
    {
        using var sandbox = new SshSandbox();
        sandbox.WriteWorkScript();
        await using var late = await SshDaemon.CreateAsync(Path.Combine(sandbox.Root, "sshd-late"), sshd.Workers.AuthorizedKeysFile, 0, CancellationToken.None);
        var runner = new SshWorkerRunner(sandbox.Options(sshd), sandbox.Objects);
        var stand = new TcpListener(IPAddress.Loopback, late.Port);
        stand.Start();

        var launching = runner.LaunchAsync(sandbox.Plan([late.Port]), CancellationToken.None);
        // The first try reaches a port where no sshd answers yet: it is closed without a word.
        using (await stand.AcceptTcpClientAsync())
        {
        }

        stand.Stop();
        await late.StartAsync(CancellationToken.None);
        var results = await launching;

        Assert.True(results[0].Succeeded, results[0].StderrTail);
        Assert.Equal("0", (await sandbox.WaitForResultAsync(1, 0)).GetProperty("worker").GetString());
    }

    [Fact]
    public async Task LaunchAsync_HostKeyChangesWithinTheAttempt_RefusesThatWorker()
    {
        using var sandbox = new SshSandbox();
        sandbox.WriteWorkScript();
        // A refusal that was retried would last the whole window; one that is not lasts one login, even on a busy machine.
        var runner = new SshWorkerRunner(sandbox.Options(sshd) with { ConnectRetryWindow = TimeSpan.FromMinutes(5) }, sandbox.Objects);
        var first = await runner.LaunchAsync(sandbox.Plan([sshd.Daemons[0].Port]), CancellationToken.None);
        Assert.True(first[0].Succeeded, first[0].StderrTail);
        var recorded = System.Text.Encoding.UTF8.GetString((await sandbox.Objects.GetAsync("job/hostkeys/attempt-1/worker-0", CancellationToken.None))!);

        // The same attempt's worker 0 now answers with another host's key.
        var clock = Stopwatch.StartNew();
        var impostor = await runner.LaunchAsync(sandbox.Plan([sshd.Daemons[1].Port]), CancellationToken.None);
        var refusedAfter = clock.Elapsed;
        var nextAttempt = await runner.LaunchAsync(sandbox.Plan([sshd.Daemons[1].Port], attempt: 2), CancellationToken.None);

        Assert.StartsWith("ssh-ed25519 SHA256:", recorded, StringComparison.Ordinal);
        Assert.False(impostor[0].Succeeded);
        Assert.Contains("worker 0", impostor[0].StderrTail, StringComparison.Ordinal);
        Assert.Contains($"differs from {recorded.Trim()}", impostor[0].StderrTail, StringComparison.Ordinal);
        Assert.True(refusedAfter < TimeSpan.FromMinutes(2), $"a refused host key is not retried (refused after {refusedAfter})");
        Assert.True(nextAttempt[0].Succeeded, nextAttempt[0].StderrTail);
    }

    [Fact]
    public async Task LaunchAsync_SetupScriptStillRunning_ReturnsOverOneConnectionPerWorkerAndTheAgentReportsPreparedLater()
    {
        using var sandbox = new SshSandbox();
        sandbox.WriteWorkScript();
        // Waits for the test to release it: launch must return while it runs.
        File.WriteAllText(Path.Combine(sandbox.Code, "spotjax_setup.sh"), "echo SETUP STARTED\nwhile [ ! -e ../release ]; do sleep 0.05; done\n");
        var runner = new SshWorkerRunner(sandbox.Options(sshd), sandbox.Objects);
        var logs = sshd.Daemons.Take(2).Select(d => Path.Combine(d.Directory, "sshd.log")).ToList();
        var before = logs.Select(Logins).ToList();

        var watch = Stopwatch.StartNew();
        var results = await runner.LaunchAsync(sandbox.Plan(Ports(2)), CancellationToken.None);
        var took = watch.Elapsed;

        Assert.All(results, r => Assert.True(r.Succeeded, r.StderrTail));
        // The setup script cannot end before the test releases it below, so returning at all shows launch did not wait
        // for it; the bound only turns a launch that waits for it into a failure rather than a hang (not a speed check).
        Assert.True(took < TimeSpan.FromMinutes(2), $"launch took {took}");
        Assert.Equal([1, 1], logs.Select((log, i) => Logins(log) - before[i]));
        for (var worker = 0; worker < 2; worker++)
        {
            Assert.False(File.Exists(sandbox.MarkerPath(1, worker, "prepared")));
            File.WriteAllText(Path.Combine(sandbox.Home(worker), "release"), "");
            await SshSandbox.WaitForFileAsync(sandbox.MarkerPath(1, worker, "prepared"));
            await SshSandbox.WaitForFileAsync(sandbox.MarkerPath(1, worker, "exited"));
        }
    }

    /// <summary>Logins sshd has accepted so far, from its log.</summary>
    private static int Logins(string log)
    {
        using var stream = new FileStream(log, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd().Split('\n').Count(line => line.Contains("Accepted publickey", StringComparison.Ordinal));
    }

    /// <summary>Modification times of everything a launch writes, except what the running script and agent append to.</summary>
    private static Dictionary<string, DateTime> Snapshot(SshSandbox sandbox) =>
        Directory.EnumerateFiles(sandbox.Homes, "*", SearchOption.TopDirectoryOnly)
            .Concat(Directory.EnumerateDirectories(sandbox.Homes).SelectMany(home => Directory.EnumerateFiles(home)))
            .Where(path => !path.EndsWith(".log", StringComparison.Ordinal) && !path.EndsWith("starts.txt", StringComparison.Ordinal))
            .ToDictionary(path => path, File.GetLastWriteTimeUtc);
}
