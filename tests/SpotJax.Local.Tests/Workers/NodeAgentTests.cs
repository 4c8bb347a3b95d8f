using System.Diagnostics;
using System.Formats.Tar;
using System.IO.Compression;
using System.Text;
using System.Text.Json;
using SpotJax.Contracts;
using SpotJax.Core;
using SpotJax.Core.Agent;

namespace SpotJax.Local.Tests.Workers;

/// <summary>The node agent run directly with configurations the local runner never writes (gs:// URIs, a short grace).</summary>
public sealed class NodeAgentTests
{
    [Fact]
    public async Task Run_ScriptIgnoresSigterm_KilledAfterGraceSeconds()
    {
        using var sandbox = new WorkerSandbox();
        File.WriteAllText(Path.Combine(sandbox.Code, "stubborn.py"), """
            import signal, time
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
            print("IGNORING SIGTERM")
            while True:
                time.sleep(0.1)
            """);
        var home = Path.Combine(sandbox.Nodes, "direct");
        var markers = Path.Combine(sandbox.Bucket, "markers");
        var log = Path.Combine(sandbox.Bucket, "worker-0.log");
        var config = Config(sandbox.Code, "stubborn.py", markers, log, metadataUrl: "") with { GraceSeconds = 1 };

        var (exitCode, stderr) = await LaunchAsync(home, config);
        await WorkerSandbox.WaitForFileAsync(log, text => text.Contains("IGNORING SIGTERM", StringComparison.Ordinal));
        var pgid = int.Parse(await File.ReadAllTextAsync(Path.Combine(home, "attempt-1.pgid")), System.Globalization.CultureInfo.InvariantCulture);
        await WorkerSandbox.SignalGroupAsync(pgid, "TERM");

        Assert.Equal(0, exitCode);
        Assert.Equal("", stderr);
        var exited = JsonDocument.Parse(await WorkerSandbox.WaitForFileAsync(Path.Combine(markers, "exited"))).RootElement;
        Assert.Equal(128 + 9, exited.GetProperty("exitCode").GetInt32());
        Assert.True(exited.GetProperty("preemptionNotice").GetBoolean());
    }

