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
        Assert.True(File.Exists(Path.Combine(home, "attempt-1.pgid")), "launch returned before the script started");
        await WorkerSandbox.WaitForFileAsync(log, text => text.Contains("STARTED LATE", StringComparison.Ordinal));
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

        var first = await LaunchAsync(firstHome, Job("first"), new Dictionary<string, string>
        {
            ["SPOTJAX_STORAGE_BASE"] = google.Root,
            ["SPOTJAX_PIP_ARGS"] = $"--no-index --find-links {wheels}",
        });
        var cached = google.Objects.Keys.Where(k => k.StartsWith("ctl/cache/pip/", StringComparison.Ordinal)).ToList();
        Directory.Delete(wheels, recursive: true);
        var second = await LaunchAsync(secondHome, Job("second"), new Dictionary<string, string>
        {
            ["SPOTJAX_STORAGE_BASE"] = google.Root,
            // Nothing answers there: an install that needs the index fails.
            ["SPOTJAX_PIP_ARGS"] = $"--index-url http://127.0.0.1:9/simple --find-links {wheels}",
        });

        Assert.True(first.ExitCode == 0, first.Stderr);
        Assert.True(second.ExitCode == 0, second.Stderr);
        var archive = Assert.Single(cached);
        Assert.Matches("^ctl/cache/pip/[0-9a-f]{64}-[a-z]+[0-9]+-[^/]+\\.tar\\.gz$", archive);
        await WorkerSandbox.WaitForFileAsync(Path.Combine(sandbox.Bucket, "second", "worker-0.log"), text => text.Contains("IMPORTED 42", StringComparison.Ordinal));
        var secondPrepare = await File.ReadAllTextAsync(Path.Combine(secondHome, "prepare.log"));
        Assert.Contains("--no-index --find-links", secondPrepare, StringComparison.Ordinal);
        Assert.DoesNotContain("pip wheel", secondPrepare, StringComparison.Ordinal);
        Assert.Contains("pip wheel", await File.ReadAllTextAsync(Path.Combine(firstHome, "prepare.log")), StringComparison.Ordinal);
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
        MetadataUrl = metadataUrl,
    };

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
