using SpotJax.Local.Workers;

namespace SpotJax.Local.Tests.Workers;

public sealed class LocalWorkerRunnerTests
{
    [Fact]
    public async Task LaunchAsync_TwoWorkers_EachRunsWithItsWorkerIdAndWritesMarkers()
    {
        using var sandbox = new WorkerSandbox();
        sandbox.WriteWorkScript();
        var runner = new LocalWorkerRunner(sandbox.Options());

        var results = await runner.LaunchAsync(sandbox.Plan(), CancellationToken.None);

        Assert.Equal([0, 1], results.Select(r => r.Index));
        Assert.All(results, r => Assert.True(r.Succeeded, r.StderrTail));
        for (var worker = 0; worker < 2; worker++)
        {
            var result = await sandbox.WaitForResultAsync(1, worker);
            Assert.Equal(worker.ToString(System.Globalization.CultureInfo.InvariantCulture), result.GetProperty("worker").GetString());
            Assert.Equal("2", result.GetProperty("workers").GetString());
            var booted = await sandbox.WaitForMarkerAsync(1, worker, "booted");
            Assert.True(booted.GetProperty("pid").GetInt32() > 0);
            var exited = await sandbox.WaitForMarkerAsync(1, worker, "exited");
            Assert.Equal(0, exited.GetProperty("exitCode").GetInt32());
            Assert.False(exited.GetProperty("preemptionNotice").GetBoolean());
            Assert.False(File.Exists(sandbox.MarkerPath(1, worker, "preempted")));
            Assert.True(File.Exists(Path.Combine(sandbox.Home(worker), "attempt-1.pgid")));
        }
    }

    [Fact]
    public async Task LaunchAsync_SameAttemptTwice_StartsOneCopy()
    {
        using var sandbox = new WorkerSandbox();
        sandbox.WriteWorkScript();
        var starts = Path.Combine(sandbox.Root, "starts.txt");
        var plan = sandbox.Plan(workers: 1, env: new Dictionary<string, string> { ["STARTS_FILE"] = starts, ["MODE"] = "wait" });
        var runner = new LocalWorkerRunner(sandbox.Options());

        var first = await runner.LaunchAsync(plan, CancellationToken.None);
        await WorkerSandbox.WaitForFileAsync(sandbox.LogPath(1, 0), text => text.Contains("WAITING", StringComparison.Ordinal));
        var second = await runner.LaunchAsync(plan, CancellationToken.None);

        Assert.True(first[0].Succeeded, first[0].StderrTail);
        Assert.True(second[0].Succeeded, second[0].StderrTail);
        Assert.Equal(["0"], await File.ReadAllLinesAsync(starts));
        Assert.Single(Directory.GetFiles(sandbox.Home(0), "attempt-1.pgid"));
    }

    [Fact]
    public async Task LaunchAsync_ScriptExitsThree_ExitedMarkerRecordsThree()
    {
        using var sandbox = new WorkerSandbox();
        sandbox.WriteWorkScript();
        var runner = new LocalWorkerRunner(sandbox.Options());

        var results = await runner.LaunchAsync(sandbox.Plan(workers: 1, env: new Dictionary<string, string> { ["EXIT_CODE"] = "3" }), CancellationToken.None);

        Assert.True(results[0].Succeeded, results[0].StderrTail);
        var exited = await sandbox.WaitForMarkerAsync(1, 0, "exited");
        Assert.Equal(3, exited.GetProperty("exitCode").GetInt32());
        Assert.False(exited.GetProperty("preemptionNotice").GetBoolean());
    }

    [Fact]
    public async Task LaunchAsync_SigtermToProcessGroup_WritesPreemptedThenExitedWithNotice()
    {
        using var sandbox = new WorkerSandbox();
        sandbox.WriteWorkScript();
        var runner = new LocalWorkerRunner(sandbox.Options());
        await runner.LaunchAsync(sandbox.Plan(workers: 1, env: new Dictionary<string, string> { ["MODE"] = "wait" }), CancellationToken.None);
        await WorkerSandbox.WaitForFileAsync(sandbox.LogPath(1, 0), text => text.Contains("WAITING", StringComparison.Ordinal));

        await WorkerSandbox.SignalGroupAsync(sandbox.ProcessGroup(1, 0), "TERM");

        var exited = await sandbox.WaitForMarkerAsync(1, 0, "exited");
        var preempted = await sandbox.WaitForMarkerAsync(1, 0, "preempted");
        Assert.Equal("SIGTERM", preempted.GetProperty("reason").GetString());
        Assert.True(exited.GetProperty("preemptionNotice").GetBoolean());
        Assert.Equal(128 + 15, exited.GetProperty("exitCode").GetInt32());
        Assert.True(
            File.GetLastWriteTimeUtc(sandbox.MarkerPath(1, 0, "preempted")) <= File.GetLastWriteTimeUtc(sandbox.MarkerPath(1, 0, "exited")),
            "the preempted marker must be written before the exited marker");
    }