    [Fact]
    public async Task Launch_HostTooBusyToStartTheScriptForTenSeconds_WaitsAndStartsIt()
    {
        using var sandbox = new WorkerSandbox();
        File.WriteAllText(Path.Combine(sandbox.Code, "late.py"), "print('STARTED LATE')\n");
        var slowStart = Directory.CreateDirectory(Path.Combine(sandbox.Root, "slow-start")).FullName;
        File.WriteAllText(Path.Combine(slowStart, "sitecustomize.py"), """
            import sys, time
            # Only the agent's detached `run`, as on a host too busy to start a process for a while.
            if len(sys.argv) > 1 and sys.argv[0].endswith("spotjax_agent.py") and sys.argv[1] == "run":
                time.sleep(11)
            """);
        var home = Path.Combine(sandbox.Nodes, "direct");
        var log = Path.Combine(sandbox.Bucket, "worker-0.log");
        var config = Config(sandbox.Code, "late.py", Path.Combine(sandbox.Bucket, "markers"), log, metadataUrl: "");

        var (exitCode, stderr) = await LaunchAsync(home, config, new Dictionary<string, string> { ["PYTHONPATH"] = slowStart }, TimeSpan.FromSeconds(60));

        Assert.True(exitCode == 0, stderr);
        Assert.True(File.Exists(Path.Combine(home, "attempt-1.pgid")), "launch returned before the agent took the attempt");
        await WorkerSandbox.WaitForFileAsync(log, text => text.Contains("STARTED LATE", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Launch_SetupScriptStillRunning_ReturnsAtOnceAndReportsPreparedOnceTheScriptRuns()
    {
        using var sandbox = new WorkerSandbox();
        var release = Path.Combine(sandbox.Root, "release");
        File.WriteAllText(Path.Combine(sandbox.Code, "spotjax_setup.sh"), $"echo SETUP STARTED\nwhile [ ! -e {release} ]; do sleep 0.05; done\necho SETUP DONE\n");
        File.WriteAllText(Path.Combine(sandbox.Code, "hello.py"), "print('SCRIPT RAN')\n");
        var home = Path.Combine(sandbox.Nodes, "direct");
        var markers = Path.Combine(sandbox.Bucket, "markers");
        var log = Path.Combine(sandbox.Bucket, "worker-0.log");
        var config = Config(sandbox.Code, "hello.py", markers, log, metadataUrl: "");

        var watch = Stopwatch.StartNew();
        var (exitCode, stderr) = await LaunchAsync(home, config);
        var launchTook = watch.Elapsed;

        // The setup script cannot end before the release file exists: launch returned while it ran.
        Assert.True(exitCode == 0, stderr);
        Assert.True(launchTook < TimeSpan.FromSeconds(10), $"launch took {launchTook}");
        await WorkerSandbox.WaitForFileAsync(PrepareLog(log), text => text.Contains("SETUP STARTED", StringComparison.Ordinal));
        Assert.True(File.Exists(Path.Combine(markers, "booted")));
        Assert.False(File.Exists(Path.Combine(markers, "prepared")));
        Assert.False(File.Exists(log));

        await File.WriteAllTextAsync(release, "");
        var prepared = JsonDocument.Parse(await WorkerSandbox.WaitForFileAsync(Path.Combine(markers, "prepared"))).RootElement;
        Assert.True(prepared.GetProperty("pid").GetInt32() > 0);
        var exited = JsonDocument.Parse(await WorkerSandbox.WaitForFileAsync(Path.Combine(markers, "exited"))).RootElement;
        Assert.Equal(0, exited.GetProperty("exitCode").GetInt32());
        Assert.Contains("SCRIPT RAN", await File.ReadAllTextAsync(log), StringComparison.Ordinal);
        Assert.Contains("SETUP DONE", await File.ReadAllTextAsync(PrepareLog(log)), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Run_SetupScriptFailsWithGsUris_UploadsTheWholePreparationLogAndAPrepareFailedMarker()
    {
        using var sandbox = new WorkerSandbox();
        await using var google = FakeGoogleServer.Start();
        File.WriteAllText(Path.Combine(sandbox.Code, "spotax_setup.sh"), "for i in $(seq 1 50); do echo \"uv pip install step $i\"; done\necho 'error: no matching distribution for jaxx' >&2\nexit 3\n");
        File.WriteAllText(Path.Combine(sandbox.Code, "hello.py"), "print('SCRIPT RAN')\n");
        var home = Path.Combine(sandbox.Nodes, "direct");
        var config = Config(sandbox.Code, "hello.py", "gs://ctl/job/markers/attempt-1/worker-0", "gs://ctl/job/logs/attempt-1/worker-0.log", google.MetadataUrl);

        var (exitCode, stderr) = await LaunchAsync(home, config, new Dictionary<string, string> { ["SPOTJAX_STORAGE_BASE"] = google.Root });

        Assert.True(exitCode == 0, stderr);
        await WorkerSandbox.WaitUntilAsync(() => google.Objects.ContainsKey("ctl/job/markers/attempt-1/worker-0/prepare-failed"), "the prepare-failed marker upload");
        var failed = JsonDocument.Parse(google.Objects["ctl/job/markers/attempt-1/worker-0/prepare-failed"]).RootElement;
        Assert.Equal("setup", failed.GetProperty("step").GetString());
        Assert.Contains("exited with code 3", failed.GetProperty("message").GetString(), StringComparison.Ordinal);
        Assert.Contains("no matching distribution for jaxx", failed.GetProperty("outputTail").GetString(), StringComparison.Ordinal);
        Assert.True(failed.TryGetProperty("time", out _));

        // The log is uploaded before the marker is written.
        var log = Encoding.UTF8.GetString(google.Objects["ctl/job/logs/attempt-1/worker-0.prepare.log"]);
        Assert.Contains("uv pip install step 1\n", log, StringComparison.Ordinal);
        Assert.Contains("no matching distribution for jaxx", log, StringComparison.Ordinal);
        Assert.False(google.Objects.ContainsKey("ctl/job/markers/attempt-1/worker-0/exited"));
        Assert.False(google.Objects.ContainsKey("ctl/job/markers/attempt-1/worker-0/prepared"));
    }

    [Theory]
    [InlineData("gs://code-bkt/bundles/app.tgz")]
    [InlineData("gs://code-bkt/src/")]
    public async Task Launch_GsUris_UseStorageApiWithMetadataToken(string codeUri)
    {
        using var sandbox = new WorkerSandbox();
        await using var google = FakeGoogleServer.Start();
        var files = new Dictionary<string, string>
        {
            ["hello.py"] = "import sys\nfrom lib import util\nprint('HELLO', util.NAME, sys.argv[1])\n",
            ["lib/util.py"] = "NAME = 'util'\n",
        };
        google.Objects["code-bkt/bundles/app.tgz"] = Tarball(files);
        foreach (var (name, content) in files)
        {
            google.Objects[$"code-bkt/src/{name}"] = Encoding.UTF8.GetBytes(content);
        }

        var home = Path.Combine(sandbox.Nodes, "direct");
        var config = Config(codeUri, "hello.py", "gs://ctl/job/markers/attempt-1/worker-0", "gs://ctl/job/logs/attempt-1/worker-0.log", google.MetadataUrl)
            with { Args = ["a b"] };

        var (exitCode, stderr) = await LaunchAsync(home, config, new Dictionary<string, string> { ["SPOTJAX_STORAGE_BASE"] = google.Root });

        Assert.True(exitCode == 0, stderr);
        await WorkerSandbox.WaitUntilAsync(() => google.Objects.ContainsKey("ctl/job/markers/attempt-1/worker-0/exited"), "the exited marker upload");
        var exited = JsonDocument.Parse(google.Objects["ctl/job/markers/attempt-1/worker-0/exited"]).RootElement;
        Assert.Equal(0, exited.GetProperty("exitCode").GetInt32());
        Assert.True(google.Objects.ContainsKey("ctl/job/markers/attempt-1/worker-0/booted"));
        Assert.Contains("HELLO util a b", Encoding.UTF8.GetString(google.Objects["ctl/job/logs/attempt-1/worker-0.log"]), StringComparison.Ordinal);
        Assert.Equal(0, google.RequestsWithoutToken);
        Assert.Equal(0, google.RequestsWithoutFlavorHeader);
    }

    [Fact]
    public async Task Run_GsLog_UploadsLinesWhileTheScriptRunsAndOnceMoreOnSigterm()
    {
        using var sandbox = new WorkerSandbox();
        await using var google = FakeGoogleServer.Start();
        File.WriteAllText(Path.Combine(sandbox.Code, "talk.py"), """
            import signal, sys, time
            def stop(signum, frame):
                print("STOPPING ON SIGTERM", flush=True)
                sys.exit(0)
            signal.signal(signal.SIGTERM, stop)
            print("FIRST LINE", flush=True)
            while True:
                time.sleep(0.1)
            """);
        const string logObject = "ctl/job/logs/attempt-1/worker-0.log";
        const string exitedObject = "ctl/job/markers/attempt-1/worker-0/exited";
        var home = Path.Combine(sandbox.Nodes, "direct");
        var config = Config(sandbox.Code, "talk.py", "gs://ctl/job/markers/attempt-1/worker-0", "gs://" + logObject, google.MetadataUrl);
        string Uploaded() => google.Objects.TryGetValue(logObject, out var data) ? Encoding.UTF8.GetString(data) : "";

        var (exitCode, stderr) = await LaunchAsync(home, config, new Dictionary<string, string> { ["SPOTJAX_STORAGE_BASE"] = google.Root });
        Assert.True(exitCode == 0, stderr);
        // The script prints one line and waits for SIGTERM: the line can only reach the bucket by an
        // upload while it runs, which comes within a second or two; ten seconds leave room for a loaded host.
        await Eventually.TrueAsync(() => Uploaded().Contains("FIRST LINE", StringComparison.Ordinal), "the first line's upload", TimeSpan.FromSeconds(10));
        Assert.False(google.Objects.ContainsKey(exitedObject));
        // SIGTERM to the agent alone (the pgid is its pid): it ends the script and closes the log.
        await WorkerSandbox.SignalAsync((await File.ReadAllTextAsync(Path.Combine(home, "attempt-1.pgid"))).Trim(), "TERM");
        await WorkerSandbox.WaitUntilAsync(() => google.Objects.ContainsKey(exitedObject), "the exited marker upload");

        // The exited marker is written after the final upload, which holds the line printed on SIGTERM.
        Assert.Equal("FIRST LINE\nSTOPPING ON SIGTERM\n", Uploaded());
        Assert.True(JsonDocument.Parse(google.Objects[exitedObject]).RootElement.GetProperty("preemptionNotice").GetBoolean());
    }

    [Fact]
    public async Task Launch_SameRequirementsInASecondJob_InstallsFromTheGsCacheWithoutThePackageIndex()
    {
        using var sandbox = new WorkerSandbox();
        await using var google = FakeGoogleServer.Start();
        File.WriteAllText(Path.Combine(sandbox.Code, "work.py"), "import spotjaxdemo\nprint('IMPORTED', spotjaxdemo.VALUE)\n");
        File.WriteAllText(Path.Combine(sandbox.Code, "requirements.txt"), "spotjaxdemo==0.1\n");
        var wheels = Path.Combine(sandbox.Root, "wheels");
        LocalWorkerRunnerPrepareTests.WriteWheel(wheels);
        AgentConfig Job(string name) =>
            Config(sandbox.Code, "work.py", Path.Combine(sandbox.Bucket, name, "markers"), Path.Combine(sandbox.Bucket, name, "worker-0.log"), google.MetadataUrl)
                with { JobId = name, RequirementsCacheUri = "gs://ctl/cache/pip/" };
        var firstHome = Path.Combine(sandbox.Nodes, "first");
        var secondHome = Path.Combine(sandbox.Nodes, "second");

        var first = await LaunchAsync(firstHome, Job("first"), new Dictionary<string, string>(StandInUv.Environment(wheels))
        {
            ["SPOTJAX_STORAGE_BASE"] = google.Root,
        });
        // The agent prepares after launch returned: the wheels are stored before the script starts.
        await WorkerSandbox.WaitForFileAsync(Path.Combine(sandbox.Bucket, "first", "worker-0.log"), text => text.Contains("IMPORTED 42", StringComparison.Ordinal));
        var cached = google.Objects.Keys.Where(k => k.StartsWith("ctl/cache/pip/", StringComparison.Ordinal)).ToList();
        Directory.Delete(wheels, recursive: true);
        // No wheelhouse any more: an install that needs the index fails.
        var second = await LaunchAsync(secondHome, Job("second"), new Dictionary<string, string>(StandInUv.Environment())
        {
            ["SPOTJAX_STORAGE_BASE"] = google.Root,
        });

        Assert.True(first.ExitCode == 0, first.Stderr);
        Assert.True(second.ExitCode == 0, second.Stderr);
        var archive = Assert.Single(cached);
        Assert.Matches("^ctl/cache/pip/[0-9a-f]{64}-py3\\.12-[^/]+\\.tar\\.gz$", archive);
        await WorkerSandbox.WaitForFileAsync(Path.Combine(sandbox.Bucket, "second", "worker-0.log"), text => text.Contains("IMPORTED 42", StringComparison.Ordinal));
        var secondPrepare = await File.ReadAllTextAsync(PrepareLog(Path.Combine(sandbox.Bucket, "second", "worker-0.log")));
        Assert.Contains("pip install -r requirements.txt --offline\n", secondPrepare, StringComparison.Ordinal);
        Assert.DoesNotContain("stored the wheel cache", secondPrepare, StringComparison.Ordinal);
        Assert.Contains("stored the wheel cache in gs://ctl/cache/pip/", await File.ReadAllTextAsync(PrepareLog(Path.Combine(sandbox.Bucket, "first", "worker-0.log"))), StringComparison.Ordinal);
    }

    private static AgentConfig Config(string codeUri, string script, string markersUri, string logUri, string metadataUrl) => new()
    {
        JobId = "job",
        Attempt = 1,
        WorkerId = 0,
        NumWorkers = 1,
        CodeUri = codeUri,
        Script = script,
        Args = [],
        Env = new Dictionary<string, string> { ["SPOT_WORKER_ID"] = "0" },
        MarkersUri = markersUri,
        LogUri = logUri,
        PrepareLogUri = PrepareLog(logUri),
        MetadataUrl = metadataUrl,
    };

    /// <summary>The preparation log beside an output log: <c>worker-0.log</c> -> <c>worker-0.prepare.log</c>.</summary>
    private static string PrepareLog(string logUri) => logUri[..^".log".Length] + ".prepare.log";

    private static async Task<(int ExitCode, string Stderr)> LaunchAsync(string home, AgentConfig config, IReadOnlyDictionary<string, string>? env = null, TimeSpan? patience = null)
    {
        Directory.CreateDirectory(home);
        await File.WriteAllBytesAsync(Path.Combine(home, NodeAgent.FileName), NodeAgent.Source());
        await File.WriteAllBytesAsync(Path.Combine(home, "attempt-1.json"), JsonSerializer.SerializeToUtf8Bytes(config, SpotJaxJson.Options));
        var start = new ProcessStartInfo("python3") { WorkingDirectory = home, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var argument in new[] { NodeAgent.FileName, "launch", "attempt-1.json" })
        {
            start.ArgumentList.Add(argument);
        }

        foreach (var (name, value) in env ?? new Dictionary<string, string>())
        {
            start.Environment[name] = value;
        }

        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(patience ?? WorkerSandbox.Patience);
        await process.WaitForExitAsync(timeout.Token);
        await stdout;
        return (process.ExitCode, await stderr);
    }

    private static byte[] Tarball(IReadOnlyDictionary<string, string> files)
    {
        using var buffer = new MemoryStream();
        using (var gzip = new GZipStream(buffer, CompressionLevel.Fastest, leaveOpen: true))
        using (var tar = new TarWriter(gzip))
        {
            foreach (var (name, content) in files)
            {
                tar.WriteEntry(new PaxTarEntry(TarEntryType.RegularFile, name) { DataStream = new MemoryStream(Encoding.UTF8.GetBytes(content)) });
            }
        }

        return buffer.ToArray();
    }
}