    [Theory]
    [InlineData("instance/preempted", "TRUE", "metadata:preempted")]
    [InlineData("instance/maintenance-event", "TERMINATE_ON_HOST_MAINTENANCE", "metadata:maintenance")]
    public async Task LaunchAsync_MetadataServerGivesNotice_WritesPreemptedMarker(string key, string value, string reason)
    {
        using var sandbox = new WorkerSandbox();
        sandbox.WriteWorkScript();
        await using var metadata = FakeGoogleServer.Start(key, value);
        var runner = new LocalWorkerRunner(sandbox.Options(metadataUrl: metadata.MetadataUrl));

        var results = await runner.LaunchAsync(sandbox.Plan(workers: 1, env: new Dictionary<string, string> { ["MODE"] = "wait" }), CancellationToken.None);

        Assert.True(results[0].Succeeded, results[0].StderrTail);
        var preempted = await sandbox.WaitForMarkerAsync(1, 0, "preempted");
        Assert.Equal(reason, preempted.GetProperty("reason").GetString());
        var exited = await sandbox.WaitForMarkerAsync(1, 0, "exited");
        Assert.True(exited.GetProperty("preemptionNotice").GetBoolean());
        // The value changed right after the first answer, before the next poll was sent: only a watch that
        // sends the first answer's ETag as last_etag hears of it (a plain wait_for_change would hang on).
        Assert.True(metadata.NoticeRequests >= 2, "the agent must keep watching after a first answer without a notice");
        Assert.Equal(0, metadata.WaitsWithoutLastETag);
        Assert.Equal(0, metadata.RequestsWithoutFlavorHeader);
    }

    [Fact]
    public async Task LaunchAsync_MetadataServerAnswers404ForTheNode_EndsTheScriptAsForAPreemption()
    {
        using var sandbox = new WorkerSandbox();
        sandbox.WriteWorkScript();
        await using var metadata = FakeGoogleServer.Start("instance/preempted", noticeValue: null);
        var runner = new LocalWorkerRunner(sandbox.Options(metadataUrl: metadata.MetadataUrl));

        var results = await runner.LaunchAsync(sandbox.Plan(workers: 1, env: new Dictionary<string, string> { ["MODE"] = "wait" }), CancellationToken.None);

        Assert.True(results[0].Succeeded, results[0].StderrTail);
        var preempted = await sandbox.WaitForMarkerAsync(1, 0, "preempted");
        Assert.Equal("metadata:node-gone", preempted.GetProperty("reason").GetString());
        var exited = await sandbox.WaitForMarkerAsync(1, 0, "exited");
        Assert.True(exited.GetProperty("preemptionNotice").GetBoolean());
        Assert.Equal(128 + 15, exited.GetProperty("exitCode").GetInt32());
    }

    [Fact]
    public async Task LaunchAsync_HostileArgsAndEnv_ArriveVerbatimWithoutAShell()
    {
        using var sandbox = new WorkerSandbox();
        sandbox.WriteWorkScript();
        string[] args = ["$(touch PWNED)", "`touch PWNED`", "it's", "say \"hi\"", "a; touch PWNED", "line1\nline2", "--flag=$HOME"];
        const string hostile = "$(touch PWNED); `touch PWNED` 'q' \"dq\"\ntouch PWNED";
        var runner = new LocalWorkerRunner(sandbox.Options());

        var results = await runner.LaunchAsync(
            sandbox.Plan(workers: 1, args: args, env: new Dictionary<string, string> { ["HOSTILE"] = hostile }), CancellationToken.None);

        Assert.True(results[0].Succeeded, results[0].StderrTail);
        var result = await sandbox.WaitForResultAsync(1, 0);
        Assert.Equal(args, result.GetProperty("args").EnumerateArray().Select(a => a.GetString()));
        Assert.Equal(hostile, result.GetProperty("hostile").GetString());
        await sandbox.WaitForMarkerAsync(1, 0, "exited");
        Assert.Empty(Directory.GetFiles(sandbox.Root, "PWNED", SearchOption.AllDirectories));
    }

    [Fact]
    public async Task LaunchAsync_EnvValueInTheLocalBucket_ReachesTheScriptAsTheFolderPath()
    {
        using var sandbox = new WorkerSandbox();
        sandbox.WriteWorkScript();
        var runner = new LocalWorkerRunner(sandbox.Options());
        var env = new Dictionary<string, string> { ["SPOT_CHECKPOINT_DIR"] = "gs://bkt/job/ckpt", ["ELSEWHERE"] = "gs://another-bucket/x" };

        var results = await runner.LaunchAsync(sandbox.Plan(workers: 1, env: env), CancellationToken.None);

        Assert.True(results[0].Succeeded, results[0].StderrTail);
        var result = await sandbox.WaitForResultAsync(1, 0);
        Assert.Equal(Path.Combine(sandbox.Bucket, "job/ckpt"), result.GetProperty("checkpoint").GetString());
        Assert.Equal("gs://another-bucket/x", result.GetProperty("elsewhere").GetString());
    }

    [Fact]
    public async Task LaunchAsync_NodeNameNotATpuNode_Throws()
    {
        using var sandbox = new WorkerSandbox();
        var runner = new LocalWorkerRunner(sandbox.Options());
        var plan = sandbox.Plan() with { NodeName = "projects/p/locations/../nodes/job-1" };

        await Assert.ThrowsAsync<ArgumentException>(() => runner.LaunchAsync(plan, CancellationToken.None));
        Assert.False(Directory.Exists(Path.Combine(sandbox.Nodes, "..", "job-1")));
    }
}
